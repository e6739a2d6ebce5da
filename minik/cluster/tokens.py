"""The apiserver's static token file (Kubernetes' `--token-auth-file` CSV).

Each line is `token,user,uid,"group1,group2"`. The cluster starts with one admin token in group
`system:masters`, which is what `minik up` writes into the admin kubeconfig.
"""

from __future__ import annotations

import csv
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ADMIN_USER = "system:admin"
ADMIN_UID = "minik-admin"
ADMIN_GROUP = "system:masters"


@dataclass(frozen=True)
class StaticToken:
    """One row of the token file."""

    token: str
    user: str
    uid: str
    groups: tuple[str, ...] = field(default_factory=tuple)


def new_token() -> str:
    """A random bearer token; url-safe so it never contains the CSV's comma or quotes."""
    return secrets.token_urlsafe(32)


def admin_token(token: str | None = None) -> StaticToken:
    return StaticToken(token or new_token(), ADMIN_USER, ADMIN_UID, (ADMIN_GROUP,))


def format_tokens(tokens: Iterable[StaticToken]) -> str:
    """Render rows; the groups column is always quoted because it holds commas."""
    lines = []
    for row in tokens:
        fields = [row.token, row.user, row.uid, *row.groups]
        if any(not value or '"' in value or "\n" in value for value in fields) or any(
            "," in value for value in fields[:3]
        ):
            raise ValueError(f"token row for user {row.user!r} has an empty field, a quote or a comma")
        line = f"{row.token},{row.user},{row.uid}"
        if row.groups:
            line += ',"' + ",".join(row.groups) + '"'
        lines.append(line + "\n")
    return "".join(lines)


def parse_tokens(text: str) -> list[StaticToken]:
    """Read rows back (blank lines and lines starting with # are skipped)."""
    rows: list[StaticToken] = []
    for record in csv.reader(line for line in text.splitlines() if line.strip() and not line.startswith("#")):
        if len(record) < 3:
            continue
        groups = tuple(g for g in record[3].split(",") if g) if len(record) > 3 else ()
        rows.append(StaticToken(record[0], record[1], record[2], groups))
    return rows


def write_token_file(path: Path, tokens: Iterable[StaticToken]) -> None:
    """Write the file owner-readable only: the tokens are credentials."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(format_tokens(tokens))
    tmp.replace(path)


def read_admin_token(path: Path) -> str | None:
    """The admin token in `path`, or None when the file or the row is missing."""
    try:
        rows = parse_tokens(path.read_text())
    except OSError:
        return None
    for row in rows:
        if row.user == ADMIN_USER and ADMIN_GROUP in row.groups:
            return row.token
    return None


def ensure_token_file(path: Path) -> str:
    """Make sure `path` holds an admin token and return it, keeping an existing one across re-runs."""
    existing = read_admin_token(path)
    if existing is not None:
        return existing
    try:
        rows = parse_tokens(path.read_text())
    except OSError:
        rows = []
    admin = admin_token()
    write_token_file(path, [*rows, admin])
    return admin.token


NODES_GROUP = "system:nodes"


def node_token(node: str, token: str | None = None) -> StaticToken:
    """A kubelet credential: user `system:node:<node>` in `system:nodes`, which the node authorizer knows."""
    return StaticToken(token or new_token(), f"system:node:{node}", f"minik-node-{node}", (NODES_GROUP,))


def ensure_node_token(path: Path, node: str) -> str:
    """The node's token from `path`, adding a fresh row the first time (the apiserver re-reads the file)."""
    user = f"system:node:{node}"
    try:
        rows = parse_tokens(path.read_text())
    except OSError:
        rows = []
    for row in rows:
        if row.user == user:
            return row.token
    row = node_token(node)
    write_token_file(path, [*rows, row])
    return row.token
