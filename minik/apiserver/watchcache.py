"""Per-resource watch cache: one etcd watch feeds an in-memory store and a window of recent events.

Every client watch is served from here, so N watchers cost one etcd watch. A client asking to
resume from a resourceVersion older than the window gets 410 Gone and must relist, exactly as
with kube-apiserver's cacher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from minik.api import errors
from minik.api.resources import Resource
from minik.apiserver.storage import (
    CachedObject,
    CompactedError,
    Fence,
    Obj,
    Progress,
    Storage,
    StorageEvent,
    WatchStream,
    dumps,
)

log = logging.getLogger(__name__)

# A filter sees an object and answers whether the watcher wants it.
Filter = Callable[[Obj], bool]


@dataclass(eq=False)
class WatchEvent:
    type: str
    object: Obj
    _line: bytes | None = None
    source: CachedObject | None = None  # object's encoding, shared with lists and other event types

    def line(self) -> bytes:
        """The wire form, encoded once however many watchers receive this event."""
        if self._line is None:
            body = self.source.json() if self.source is not None else dumps(self.object)
            self._line = b'{"type":' + dumps(self.type) + b',"object":' + body + b"}\n"
        return self._line


@dataclass(eq=False)
class Watcher:
    """One client watch: a bounded queue the cache pushes into; None in the queue ends it."""

    namespace: str | None
    filter: Filter
    bookmarks: bool
    # events at or below this revision were already covered by the replay or the initial state
    from_rv: int = 0
    queue: asyncio.Queue[WatchEvent | None] = field(default_factory=lambda: asyncio.Queue(maxsize=10000))
    closed: bool = False

    def offer(self, ev: WatchEvent) -> bool:
        if self.closed:
            return False
        try:
            self.queue.put_nowait(ev)
            return True
        except asyncio.QueueFull:
            # A watcher that cannot keep up is dropped; its client relists, as with kube-apiserver.
            self.close()
            return False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)
            if self.queue.full():
                # make room for the terminator so the reader always ends
                with contextlib.suppress(asyncio.QueueEmpty):
                    self.queue.get_nowait()
                self.queue.put_nowait(None)


def _namespace_of(obj: Obj) -> str | None:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return ns if isinstance(ns, str) else None


class WatchCache:
    def __init__(self, storage: Storage, resource: Resource, capacity: int = 1000,
                 bookmark_interval: float = 30.0) -> None:
        self.storage = storage
        self.resource = resource
        self.capacity = capacity
        self.bookmark_interval = bookmark_interval
        self.store: dict[str, CachedObject] = {}
        self.events: deque[StorageEvent] = deque()
        self.rv = 0
        # every event up to this revision has been applied, proven by events in order (never by a
        # progress notification: see Storage.fence)
        self.synced_rv = 0
        self.start_rv = 0  # every event after this revision is in the window
        self.watchers: set[Watcher] = set()
        self.ready = asyncio.Event()
        self._advanced = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._stream: WatchStream | None = None
        self._bookmark_task: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"watchcache-{self.resource.plural}")
        self._bookmark_task = asyncio.create_task(self._bookmarks())

    async def stop(self) -> None:
        for t in (self._task, self._bookmark_task):
            if t:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        for w in list(self.watchers):
            w.close()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._relist()
                backoff = 0.1
                self._stream = self.storage.watch(self.resource.key(None), self.rv)
                async for ev in self._stream:
                    if isinstance(ev, Fence):
                        await self._fenced(ev.revision)
                    elif isinstance(ev, Progress):
                        await self._progress(ev.revision)
                    elif ev.prev is not None or ev.type != "DELETED":
                        await self._apply(ev)
            except asyncio.CancelledError:
                raise
            except CompactedError:
                log.info("%s: watch compacted, relisting", self.resource.plural)
            except Exception as exc:
                log.warning("%s: watch failed (%s), relisting in %.1fs", self.resource.plural, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _relist(self) -> None:
        prefix = self.resource.key(None)
        store: dict[str, CachedObject] = {}
        start: str | None = None
        rev = 0
        while True:
            page = await self.storage.list(prefix, limit=500, start_key=start, revision=rev)
            rev = page.revision
            for item in page.items:
                meta = item.obj.get("metadata", {})
                store[self._key(meta.get("namespace"), meta.get("name", ""))] = CachedObject(item.obj)
            if not page.more or not page.items:
                break
            last = page.items[-1].obj["metadata"]
            start = self._key(last.get("namespace"), last.get("name", "")) + "\x00"
        if self.ready.is_set():
            # Our window no longer connects to what clients saw: make them start over.
            for w in list(self.watchers):
                w.close()
            self.watchers.clear()
        self.store = store
        self.events.clear()
        self.rv = self.start_rv = self.synced_rv = rev
        self.ready.set()
        async with self._advanced:
            self._advanced.notify_all()

    def _key(self, namespace: str | None, name: str) -> str:
        return self.resource.key(namespace, name)

    async def _apply(self, ev: StorageEvent) -> None:
        ev.cached = CachedObject(ev.obj)
        if ev.type == "DELETED":
            self.store.pop(ev.key, None)
        else:
            self.store[ev.key] = ev.cached
        self.events.append(ev)
        if len(self.events) > self.capacity:
            self.start_rv = self.events.popleft().revision
        # max(): a progress notification may have moved rv ahead of events still in flight
        # (etcd < 3.4.25 can send one early); a watcher skips what it has already been given.
        self.rv = max(self.rv, ev.revision)
        self.synced_rv = max(self.synced_rv, ev.revision)
        for w in list(self.watchers):
            if ev.revision <= w.from_rv:
                continue
            out = self._transform(w, ev)
            if out is not None and not w.offer(out):
                self.watchers.discard(w)
        async with self._advanced:
            self._advanced.notify_all()

    async def _progress(self, revision: int) -> None:
        if revision > self.rv:
            self.rv = revision
            async with self._advanced:
                self._advanced.notify_all()

    async def _fenced(self, revision: int) -> None:
        self.synced_rv = max(self.synced_rv, revision)
        self.rv = max(self.rv, revision)
        async with self._advanced:
            self._advanced.notify_all()  # even when a progress notification moved rv past it already

    async def _bookmarks(self) -> None:
        while True:
            await asyncio.sleep(self.bookmark_interval)
            self.send_bookmarks()

    def send_bookmarks(self) -> None:
        bm = self.bookmark()
        for w in list(self.watchers):
            if w.bookmarks and not w.offer(bm):
                self.watchers.discard(w)

    def bookmark(self) -> WatchEvent:
        return WatchEvent("BOOKMARK", {"kind": self.resource.kind, "apiVersion": self.resource.api_version,
                                       "metadata": {"resourceVersion": str(self.rv)}})

    # --- serving -------------------------------------------------------------------------

    async def synced(self, rv: int, timeout: float) -> bool:
        """Whether the store holds every change up to revision rv (etcd's current revision for a
        consistent list), waiting at most timeout for it.

        rv usually comes from writes to other resources, which no event of ours will reach: a
        fence write (Storage.fence) gives our own watch an event at or after rv.
        """
        if not self.ready.is_set():
            return False
        if rv <= self.synced_rv:
            return True
        fence = await self.storage.fence(self.resource.key(None))
        try:
            async with self._advanced:
                await asyncio.wait_for(self._advanced.wait_for(lambda: self.synced_rv >= fence), timeout)
        except TimeoutError:
            return False
        return True

    async def wait_fresh(self, rv: int, timeout: float = 3.0) -> None:
        """Block until the cache has seen revision rv (a client may watch right after its write)."""
        await asyncio.wait_for(self.ready.wait(), timeout=30)
        if rv <= self.rv:
            return
        if self._stream is not None:
            self._stream.request_progress()
        try:
            async with self._advanced:
                await asyncio.wait_for(self._advanced.wait_for(lambda: self.rv >= rv), timeout)
        except TimeoutError:
            # kube-apiserver's answer when a client is ahead of the cache
            raise errors.TimeoutError_(f"Too large resource version: {rv}, current: {self.rv}",
                                       details={"causes": [{"reason": "ResourceVersionTooLarge",
                                                            "message": "Too large resource version"}],
                                                "retryAfterSeconds": 1}) from None

    def _matches(self, w: Watcher, obj: Obj | None) -> bool:
        if obj is None:
            return False
        if w.namespace and _namespace_of(obj) != w.namespace:
            return False
        return w.filter(obj)

    def _transform(self, w: Watcher, ev: StorageEvent) -> WatchEvent | None:
        """Translate a storage event for a filtered watcher: entering the filter is ADDED, leaving it DELETED."""
        now = self._matches(w, ev.obj) if ev.type != "DELETED" else False
        before = self._matches(w, ev.prev)
        if ev.type == "DELETED":
            kind = "DELETED" if before else None
        elif now:
            kind = "MODIFIED" if before else "ADDED"
        else:
            kind = "DELETED" if before else None
        if kind is None:
            return None
        # one shared WatchEvent per (storage event, type): every watcher reuses its encoding
        shared = ev.views.get(kind)
        if shared is None:
            shared = ev.views[kind] = WatchEvent(kind, ev.obj, source=ev.cached)
        return shared

    async def watch(self, from_rv: int | None, namespace: str | None, flt: Filter,
                    bookmarks: bool, *, consistent: bool = False, initial_events: bool = False) -> Watcher:
        """Register a watcher.

        from_rv None means: current state as ADDED events, then changes (consistent: at least as
        fresh as etcd right now). initial_events is the watch-list protocol: current state as ADDED
        events even when from_rv is given, closed by a bookmark marking the end of initial events.
        """
        if consistent and not from_rv:
            from_rv_fresh = await self.storage.revision()
            await self.wait_fresh(from_rv_fresh)
        if from_rv:
            await self.wait_fresh(from_rv)
            if from_rv < self.start_rv and not initial_events:
                raise errors.GoneError(f"too old resource version: {from_rv} ({self.start_rv})")
        else:
            await asyncio.wait_for(self.ready.wait(), timeout=30)
        w = Watcher(namespace, flt, bookmarks, from_rv=self.rv if (initial_events or not from_rv) else from_rv)
        # No await from here on: the replay and the registration must not interleave with _apply.
        if initial_events:
            for entry in self.list_entries(namespace, flt):
                w.offer(WatchEvent("ADDED", entry.obj, source=entry))
            end = self.bookmark()
            end.object["metadata"]["annotations"] = {"k8s.io/initial-events-end": "true"}
            w.offer(end)
        elif from_rv:
            for ev in self.events:
                if ev.revision > from_rv:
                    out = self._transform(w, ev)
                    if out is not None:
                        w.offer(out)
        else:
            for entry in self.list_entries(namespace, flt):
                w.offer(WatchEvent("ADDED", entry.obj, source=entry))
        self.watchers.add(w)
        return w

    def unregister(self, w: Watcher) -> None:
        self.watchers.discard(w)
        w.close()

    def _prefix(self, namespace: str | None) -> str:
        return self.resource.key(namespace) if namespace else self.resource.key(None)

    def list_entries(self, namespace: str | None, flt: Filter) -> list[CachedObject]:
        """Matching objects in etcd's key order, so a list reads the same from here as from etcd."""
        prefix = self._prefix(namespace)
        store = self.store
        out = []
        for key in sorted(k for k in store if k.startswith(prefix)):
            entry = store[key]
            if flt(entry.obj):
                out.append(entry)
        return out

    def list_objects(self, namespace: str | None, flt: Filter) -> list[Obj]:
        """Like list_entries, the decoded objects only; they are the cache's own: read-only."""
        return [entry.obj for entry in self.list_entries(namespace, flt)]

    def count(self, namespace: str | None) -> int:
        prefix = self._prefix(namespace)
        return sum(1 for k in self.store if k.startswith(prefix))

    def get(self, namespace: str | None, name: str) -> Obj | None:
        entry = self.store.get(self._key(namespace, name))
        return entry.obj if entry is not None else None

    def stats(self) -> dict[str, Any]:
        return {"objects": len(self.store), "events": len(self.events), "rv": self.rv,
                "start_rv": self.start_rv, "watchers": len(self.watchers)}
