"""CNI errors: the well-known codes of the spec and the JSON error a plugin prints on failure."""

from __future__ import annotations

from typing import Any

INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENVIRONMENT = 4
IO_FAILURE = 5
DECODING_FAILURE = 6
INVALID_NETWORK_CONFIG = 7
TRY_AGAIN_LATER = 11
PLUGIN_NOT_AVAILABLE = 50
# Plugin-specific codes start at 100.
IPAM_EXHAUSTED = 100
INTERFACE_FAILURE = 101
CHECK_FAILED = 102


class CNIError(Exception):
    """A failure the runtime must see as a CNI error result (code, msg, details)."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details

    def to_json(self, cni_version: str) -> dict[str, Any]:
        result: dict[str, Any] = {"cniVersion": cni_version, "code": self.code, "msg": self.msg}
        if self.details:
            result["details"] = self.details
        return result

    def __str__(self) -> str:
        return f"{self.msg}: {self.details}" if self.details else self.msg
