"""Namespaces: deletion marks them Terminating until their contents are gone."""

from __future__ import annotations

from typing import Any

from minik.apiserver.strategy import Strategy

Obj = dict[str, Any]


class NamespaceStrategy(Strategy):
    tracks_generation = False

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Active"}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        # spec.finalizers only change through the finalize subresource
        if "spec" in old:
            new["spec"] = old["spec"]

    def prepare_finalize(self, new: Obj, old: Obj) -> None:
        finalizers = (new.get("spec") or {}).get("finalizers")
        new.clear()
        new.update(old)
        new["spec"] = {**(old.get("spec") or {}), "finalizers": finalizers or []}

    def mark_deleting(self, obj: Obj) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"


class StatuslessStrategy(Strategy):
    """Endpoints, events, leases: no status subresource, no generation."""

    has_status = False
    tracks_generation = False
