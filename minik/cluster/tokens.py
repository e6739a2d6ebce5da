"""The apiserver's static token file (Kubernetes' `--token-auth-file` CSV).

Each line is `token,user,uid,"group1,group2"`. The cluster starts with one admin token in group
`system:masters`, which is what `minik up` writes into the admin kubeconfig, and one row per node.

Bootstrap tokens (`minik token create`, `minik join`) are rows too, in kubeadm's format
`<id>.<secret>` for user `system:bootstrap:<id>` in group `system:bootstrappers`. The token file has
no column for an expiry, so each one's expiration lives in `bootstrap-tokens.json` next to it (what
kubeadm keeps in the Secret `bootstrap-token-<id>`); the apiserver refuses a bootstrap token that has
no entry there or whose time is up. Every writer (minik up, minik token, the apiserver issuing node
credentials) takes the same lock, so concurrent joins cannot lose each other's rows.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import fcntl
import json
import os
import re
import secrets
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    with locked(path):
        rows = _read_rows(path)
        for row in rows:
            if row.user == user:
                return row.token
        row = node_token(node)
        write_token_file(path, [*rows, row])
    return row.token


def _read_rows(path: Path) -> list[StaticToken]:
    try:
        return parse_tokens(path.read_text())
    except FileNotFoundError:
        return []


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialize read-modify-write of the token file among processes (a lock file beside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class CredentialExistsError(Exception):
    """The node already has a credential; only an admin may re-issue it."""


def issue_node_token(path: Path, node: str, rotate: bool = False) -> str:
    """A new credential for `node`, appended to the token file; the apiserver's node-token endpoint.

    A node that already has a row keeps it (CredentialExistsError) unless `rotate`: then its token is
    replaced, so the old one stops working at once.
    """
    user = f"system:node:{node}"
    with locked(path):
        rows = _read_rows(path)
        if any(row.user == user for row in rows) and not rotate:
            raise CredentialExistsError(node)
        row = node_token(node)
        write_token_file(path, [r for r in rows if r.user != user] + [row])
    return row.token


# --- bootstrap tokens (kubeadm's format) --------------------------------------------------------------

BOOTSTRAP_USER_PREFIX = "system:bootstrap:"
BOOTSTRAPPERS_GROUP = "system:bootstrappers"
BOOTSTRAP_TOKEN_PATTERN = r"^([a-z0-9]{6})\.([a-z0-9]{16})$"
BOOTSTRAP_FILE = "bootstrap-tokens.json"
DEFAULT_TTL = datetime.timedelta(hours=24)
_TOKEN_CHARS = string.ascii_lowercase + string.digits
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")


@dataclass(frozen=True)
class BootstrapToken:
    """One bootstrap token: `<id>.<secret>`, valid until `expiration` (None: never expires)."""

    id: str
    secret: str
    expiration: datetime.datetime | None = None
    description: str = ""

    @property
    def token(self) -> str:
        return f"{self.id}.{self.secret}"

    @property
    def user(self) -> str:
        return f"{BOOTSTRAP_USER_PREFIX}{self.id}"

    def row(self) -> StaticToken:
        return StaticToken(self.token, self.user, f"minik-bootstrap-{self.id}", (BOOTSTRAPPERS_GROUP,))

    def expired(self, now: datetime.datetime | None = None) -> bool:
        return self.expiration is not None and self.expiration <= (now or _now())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _random(length: int) -> str:
    return "".join(secrets.choice(_TOKEN_CHARS) for _ in range(length))


def parse_bootstrap_token(text: str) -> tuple[str, str]:
    """(id, secret) of `<id>.<secret>`; ValueError worded like kubeadm's otherwise."""
    match = re.match(BOOTSTRAP_TOKEN_PATTERN, text)
    if match is None:
        raise ValueError(f'the bootstrap token "{text}" was not of the form "{BOOTSTRAP_TOKEN_PATTERN}"')
    return match.group(1), match.group(2)


def parse_ttl(text: str) -> datetime.timedelta | None:
    """A Go-style duration (`24h`, `1h30m`, `90s`); `0` means the token never expires (None)."""
    if text.strip() in ("0", "0s"):
        return None
    if not text or _DURATION_PART.sub("", text) != "":
        raise ValueError(f'invalid duration "{text}": use hours, minutes, seconds like 24h, 1h30m or 0 (never)')
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    seconds = sum(float(n) * units[u] for n, u in _DURATION_PART.findall(text))
    if seconds <= 0:
        return None
    return datetime.timedelta(seconds=seconds)


def bootstrap_file(token_file: Path) -> Path:
    """Where the expirations of `token_file`'s bootstrap tokens are kept."""
    return token_file.with_name(BOOTSTRAP_FILE)


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_bootstrap_entries(path: Path) -> dict[str, dict[str, Any]]:
    """id -> {"expiration": RFC 3339 or null, "description": ...}; empty when the file is missing."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of token id -> entry")
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def entry_expiration(entry: dict[str, Any]) -> datetime.datetime | None:
    """The entry's expiration; an unreadable one counts as already expired (fail closed)."""
    value = entry.get("expiration")
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.datetime.min.replace(tzinfo=datetime.UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _write_entries(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(entries, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def list_bootstrap_tokens(token_file: Path) -> list[BootstrapToken]:
    """The bootstrap rows of the token file with their recorded expirations (expired ones included)."""
    entries = read_bootstrap_entries(bootstrap_file(token_file))
    tokens = []
    for row in _read_rows(token_file):
        if not row.user.startswith(BOOTSTRAP_USER_PREFIX):
            continue
        try:
            token_id, secret = parse_bootstrap_token(row.token)
        except ValueError:
            continue
        entry = entries.get(token_id)
        expiration = entry_expiration(entry) if entry is not None else _now()
        tokens.append(BootstrapToken(token_id, secret, expiration, str((entry or {}).get("description", ""))))
    return tokens


def create_bootstrap_token(
    token_file: Path, ttl: datetime.timedelta | None = DEFAULT_TTL, description: str = ""
) -> BootstrapToken:
    """A fresh token, recorded (expiration first, then the row); expired bootstrap tokens are dropped."""
    now = _now()
    with locked(token_file):
        existing = {t.id: t for t in list_bootstrap_tokens(token_file)}
        token_id = _random(6)
        while token_id in existing:
            token_id = _random(6)
        token = BootstrapToken(token_id, _random(16), now + ttl if ttl else None, description)
        stale = {t.id for t in existing.values() if t.expired(now)}
        side = bootstrap_file(token_file)
        entries = {k: v for k, v in read_bootstrap_entries(side).items() if k not in stale}
        entries[token.id] = {
            "expiration": format_time(token.expiration) if token.expiration else None,
            "description": description,
        }
        _write_entries(side, entries)
        rows = [r for r in _read_rows(token_file) if r.user not in {f"{BOOTSTRAP_USER_PREFIX}{i}" for i in stale}]
        write_token_file(token_file, [*rows, token.row()])
    return token


def delete_bootstrap_token(token_file: Path, token_id: str) -> bool:
    """Forget a bootstrap token (row first, so it stops working at once); True if it existed."""
    user = f"{BOOTSTRAP_USER_PREFIX}{token_id}"
    with locked(token_file):
        rows = _read_rows(token_file)
        kept = [r for r in rows if r.user != user]
        if len(kept) != len(rows):
            write_token_file(token_file, kept)
        side = bootstrap_file(token_file)
        entries = read_bootstrap_entries(side)
        if entries.pop(token_id, None) is not None:
            _write_entries(side, entries)
    return len(kept) != len(rows)
