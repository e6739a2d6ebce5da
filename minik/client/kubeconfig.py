"""kubeconfig files: read the one kubectl reads, and merge clusters into it the way kind does.

Paths inside the file (certificate-authority, tokenFile, client-certificate, client-key) are
relative to the file's own directory, like client-go resolves them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_NAMESPACE = "default"


class ConfigError(Exception):
    """A kubeconfig problem, worded like kubectl (minictl prints it after `error: `)."""


@dataclass
class ClusterConfig:
    """Everything a client needs to reach one cluster as one user (a resolved context)."""

    server: str
    token: str | None = None
    ca_data: bytes | None = None
    insecure_skip_tls_verify: bool = False
    namespace: str = DEFAULT_NAMESPACE
    context: str = ""
    client_cert: bytes | None = None
    client_key: bytes | None = None


def default_path() -> Path:
    """The first $KUBECONFIG entry, else ~/.kube/config (kubectl's order)."""
    env = os.environ.get("KUBECONFIG", "")
    for entry in env.split(os.pathsep):
        if entry:
            return Path(entry).expanduser()
    return Path.home() / ".kube" / "config"


def _empty() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [], "users": [], "contexts": [], "current-context": ""}


def read_raw(path: Path | str) -> dict[str, Any]:
    """The file as a dict; an empty Config when the file does not exist yet."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        return _empty()
    except OSError as e:
        raise ConfigError(f"unable to read kubeconfig {p}: {e.strerror or e}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"error loading config file \"{p}\": {e}") from e
    if data is None:
        return _empty()
    if not isinstance(data, dict):
        raise ConfigError(f"error loading config file \"{p}\": not a kubeconfig (expected a mapping)")
    for section in ("clusters", "users", "contexts"):
        if data.get(section) is None:
            data[section] = []
        elif not isinstance(data[section], list):
            raise ConfigError(f"error loading config file \"{p}\": {section} must be a list")
    return data


def write_raw(path: Path | str, cfg: dict[str, Any]) -> None:
    """Write atomically with mode 0600: the file holds credentials, and a crash must not truncate it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.minik-", dir=p.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(cfg, f, default_flow_style=False, sort_keys=False)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialize read-modify-write among minik processes (lock the directory: leaves no lock file)."""
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _named(entries: list[Any], name: str) -> dict[str, Any] | None:
    for e in entries:
        if isinstance(e, dict) and e.get("name") == name:
            return e
    return None


def _upsert(entries: list[Any], entry: dict[str, Any]) -> None:
    """Replace the entry with the same name in place (keeping file order), else append."""
    for i, e in enumerate(entries):
        if isinstance(e, dict) and e.get("name") == entry["name"]:
            entries[i] = entry
            return
    entries.append(entry)


def _drop(entries: list[Any], name: str) -> list[Any]:
    return [e for e in entries if not (isinstance(e, dict) and e.get("name") == name)]


def merge_context(path: Path | str, name: str, server: str, token: str | None,
                  ca_data: bytes | None, namespace: str | None = None,
                  set_current: bool = True) -> None:
    """Add or replace cluster, user and context all called `name`, keeping everything else."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with _locked(p):
        cfg = read_raw(p)
        cluster: dict[str, Any] = {"server": server}
        if ca_data:
            cluster["certificate-authority-data"] = base64.b64encode(ca_data).decode()
        user: dict[str, Any] = {"token": token} if token else {}
        context: dict[str, Any] = {"cluster": name, "user": name}
        if namespace:
            context["namespace"] = namespace
        _upsert(cfg["clusters"], {"name": name, "cluster": cluster})
        _upsert(cfg["users"], {"name": name, "user": user})
        _upsert(cfg["contexts"], {"name": name, "context": context})
        if set_current:
            cfg["current-context"] = name
        write_raw(p, cfg)


def remove_context(path: Path | str, name: str) -> None:
    """Remove cluster, user and context `name` (what merge_context added); a no-op when absent."""
    p = Path(path)
    if not p.exists():
        return
    with _locked(p):
        cfg = read_raw(p)
        before = (len(cfg["clusters"]), len(cfg["users"]), len(cfg["contexts"]))
        for section in ("clusters", "users", "contexts"):
            cfg[section] = _drop(cfg[section], name)
        changed = before != (len(cfg["clusters"]), len(cfg["users"]), len(cfg["contexts"]))
        if cfg.get("current-context") == name:
            cfg["current-context"] = ""
            changed = True
        if changed:
            write_raw(p, cfg)


def _no_context(name: str) -> ConfigError:
    return ConfigError(f'no context exists with the name: "{name}"')


def set_current_context(path: Path | str, name: str) -> None:
    p = Path(path)
    if not p.exists():
        raise _no_context(name)
    with _locked(p):
        cfg = read_raw(p)
        if _named(cfg["contexts"], name) is None:
            raise _no_context(name)
        cfg["current-context"] = name
        write_raw(p, cfg)


def set_context_namespace(path: Path | str, context: str, namespace: str) -> None:
    """`kubectl config set-context --current --namespace=x`: the default namespace of a context."""
    p = Path(path)
    if not p.exists():
        raise _no_context(context)
    with _locked(p):
        cfg = read_raw(p)
        entry = _named(cfg["contexts"], context)
        if entry is None:
            raise _no_context(context)
        body = entry.get("context")
        if not isinstance(body, dict):
            body = entry["context"] = {}
        if namespace:
            body["namespace"] = namespace
        else:
            body.pop("namespace", None)
        write_raw(p, cfg)


def _section(entry: dict[str, Any], key: str) -> dict[str, Any]:
    body = entry.get(key)
    return body if isinstance(body, dict) else {}


def _b64(value: Any, what: str, owner: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ConfigError(f"invalid configuration: {what} of {owner} is not valid base64: {e}") from e


def _read_file(base: Path, name: Any, what: str, owner: str) -> bytes:
    p = Path(str(name)).expanduser()
    if not p.is_absolute():
        p = base / p
    try:
        return p.read_bytes()
    except OSError as e:
        raise ConfigError(f"unable to read {what} {p} for {owner} due to "
                          f"open {p}: {(e.strerror or str(e)).lower()}") from e


def _data_or_file(body: dict[str, Any], key: str, base: Path, owner: str) -> bytes | None:
    """`<key>-data` (base64) wins over `<key>` (a path), as in client-go."""
    if body.get(f"{key}-data"):
        return _b64(body[f"{key}-data"], f"{key}-data", owner)
    if body.get(key):
        return _read_file(base, body[key], key, owner)
    return None


def load(path: Path | None = None, context: str | None = None) -> ClusterConfig:
    """Resolve one context (the current one by default) into a ClusterConfig."""
    p = Path(path) if path is not None else default_path()
    if not p.exists():
        raise ConfigError(
            f"invalid configuration: no configuration has been provided: {p} does not exist "
            '(start a cluster with "minik up" or set KUBECONFIG)')
    cfg = read_raw(p)
    base = p.parent
    name = context or str(cfg.get("current-context") or "")
    if not name:
        raise ConfigError(f"invalid configuration: current-context is not set in {p} "
                          '(choose one with "minictl config use-context NAME")')
    ctx_entry = _named(cfg["contexts"], name)
    if ctx_entry is None:
        raise _no_context(name)
    ctx = _section(ctx_entry, "context")

    cluster_name = str(ctx.get("cluster") or "")
    cluster_entry = _named(cfg["clusters"], cluster_name) if cluster_name else None
    if cluster_entry is None:
        raise ConfigError(f'invalid configuration: cluster "{cluster_name}" of context "{name}" '
                          f"not found in {p}")
    cluster = _section(cluster_entry, "cluster")
    server = str(cluster.get("server") or "").rstrip("/")
    if not server:
        raise ConfigError(f'invalid configuration: cluster "{cluster_name}" has no server defined')

    user_name = str(ctx.get("user") or "")
    user: dict[str, Any] = {}
    if user_name:
        user_entry = _named(cfg["users"], user_name)
        if user_entry is None:
            raise ConfigError(f'invalid configuration: user "{user_name}" was not found '
                              f'for context "{name}"')
        user = _section(user_entry, "user")

    owner = f'user "{user_name}"'
    token: str | None = str(user["token"]) if user.get("token") else None
    if user.get("tokenFile"):
        # client-go: the file's content takes precedence over an inline token.
        token = _read_file(base, user["tokenFile"], "tokenFile", owner).decode().strip() or token

    return ClusterConfig(
        server=server,
        token=token,
        ca_data=_data_or_file(cluster, "certificate-authority", base, f'cluster "{cluster_name}"'),
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify", False)),
        namespace=str(ctx.get("namespace") or DEFAULT_NAMESPACE),
        context=name,
        client_cert=_data_or_file(user, "client-certificate", base, owner),
        client_key=_data_or_file(user, "client-key", base, owner),
    )
