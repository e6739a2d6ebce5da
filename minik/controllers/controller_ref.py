"""ControllerRef ownership: who manages an object, and adopting or releasing objects by selector.

Only the owner reference with `controller: true` counts, and the apiserver allows one per
object, so two controllers with overlapping selectors never manage the same pod: the first to
adopt an orphan wins and the other ignores it from then on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from minik.api.errors import NotFoundError, StatusError
from minik.api.labels import Selector
from minik.api.resources import Resource

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class PatchClient(Protocol):
    def patch(self, r: Resource, name: str, body: Any, namespace: str | None = None, *,
              patch_type: Any = "merge", subresource: str | None = None) -> Obj: ...


def get_controller_of(obj: Obj) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def new_controller_ref(owner: Obj, api_version: str, kind: str) -> Obj:
    m = owner.get("metadata") or {}
    return {"apiVersion": api_version, "kind": kind, "name": m.get("name"), "uid": m.get("uid"),
            "controller": True, "blockOwnerDeletion": True}


def adopt_patch(owner_ref: Obj, uid: str) -> Obj:
    """Strategic merge patch adding owner_ref (ownerReferences merge by uid)."""
    return {"metadata": {"ownerReferences": [owner_ref], "uid": uid}}


def release_patch(owner_uid: str, uid: str) -> Obj:
    """Strategic merge patch deleting the reference to owner_uid."""
    return {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}], "uid": uid}}


class ControllerRefManager:
    """Claims objects for one controller: keeps its own, adopts matching orphans, releases strays.

    `can_adopt` is checked once, before the first adoption: it re-reads the controller from the
    apiserver so a controller deleted a moment ago (stale cache) never adopts anything.
    """

    def __init__(self, client: PatchClient, controller: Obj, selector: Selector, api_version: str,
                 kind: str, can_adopt: Callable[[], None]) -> None:
        self.client = client
        self.controller = controller
        self.selector = selector
        self.api_version = api_version
        self.kind = kind
        self._can_adopt = can_adopt
        self._adopt_checked: Exception | None | bool = False
        m = controller.get("metadata") or {}
        self.uid = str(m.get("uid") or "")
        self.namespace = m.get("namespace")
        self.deleting = bool(m.get("deletionTimestamp"))

    def _check_can_adopt(self) -> None:
        if self._adopt_checked is False:
            try:
                self._can_adopt()
                self._adopt_checked = None
            except Exception as e:
                self._adopt_checked = e
        if isinstance(self._adopt_checked, Exception):
            raise self._adopt_checked

    def claim(self, objs: list[Obj], resource: Resource,
              match: Callable[[Obj], bool] | None = None) -> list[Obj]:
        """The objects this controller owns after adopting/releasing; raises the first write error
        after processing all objects (so one failure does not hide the others)."""
        claimed: list[Obj] = []
        errors: list[Exception] = []

        def matches(obj: Obj) -> bool:
            labels = (obj.get("metadata") or {}).get("labels") or {}
            return self.selector.matches(labels) and (match is None or match(obj))

        for obj in objs:
            try:
                if self._claim_one(obj, resource, matches):
                    claimed.append(obj)
            except Exception as e:
                errors.append(e)
        if errors:
            raise errors[0]
        return claimed

    def _claim_one(self, obj: Obj, resource: Resource, matches: Callable[[Obj], bool]) -> bool:
        m = obj.get("metadata") or {}
        ref = get_controller_of(obj)
        if ref is not None:
            if ref.get("uid") != self.uid:
                return False  # someone else's
            if matches(obj):
                return True
            if self.deleting:
                return False
            self._release(obj, resource)
            return False
        # an orphan
        if self.deleting or not matches(obj) or m.get("deletionTimestamp"):
            return False
        if self.namespace and m.get("namespace") != self.namespace:
            return False
        self._check_can_adopt()
        ref = new_controller_ref(self.controller, self.api_version, self.kind)
        try:
            self.client.patch(resource, str(m.get("name")), adopt_patch(ref, str(m.get("uid"))),
                              m.get("namespace"), patch_type="strategic")
        except NotFoundError:
            return False
        log.info("%s %s/%s adopted %s %s", self.kind, self.namespace, self.controller["metadata"].get("name"),
                 resource.singular, m.get("name"))
        return True

    def _release(self, obj: Obj, resource: Resource) -> None:
        m = obj.get("metadata") or {}
        try:
            self.client.patch(resource, str(m.get("name")), release_patch(self.uid, str(m.get("uid"))),
                              m.get("namespace"), patch_type="strategic")
        except NotFoundError:
            return
        except StatusError as e:
            if e.code == 422:
                return  # already released (the reference is gone): nothing left to do
            raise
        log.info("%s %s/%s released %s %s", self.kind, self.namespace, self.controller["metadata"].get("name"),
                 resource.singular, m.get("name"))


def recheck_deletion_timestamp(get_fresh: Callable[[], Obj], uid: str) -> Callable[[], None]:
    """RecheckDeletionTimestamp: a can_adopt that fails when the live object is gone or deleting."""

    def check() -> None:
        fresh = get_fresh()
        m = fresh.get("metadata") or {}
        if m.get("uid") != uid:
            raise NotFoundError(f"original {m.get('namespace')}/{m.get('name')} is gone: got uid "
                                f"{m.get('uid')}, wanted {uid}")
        if m.get("deletionTimestamp"):
            raise NotFoundError(f"{m.get('namespace')}/{m.get('name')} has just been deleted at "
                                f"{m['deletionTimestamp']}")

    return check
