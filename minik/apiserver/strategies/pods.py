"""Pods: graceful deletion, binding, a status reset on create."""

from __future__ import annotations

from typing import Any

from minik.apiserver.strategy import Strategy

Obj = dict[str, Any]


class PodStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        # Only the server decides status at birth; the defaulter then computes qosClass.
        obj["status"] = {"phase": "Pending"}

    def graceful_delete(self, obj: Obj, grace: int | None) -> int | None:
        spec = obj.get("spec") or {}
        if not spec.get("nodeName"):
            return None  # never scheduled: nothing runs, remove at once
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds")
            if grace is None:
                grace = 30
        if grace <= 0:
            return None
        phase = (obj.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return None  # nothing left to stop
        return int(grace)
