"""Garbage collector: delete objects whose owners are gone, and run cascading deletion.

A graph of every object (uid -> owners, dependents) is kept from informers over all resources
that can own or be owned. Three things put work on the queues:

- an object is deleted (or an owner is found absent): its dependents go to attempt_to_delete,
  which deletes a dependent once none of its owners exists any more (Background);
- an owner is being deleted with the `foregroundDeletion` finalizer: its blocking dependents
  (blockOwnerDeletion) are deleted first, then the finalizer is removed so the owner goes last;
- an owner is being deleted with the `orphan` finalizer (attempt_to_orphan): the reference to it
  is removed from every dependent, then the finalizer.

Owners a dependent names but the graph has never seen become "virtual" nodes, checked with a
live GET: that is how dependents whose owner vanished while the controller-manager was down are
found after a restart. Decisions re-read the object and its owners from the apiserver, never
only from the (possibly stale) caches.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

from minik.api.errors import ConflictError, NotFoundError, StatusError
from minik.api.resources import RESOURCES, Resource, by_kind
from minik.client.informer import Informer
from minik.client.workqueue import RateLimitingQueue
from minik.controllers.informers import InformerFactory

log = logging.getLogger(__name__)

Obj = dict[str, Any]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
# Never owners and far too many: Kubernetes' GC ignores events as well.
IGNORED_RESOURCES = frozenset({"events"})
ABSENT_OWNER_CACHE_SIZE = 500
FINALIZER_RETRIES = 5


class Client(Protocol):
    def get(self, r: Resource, name: str, namespace: str | None = None) -> Obj: ...

    def update(self, r: Resource, obj: Obj, subresource: str | None = None) -> Obj: ...

    def patch(self, r: Resource, name: str, body: Any, namespace: str | None = None, *,
              patch_type: Any = "merge", subresource: str | None = None) -> Obj: ...

    def delete(self, r: Resource, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None,
               preconditions: Any = None) -> Obj: ...


@dataclass(frozen=True)
class Identity:
    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} ({self.uid})"


@dataclass
class GraphNode:
    identity: Identity
    owners: list[Obj] = field(default_factory=list)
    dependents: set[str] = field(default_factory=set)
    being_deleted: bool = False
    deleting_dependents: bool = False
    virtual: bool = False  # named as an owner, not (yet) seen by an informer


def _meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def _identity(obj: Obj, r: Resource) -> Identity:
    m = _meta(obj)
    return Identity(r.api_version, r.kind, str(m.get("namespace") or ""), str(m.get("name") or ""),
                    str(m.get("uid") or ""))


def _owner_refs(obj: Obj) -> list[Obj]:
    return [r for r in _meta(obj).get("ownerReferences") or [] if isinstance(r, dict) and r.get("uid")]


def _finalizers(obj: Obj) -> list[str]:
    return list(_meta(obj).get("finalizers") or [])


def _deleting_with(obj: Obj, finalizer: str) -> bool:
    return bool(_meta(obj).get("deletionTimestamp")) and finalizer in _finalizers(obj)


class _AbsentOwners:
    """Owners known to be gone (LRU): saves a GET per dependent when many share one owner."""

    def __init__(self, size: int = ABSENT_OWNER_CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, namespace: str, uid: str) -> None:
        with self._lock:
            self._items[(namespace, uid)] = None
            self._items.move_to_end((namespace, uid))
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def __contains__(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._items


class GarbageCollector:
    name = "garbagecollector"

    def __init__(self, client: Client, factory: InformerFactory, workers: int = 20,
                 resources: tuple[Resource, ...] = RESOURCES) -> None:
        self.client = client
        self.workers = max(1, workers)
        self.monitors: list[Informer] = []
        self.nodes: dict[str, GraphNode] = {}
        self.lock = threading.RLock()
        self.attempt_to_delete = RateLimitingQueue()
        self.attempt_to_orphan = RateLimitingQueue()
        self.absent_owners = _AbsentOwners()
        self._threads: list[threading.Thread] = []
        for r in resources:
            if r.plural in IGNORED_RESOURCES or "delete" not in r.verbs or "watch" not in r.verbs:
                continue
            inf = factory.informer(r)
            inf.add_event_handler(self._handler(r, "add"), self._update_handler(r), self._handler(r, "delete"))
            self.monitors.append(inf)

    def informers(self) -> list[Informer]:
        return list(self.monitors)

    # --- running --------------------------------------------------------------------------

    def start(self) -> None:
        for i in range(self.workers):
            t = threading.Thread(target=self._delete_worker, name=f"gc-delete-{i}", daemon=True)
            self._threads.append(t)
            t.start()
        t = threading.Thread(target=self._orphan_worker, name="gc-orphan", daemon=True)
        self._threads.append(t)
        t.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.attempt_to_delete.shut_down()
        self.attempt_to_orphan.shut_down()
        for t in self._threads:
            t.join(timeout)

    def _delete_worker(self) -> None:
        while self.process_attempt_to_delete():
            pass

    def _orphan_worker(self) -> None:
        while self.process_attempt_to_orphan():
            pass

    # --- the graph (built from informer events) -------------------------------------------

    def _handler(self, r: Resource, kind: str) -> Any:
        def handle(obj: Obj) -> None:
            if kind == "add":
                self.on_upsert(r, None, obj)
            else:
                self.on_delete(r, obj)
        return handle

    def _update_handler(self, r: Resource) -> Any:
        def handle(old: Obj, new: Obj) -> None:
            self.on_upsert(r, old, new)
        return handle

    def _owner_identity(self, ref: Obj, dependent: Identity) -> Identity:
        r = by_kind(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))
        namespace = dependent.namespace if r is None or r.namespaced else ""
        return Identity(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""), namespace,
                        str(ref.get("name") or ""), str(ref.get("uid")))

    def _add_dependent_locked(self, owner_ref: Obj, node: GraphNode) -> None:
        uid = str(owner_ref["uid"])
        owner = self.nodes.get(uid)
        if owner is None:
            owner = GraphNode(self._owner_identity(owner_ref, node.identity), virtual=True)
            self.nodes[uid] = owner
            self.attempt_to_delete.add(uid)  # does this owner exist at all?
        owner.dependents.add(node.identity.uid)

    def on_upsert(self, r: Resource, old: Obj | None, obj: Obj) -> None:
        ident = _identity(obj, r)
        if not ident.uid:
            return
        refs = _owner_refs(obj)
        with self.lock:
            node = self.nodes.get(ident.uid)
            if node is None:
                node = GraphNode(ident)
                self.nodes[ident.uid] = node
                for ref in refs:
                    self._add_dependent_locked(ref, node)
            else:
                if node.virtual:
                    node.virtual = False
                node.identity = ident
                old_uids = {str(ref["uid"]): ref for ref in node.owners}
                new_uids = {str(ref["uid"]): ref for ref in refs}
                for uid, ref in old_uids.items():
                    changed = uid not in new_uids or bool(ref.get("blockOwnerDeletion")) != bool(
                        new_uids[uid].get("blockOwnerDeletion"))
                    owner = self.nodes.get(uid)
                    if uid not in new_uids and owner is not None:
                        owner.dependents.discard(ident.uid)
                    if changed and owner is not None and owner.deleting_dependents:
                        self.attempt_to_delete.add(uid)  # one blocker fewer: maybe the owner may go now
                for uid, ref in new_uids.items():
                    if uid not in old_uids:
                        self._add_dependent_locked(ref, node)
            node.owners = refs
            node.being_deleted = bool(_meta(obj).get("deletionTimestamp"))
            was_foreground = old is not None and _deleting_with(old, FOREGROUND)
            node.deleting_dependents = _deleting_with(obj, FOREGROUND)
            if _deleting_with(obj, ORPHAN) and not (old is not None and _deleting_with(old, ORPHAN)):
                self.attempt_to_orphan.add(ident.uid)
            if node.deleting_dependents and not was_foreground:
                for dep in node.dependents:
                    self.attempt_to_delete.add(dep)
                self.attempt_to_delete.add(ident.uid)

    def on_delete(self, r: Resource, obj: Obj) -> None:
        ident = _identity(obj, r)
        if ident.uid:
            self._remove_node(ident.uid)

    def _remove_node(self, uid: str) -> None:
        """The object is gone: its dependents may now be garbage, and waiting owners may proceed."""
        with self.lock:
            node = self.nodes.pop(uid, None)
            if node is None:
                return
            if node.dependents:
                self.absent_owners.add(node.identity.namespace, uid)
            for ref in node.owners:
                owner = self.nodes.get(str(ref["uid"]))
                if owner is None:
                    continue
                owner.dependents.discard(uid)
                if owner.deleting_dependents:
                    self.attempt_to_delete.add(str(ref["uid"]))
            for dep in node.dependents:
                self.attempt_to_delete.add(dep)

    # --- attempt to delete ----------------------------------------------------------------

    def process_attempt_to_delete(self, timeout: float | None = None) -> bool:
        uid = self.attempt_to_delete.get(timeout)
        if uid is None:
            return False
        try:
            requeue = self.attempt_to_delete_item(uid)
            self.attempt_to_delete.forget(uid)
            if requeue:
                self.attempt_to_delete.add_rate_limited(uid)
        except Exception as e:
            if isinstance(e, StatusError):
                log.info("gc: processing %s: %s; requeued", uid, e)
            else:
                log.exception("gc: processing %s failed; requeued", uid)
            self.attempt_to_delete.add_rate_limited(uid)
        finally:
            self.attempt_to_delete.done(uid)
        return True

    def _resource(self, ident: Identity) -> Resource | None:
        return by_kind(ident.api_version, ident.kind)

    def _get(self, ident: Identity) -> Obj | None:
        """The live object, or None when it does not exist (with that uid)."""
        r = self._resource(ident)
        if r is None:
            raise NotFoundError(f"no resource for {ident.api_version} {ident.kind}")
        try:
            obj = self.client.get(r, ident.name, ident.namespace or None)
        except NotFoundError:
            return None
        return obj if _meta(obj).get("uid") == ident.uid else None

    def attempt_to_delete_item(self, uid: str) -> bool:
        """Returns True to look at the item again later (a virtual node not yet observed)."""
        with self.lock:
            node = self.nodes.get(uid)
            if node is None:
                return False
            node = copy.copy(node)
        if node.being_deleted and not node.deleting_dependents:
            return False
        if self._resource(node.identity) is None:
            log.info("gc: ignoring %s: kind not served here", node.identity)
            return False
        latest = self._get(node.identity)
        if latest is None:
            log.info("gc: %s is gone; processing its dependents", node.identity)
            self._remove_node(uid)
            return False
        if _deleting_with(latest, FOREGROUND):
            self.process_deleting_dependents_item(node, latest)
            return False
        if _meta(latest).get("deletionTimestamp"):
            return False
        refs = _owner_refs(latest)
        if refs:
            self._decide(node, latest, refs)
        return node.virtual and self._still_virtual(uid)

    def _still_virtual(self, uid: str) -> bool:
        with self.lock:
            n = self.nodes.get(uid)
            return n is not None and n.virtual

    def _decide(self, node: GraphNode, latest: Obj, refs: list[Obj]) -> None:
        solid: list[Obj] = []
        dangling: list[Obj] = []
        waiting: list[Obj] = []
        for ref in refs:
            state = self._owner_state(ref, node.identity)
            {"solid": solid, "dangling": dangling, "waiting": waiting}[state].append(ref)
        ident = node.identity
        r = self._resource(ident)
        assert r is not None
        if solid:
            if not dangling and not waiting:
                return
            # keep the object, drop the references to owners that are gone or going
            gone = [str(ref["uid"]) for ref in (*dangling, *waiting)]
            log.info("gc: removing dangling owner references %s from %s", gone, ident)
            patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": u} for u in gone],
                                  "uid": ident.uid}}
            with contextlib.suppress(NotFoundError):
                self.client.patch(r, ident.name, patch, ident.namespace or None, patch_type="strategic")
            return
        with self.lock:
            has_dependents = bool(self.nodes.get(ident.uid, node).dependents)
        if waiting and has_dependents:
            policy = "Foreground"  # an owner waits for us: our own dependents must go first
        elif ORPHAN in _finalizers(latest):
            policy = "Orphan"
        elif FOREGROUND in _finalizers(latest):
            policy = "Foreground"
        else:
            policy = "Background"
        log.info("gc: deleting %s (propagationPolicy=%s): all owners are gone", ident, policy)
        # NotFound: already gone; Conflict: replaced by a new object with the same name
        with contextlib.suppress(NotFoundError, ConflictError):
            self.client.delete(r, ident.name, ident.namespace or None, propagation_policy=policy,
                               preconditions={"uid": ident.uid})

    def _owner_state(self, ref: Obj, dependent: Identity) -> str:
        """solid (exists), dangling (gone) or waiting (being deleted in the foreground)."""
        owner_ident = self._owner_identity(ref, dependent)
        if (owner_ident.namespace, owner_ident.uid) in self.absent_owners:
            return "dangling"
        r = self._resource(owner_ident)
        if r is None:
            return "solid"  # a kind this cluster does not serve: never guess it is gone
        if r.namespaced and not dependent.namespace:
            return "solid"  # a cluster-scoped object cannot have a namespaced owner: leave it alone
        owner = self._get(owner_ident)
        if owner is None:
            self.absent_owners.add(owner_ident.namespace, owner_ident.uid)
            return "dangling"
        return "waiting" if _deleting_with(owner, FOREGROUND) else "solid"

    def process_deleting_dependents_item(self, node: GraphNode, latest: Obj) -> None:
        """Foreground deletion: delete blocking dependents; once none is left, let the owner go."""
        with self.lock:
            blocking = []
            for dep_uid in self.nodes.get(node.identity.uid, node).dependents:
                dep = self.nodes.get(dep_uid)
                if dep is None:
                    continue
                if any(str(ref.get("uid")) == node.identity.uid and ref.get("blockOwnerDeletion")
                       for ref in dep.owners):
                    blocking.append(dep)
        if not blocking:
            log.info("gc: %s has no blocking dependents left; removing %s", node.identity, FOREGROUND)
            self.remove_finalizer(node.identity, FOREGROUND)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self.attempt_to_delete.add(dep.identity.uid)

    def remove_finalizer(self, ident: Identity, finalizer: str) -> None:
        r = self._resource(ident)
        assert r is not None
        for _ in range(FINALIZER_RETRIES):
            try:
                obj = self.client.get(r, ident.name, ident.namespace or None)
            except NotFoundError:
                return
            if _meta(obj).get("uid") != ident.uid or finalizer not in _finalizers(obj):
                return
            obj["metadata"]["finalizers"] = [f for f in _finalizers(obj) if f != finalizer]
            try:
                self.client.update(r, obj)
                return
            except NotFoundError:
                return
            except ConflictError:
                continue
        raise ConflictError(f"could not remove finalizer {finalizer} from {ident}: too many conflicts")

    # --- attempt to orphan ----------------------------------------------------------------

    def process_attempt_to_orphan(self, timeout: float | None = None) -> bool:
        uid = self.attempt_to_orphan.get(timeout)
        if uid is None:
            return False
        try:
            self.attempt_to_orphan_item(uid)
            self.attempt_to_orphan.forget(uid)
        except Exception as e:
            if isinstance(e, StatusError):
                log.info("gc: orphaning dependents of %s: %s; requeued", uid, e)
            else:
                log.exception("gc: orphaning dependents of %s failed; requeued", uid)
            self.attempt_to_orphan.add_rate_limited(uid)
        finally:
            self.attempt_to_orphan.done(uid)
        return True

    def attempt_to_orphan_item(self, uid: str) -> None:
        with self.lock:
            node = self.nodes.get(uid)
            if node is None:
                return
            ident = node.identity
            dependents = [self.nodes[d].identity for d in node.dependents if d in self.nodes]
        for dep in dependents:
            r = self._resource(dep)
            if r is None:
                continue
            patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid}], "uid": dep.uid}}
            try:
                self.client.patch(r, dep.name, patch, dep.namespace or None, patch_type="strategic")
            except NotFoundError:
                continue
        log.info("gc: orphaned %d dependents of %s; removing the %s finalizer", len(dependents), ident, ORPHAN)
        self.remove_finalizer(ident, ORPHAN)
