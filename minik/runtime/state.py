"""On-disk records of the runtime: written atomically, read defensively.

The disk is the runtime's only memory (a restarted runtime re-adopts everything from it), so a
half-written or corrupt file must never crash it: readers log, skip and carry on.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
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


def write_json(path: Path, data: Any) -> None:
    """Write-then-rename so a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
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
    """A 64-hex id like containerd's, so crictl-style prefixes work."""
    return secrets.token_hex(32)


def now_ns() -> int:
    return time.time_ns()


def rfc3339_nano(ns: int | None = None) -> str:
    """RFC 3339 with nanoseconds (the CRI log timestamp), e.g. 2024-01-02T03:04:05.123456789Z."""
    ns = time.time_ns() if ns is None else ns
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"
