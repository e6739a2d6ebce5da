"""On-disk records of the runtime: written atomically, read defensively.

The disk is the runtime's only memory (a restarted runtime re-adopts everything from it), so a
half-written or corrupt file must never crash it: readers log, skip and carry on.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("minik.runtime")

DEFAULT_ROOT = Path("/var/lib/minik/runtime")


class CRIError(Exception):
    """A request the runtime refuses or cannot do; the message is for the user."""


class NotFoundError(CRIError):
    """The named sandbox, container or image does not exist."""


def write_json(path: Path, data: Any, durable: bool = True) -> None:
    """Write-then-rename so a crash leaves the old file or the new one, never half of one.

    `durable=False` skips the fsync: for state about live processes (a container's status.json),
    which a machine crash makes moot anyway, on the path of every container start and exit.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps(data, indent=1, sort_keys=True))
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The object in `path`, or None (missing, unreadable or corrupt files are reported and skipped)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        log.warning("cannot read %s: %s", path, error)
        return None
    try:
        data = json.loads(raw)
    except ValueError as error:
        log.warning("corrupt state file %s skipped: %s", path, error)
        return None
    if not isinstance(data, dict):
        log.warning("corrupt state file %s skipped: not a JSON object", path)
        return None
    return data


def new_id() -> str:
    """A 64-hex id like containerd's, so crictl-style prefixes work (os.urandom, as `secrets` uses:
    importing `secrets` would pull hashlib and random into every helper the zygote forks)."""
    return os.urandom(32).hex()


def now_ns() -> int:
    return time.time_ns()


def rfc3339_nano(ns: int | None = None) -> str:
    """RFC 3339 with nanoseconds (the CRI log timestamp), e.g. 2024-01-02T03:04:05.123456789Z."""
    ns = time.time_ns() if ns is None else ns
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"


class RecordStore:
    """A directory of `<root>/<id>/<file>` JSON records (sandboxes, containers), read defensively:
    a missing or corrupt record is skipped with a warning, never fatal."""

    kind = "record"  # what error messages call one
    file = "record.json"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def dir(self, record_id: str) -> Path:
        return self.root / record_id

    def record(self, record_id: str) -> dict[str, Any] | None:
        if not record_id or "/" in record_id or record_id.startswith("."):
            return None
        data = read_json(self.dir(record_id) / self.file)
        if data is None or not isinstance(data.get("id"), str):
            return None
        return data

    def resolve(self, record_id: str) -> str:
        """Full id from a unique prefix (crictl habit), or NotFoundError."""
        if self.record(record_id):
            return record_id
        matches = [p.name for p in self.root.iterdir() if p.name.startswith(record_id)] if record_id else []
        if len(matches) == 1 and self.record(matches[0]):
            return matches[0]
        raise NotFoundError(f"{self.kind} {record_id!r} not found")

    def get(self, record_id: str) -> dict[str, Any]:
        record = self.record(record_id)  # a full id, the usual case: one read
        if record is None:
            record = self.record(self.resolve(record_id))
        if record is None:
            raise NotFoundError(f"{self.kind} {record_id!r} not found")
        return record

    def all(self) -> list[dict[str, Any]]:
        records = []
        for entry in sorted(self.root.iterdir()):
            if entry.is_dir() and not entry.name.startswith("."):
                record = self.record(entry.name)
                if record is None:
                    # no file yet is a record being created (its first write comes a moment later): not
                    # worth a warning on every list; a corrupt one was reported by read_json
                    level = logging.WARNING if (entry / self.file).exists() else logging.DEBUG
                    log.log(level, "%s dir %s has no valid %s; skipped", self.kind, entry, self.file)
                    continue
                records.append(record)
        return records
