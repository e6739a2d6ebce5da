"""Per-kind behaviour hooks for the generic registry, in the spirit of kube-apiserver's RESTStrategy.

The registry owns the verbs; a strategy says what a verb means for its kind: what is reset on
create, what the main resource and the status subresource may change, what is allocated or
released, and whether deletion is graceful.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from minik.api.resources import Resource

if TYPE_CHECKING:
    from minik.apiserver.registry import Registry

Obj = dict[str, Any]


class Strategy:
    has_status = True
    # Kinds whose create picks values (service IPs and ports) that a retry must pick again.
    fills = False
    # Kinds whose spec changes bump metadata.generation.
    tracks_generation = True

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.registry: Registry | None = None

    def prepare_for_create(self, obj: Obj) -> None:
        """Reset what a client may not set on create."""
        if self.has_status and self.resource.group == "apps":
            obj.pop("status", None)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """Main resource: status is owned by the status subresource."""
        if self.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        """Status subresource: everything but status (and labels/annotations kept) comes from old."""
        status = new.get("status")
        keep_meta = new.get("metadata", {})
        new.clear()
        new.update(copy.deepcopy(old))
        if status is None:
            new.pop("status", None)
        else:
            new["status"] = status
        # kube-apiserver lets status writers touch labels/annotations? No: it resets metadata
        # except for the fields managed by the server; keep old metadata wholesale.
        del keep_meta

    def prepare_finalize(self, new: Obj, old: Obj) -> None:
        """Only namespaces have a finalize subresource."""
        from minik.api import errors

        raise errors.NotFoundError("the server could not find the requested resource")

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        return self.tracks_generation and new.get("spec") != old.get("spec")

    async def allocate(self, obj: Obj, old: Obj | None) -> tuple[list[str], list[str]]:
        """Claim keys to create and release with the write (service IPs and ports)."""
        return [], []

    def claims_of(self, obj: Obj) -> list[str]:
        """Claim keys an existing object holds, released when it is deleted."""
        return []

    def graceful_delete(self, obj: Obj, grace: int | None) -> int | None:
        """Grace period to wait before removal, or None to remove at once."""
        return None

    def on_deleted(self, obj: Obj) -> None:
        """Hook after an object left storage (no I/O)."""

    def mark_deleting(self, obj: Obj) -> None:
        """Hook when deletion starts but the object must stay (grace period, finalizers)."""

    async def fill(self, obj: Obj) -> list[str]:
        """Pick server-chosen values (service IPs/ports) before a create; returns their claim keys."""
        return []
