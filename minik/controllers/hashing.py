"""ComputeHash: the short, label-safe template hash behind `pod-template-hash` and
`controller-revision-hash`.

Kubernetes hashes the Go struct (FNV-32a over a deep print) and encodes the decimal value with
an alphabet without vowels, so the result never spells words and is a valid label value. We hash
the canonical JSON of the template instead: equal templates give equal hashes, which is all the
controllers rely on.
"""

from __future__ import annotations

import json
from typing import Any

_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode_string(s: str) -> str:
    """rand.SafeEncodeString: map each byte onto the vowel-free alphabet."""
    return "".join(_ALPHANUMS[b % len(_ALPHANUMS)] for b in s.encode())


def compute_hash(template: Any, collision_count: int | None = None) -> str:
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += int(collision_count & 0xFFFFFFFF).to_bytes(4, "little")
    return safe_encode_string(str(fnv32a(data)))
