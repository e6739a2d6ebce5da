"""Wire timestamps (RFC 3339, whole seconds like metav1.Time) and the wall clock controllers use."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any


def now_rfc3339(at: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if at is None else at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: Any) -> float | None:
    """Seconds since the epoch, or None when missing or unparsable (Go's zero time)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
