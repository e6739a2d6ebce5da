"""One shared informer per resource for all controllers (client-go's SharedInformerFactory).

Each resource is listed and watched once however many controllers read it; controllers add
handlers and indexes to the shared informer instead of opening their own watches.
"""

from __future__ import annotations

import threading
from typing import Any

from minik.api.resources import Resource, lookup
from minik.client.informer import IndexFunc, Informer, ListerWatcher, wait_for_cache_sync

Obj = dict[str, Any]

# Index names shared by the controllers.
CONTROLLER_UID_INDEX = "controller-uid"
NODE_NAME_INDEX = "spec.nodeName"


def controller_uid_index(obj: Obj) -> list[str]:
    """The UID of the object's managing controller (its ownerReference with controller=true)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") and ref.get("uid"):
            return [str(ref["uid"])]
    return []


def node_name_index(obj: Obj) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [str(node)] if node else []


def resource(name: str) -> Resource:
    r = lookup(name)
    if r is None:
        raise KeyError(f"unknown resource {name!r}")
    return r


class InformerFactory:
    """Hands out the one informer per resource and starts them together."""

    def __init__(self, client: ListerWatcher, resync_period: float | None = None) -> None:
        self.client = client
        self.resync_period = resync_period
        self._informers: dict[str, Informer] = {}
        self._indexes: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def informer(self, name: str | Resource) -> Informer:
        r = name if isinstance(name, Resource) else resource(name)
        with self._lock:
            inf = self._informers.get(r.plural)
            if inf is None:
                inf = Informer(self.client, r, resync_period=self.resync_period)
                self._informers[r.plural] = inf
            return inf

    def add_index(self, name: str | Resource, index: str, fn: IndexFunc) -> Informer:
        """Register an index once, however many controllers ask for it."""
        inf = self.informer(name)
        with self._lock:
            done = self._indexes.setdefault(inf.resource.plural, set())
            if index not in done:
                inf.store.add_indexer(index, fn)
                done.add(index)
        return inf

    def informers(self) -> list[Informer]:
        with self._lock:
            return list(self._informers.values())

    def start(self) -> None:
        for inf in self.informers():
            inf.start()

    def wait_for_cache_sync(self, timeout: float) -> bool:
        return wait_for_cache_sync(self.informers(), timeout)

    def stop(self) -> None:
        for inf in self.informers():
            inf.stop()
