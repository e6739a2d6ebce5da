"""A shared-informer in the spirit of client-go: list+watch into a local cache, then call handlers.

Controllers read the cache instead of the apiserver and react to handler calls by enqueueing keys.
The reflector loop: list (paginated) -> replace the cache, emitting add/update/delete against what
was cached before -> watch from the list's resourceVersion -> on a normal end re-watch from the last
seen resourceVersion; on 410 Gone, a dropped stream or any error relist (with back-off on errors).
Handlers run on the informer thread, in event order, one at a time; they must be quick.
"""

from __future__ import annotations

import builtins
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from minik.api.errors import GoneError
from minik.api.resources import Resource
from minik.client.rest import WatchEvent

log = logging.getLogger(__name__)

Obj = dict[str, Any]
ObjList = list[dict[str, Any]]
IndexFunc = Callable[[Obj], list[str]]
NAMESPACE_INDEX = "namespace"

BACKOFF_INITIAL = 0.2
BACKOFF_MAX = 5.0
# Like client-go: ask the server to end each watch after 5-10 minutes, so a silently dead
# connection is noticed and load spreads out.
WATCH_TIMEOUT_MIN = 300


def meta_namespace_key(obj: Obj) -> str:
    """"namespace/name", or "name" for cluster-scoped objects: the work-queue key."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise ValueError("object has no metadata.name")
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else str(meta["name"])


def split_key(key: str) -> tuple[str, str]:
    """(namespace, name); namespace is "" for cluster-scoped keys."""
    parts = key.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ValueError(f"unexpected key format: {key!r}")


def namespace_index(obj: Obj) -> list[str]:
    ns = (obj.get("metadata") or {}).get("namespace")
    return [str(ns)] if ns else []


def _rv(obj: Obj) -> str:
    meta = obj.get("metadata")
    return str(meta.get("resourceVersion") or "") if isinstance(meta, dict) else ""


class Store:
    """Thread-safe key -> object cache with secondary indexes (client-go's Indexer).

    Objects handed out are the cached dicts themselves, shared with every other reader:
    deep-copy (`copy.deepcopy`) before mutating one.
    """

    def __init__(self, key_func: Callable[[Obj], str] = meta_namespace_key) -> None:
        self.key_func = key_func
        self._lock = threading.RLock()
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        """Register an index; existing objects are indexed right away."""
        with self._lock:
            self._indexers[name] = fn
            self._indices[name] = {}
            for key, obj in self._items.items():
                self._index_one(name, key, obj)

    def _index_values(self, name: str, obj: Obj) -> list[str]:
        try:
            return [str(v) for v in self._indexers[name](obj)]
        except Exception:  # a buggy index function must not take the informer down
            log.exception("index function %r failed", name)
            return []

    def _index_one(self, name: str, key: str, obj: Obj) -> None:
        for value in self._index_values(name, obj):
            self._indices[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Obj) -> None:
        for name in self._indexers:
            index = self._indices[name]
            for value in self._index_values(name, obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]

    def _put(self, key: str, obj: Obj) -> Obj | None:
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name in self._indexers:
            self._index_one(name, key, obj)
        return old

    def add(self, obj: Obj) -> Obj | None:
        """Insert or replace; returns the previous object for the key, if any."""
        with self._lock:
            return self._put(self.key_func(obj), obj)

    update = add

    def delete(self, obj: Obj) -> Obj | None:
        with self._lock:
            return self.delete_key(self.key_func(obj))

    def delete_key(self, key: str) -> Obj | None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._unindex(key, old)
            return old

    def replace(self, objs: Iterable[Obj]) -> None:
        with self._lock:
            self._items.clear()
            for name in self._indexers:
                self._indices[name] = {}
            for obj in objs:
                self._put(self.key_func(obj), obj)

    def get(self, key: str | Obj) -> Obj | None:
        """By key ("ns/name"), or by an object's own key like client-go's Get(obj)."""
        with self._lock:
            return self._items.get(key if isinstance(key, str) else self.key_func(key))

    def get_by_key(self, key: str) -> Obj | None:
        with self._lock:
            return self._items.get(key)

    def list(self) -> ObjList:
        with self._lock:
            return [*self._items.values()]

    def keys(self) -> builtins.list[str]:
        with self._lock:
            return [*self._items]

    def snapshot(self) -> dict[str, Obj]:
        """A consistent key -> object copy of the mapping (the objects themselves are shared)."""
        with self._lock:
            return dict(self._items)

    def by_index(self, name: str, value: str) -> ObjList:
        with self._lock:
            if name not in self._indexers:
                raise KeyError(f"index {name!r} does not exist")
            return [self._items[k] for k in sorted(self._indices[name].get(value, ()))]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._items


class WatchStream(Protocol):
    def __iter__(self) -> Iterator[WatchEvent]: ...

    def stop(self) -> None: ...


class ListerWatcher(Protocol):
    """What the informer needs from a client (minik.client.rest.Client, or a test fake)."""

    def list_all(self, r: Resource, namespace: str | None = None, *, label_selector: str | None = None,
                 field_selector: str | None = None, page_size: int = 500) -> tuple[ObjList, str]: ...

    def watch(self, r: Resource, namespace: str | None = None, *, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              timeout_seconds: int | None = None, allow_bookmarks: bool = True) -> WatchStream: ...


class _Handler:
    def __init__(self, on_add: Callable[[Obj], None] | None,
                 on_update: Callable[[Obj, Obj], None] | None,
                 on_delete: Callable[[Obj], None] | None) -> None:
        self.on_add = on_add
        self.on_update = on_update
        self.on_delete = on_delete


class _ShortWatch(Exception):
    """The server ended a watch at once without sending anything: back off instead of spinning."""


class Informer:
    """List+watch one resource into `store` and call the registered handlers on changes."""

    def __init__(self, client: ListerWatcher, resource: Resource, namespace: str | None = None, *,
                 label_selector: str | None = None, field_selector: str | None = None,
                 resync_period: float | None = None) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.store = Store()
        self.store.add_indexer(NAMESPACE_INDEX, namespace_index)
        self.last_sync_resource_version = ""
        self._handlers: list[_Handler] = []
        # Held while the cache changes and handlers run, so a handler added late sees a
        # consistent replay and event order is preserved.
        self._dispatch = threading.RLock()
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._watch: WatchStream | None = None
        self._watch_healthy = False  # a watch delivered events or ran its course since the last list
        self._threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"<Informer {self.resource.group_resource}{where}>"

    # --- public API ----------------------------------------------------------------------

    def add_event_handler(self, on_add: Callable[[Obj], None] | None = None,
                          on_update: Callable[[Obj, Obj], None] | None = None,
                          on_delete: Callable[[Obj], None] | None = None) -> None:
        """Register callbacks; a handler added after objects were cached gets on_add for each."""
        handler = _Handler(on_add, on_update, on_delete)
        with self._dispatch:
            for obj in self.store.list():
                self._call(handler.on_add, obj)
            self._handlers.append(handler)

    def start(self) -> None:
        with self._lock:
            if self._threads:
                return
            name = f"informer-{self.resource.group_resource}"
            self._threads.append(threading.Thread(target=self._run, name=name, daemon=True))
            if self.resync_period:
                self._threads.append(threading.Thread(target=self._resync_loop, name=f"{name}-resync",
                                                      daemon=True))
            for t in self._threads:
                t.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and close the watch; waits (bounded) for the threads unless called from one."""
        self._stop.set()
        with self._lock:
            w, threads = self._watch, list(self._threads)
        if w is not None:
            w.stop()
        for t in threads:
            if t is not threading.current_thread():
                t.join(timeout)

    def has_synced(self) -> bool:
        """True once the first list is in the cache and its handlers ran."""
        return self._synced.is_set()

    def wait_for_sync(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    # --- dispatch ------------------------------------------------------------------------

    def _call(self, fn: Callable[..., None] | None, *args: Obj) -> None:
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:
            log.exception("%r: event handler %r failed", self, fn)

    def _emit_add(self, obj: Obj) -> None:
        for h in self._handlers:
            self._call(h.on_add, obj)

    def _emit_update(self, old: Obj, new: Obj) -> None:
        for h in self._handlers:
            self._call(h.on_update, old, new)

    def _emit_delete(self, obj: Obj) -> None:
        for h in self._handlers:
            self._call(h.on_delete, obj)

    # --- reflector -----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = BACKOFF_INITIAL
        while not self._stop.is_set():
            self._watch_healthy = False
            try:
                self._watch_until_error(self._list_and_replace())
                continue
            except GoneError as e:
                if self._watch_healthy:  # the normal case: our resourceVersion fell out of the window
                    log.info("%r: watch expired (%s); relisting", self, e)
                    backoff = BACKOFF_INITIAL
                    continue
                error: Exception = e
            except Exception as e:
                error = e
            if self._stop.is_set():
                break
            if self._watch_healthy:
                backoff = BACKOFF_INITIAL  # only a watch that worked resets the back-off, not a list
            log.warning("%r: list/watch failed: %s; retrying in %.1fs", self, error, backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
        log.debug("%r: stopped", self)

    def _list_and_replace(self) -> str:
        items, rv = self.client.list_all(self.resource, self.namespace, label_selector=self.label_selector,
                                         field_selector=self.field_selector)
        fresh: dict[str, Obj] = {}
        for obj in items:
            try:
                fresh[self.store.key_func(obj)] = obj
            except (ValueError, TypeError, AttributeError) as e:
                log.warning("%r: ignoring listed object without a usable key (%s)", self, e)
        with self._dispatch:
            previous = self.store.snapshot()
            self.store.replace(fresh.values())
            for key, obj in previous.items():
                if key not in fresh:
                    self._emit_delete(obj)  # deleted while we were not watching: last known state
            for key, obj in fresh.items():
                old = previous.get(key)
                if old is None:
                    self._emit_add(obj)
                elif _rv(old) != _rv(obj) or (not _rv(obj) and old != obj):
                    self._emit_update(old, obj)
            self.last_sync_resource_version = rv
            self._synced.set()
        return rv

    def _watch_until_error(self, rv: str) -> None:
        """Watch from rv, re-watching from the newest rv whenever the server ends a stream."""
        while not self._stop.is_set():
            timeout = int(WATCH_TIMEOUT_MIN * (1 + random.random()))
            w = self.client.watch(self.resource, self.namespace, resource_version=rv,
                                  label_selector=self.label_selector, field_selector=self.field_selector,
                                  timeout_seconds=timeout, allow_bookmarks=True)
            with self._lock:
                self._watch = w
            if self._stop.is_set():
                w.stop()
            started, events = time.monotonic(), 0
            try:
                for event in w:
                    if self._stop.is_set():
                        break
                    events += 1
                    self._watch_healthy = True
                    rv = self._handle(event) or rv
            finally:
                with self._lock:
                    self._watch = None
                w.stop()
            if events == 0 and time.monotonic() - started < 1.0 and not self._stop.is_set():
                raise _ShortWatch("the server closed the watch immediately")
            self._watch_healthy = True

    def _handle(self, event: WatchEvent) -> str:
        """Apply one watch event to the cache; returns its resourceVersion ("" when unusable)."""
        obj = event.object
        if not isinstance(obj, dict):
            log.warning("%r: ignoring %s event without an object", self, event.type)
            return ""
        rv = _rv(obj)
        if event.type == "BOOKMARK":
            if rv:
                self.last_sync_resource_version = rv
            return rv
        try:
            key = self.store.key_func(obj)
        except (ValueError, TypeError, AttributeError) as e:
            log.warning("%r: ignoring %s event for an object without a usable key (%s)", self, event.type, e)
            return rv
        with self._dispatch:
            if event.type in ("ADDED", "MODIFIED"):
                old = self.store.add(obj)
                if old is None:
                    self._emit_add(obj)
                else:
                    self._emit_update(old, obj)
            elif event.type == "DELETED":
                self.store.delete_key(key)
                self._emit_delete(obj)
            else:
                log.warning("%r: ignoring unknown watch event type %r", self, event.type)
                return rv
            if rv:
                self.last_sync_resource_version = rv
        return rv

    def _resync_loop(self) -> None:
        assert self.resync_period
        while not self._stop.wait(self.resync_period):
            if not self._synced.is_set():
                continue
            with self._dispatch:
                for obj in self.store.list():
                    self._emit_update(obj, obj)


def wait_for_cache_sync(informers: Iterable[Informer], timeout: float) -> bool:
    """True once every informer has synced; False if the timeout passes first."""
    deadline = time.monotonic() + timeout
    return all(i.wait_for_sync(max(0.0, deadline - time.monotonic())) for i in informers)


__all__ = ["NAMESPACE_INDEX", "Informer", "ListerWatcher", "Store", "meta_namespace_key", "split_key",
           "wait_for_cache_sync"]
