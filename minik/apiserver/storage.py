"""etcd storage: objects as JSON under /registry keys; resourceVersion is the etcd revision.

Built on aetcd's connection and gRPC stubs, with hand-made requests where aetcd lacks a knob
(range limit/revision, compare-and-swap transactions with several keys).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import aetcd
from aetcd import rpc
from aetcd.utils import prefix_range_end

from minik.api import errors

MAX_ETCD_RESPONSE_BYTES = 2**31 - 1  # gRPC's largest: a list is bounded by what etcd holds

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass
class StoredObject:
    obj: Obj
    revision: int  # mod revision = resourceVersion


@dataclass
class ListResult:
    items: list[StoredObject]
    revision: int  # revision the list was read at
    more: bool
    remaining: int


def dumps(obj: Any) -> bytes:
    """Compact JSON, the one encoding every response and watch line uses."""
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass(eq=False, slots=True)
class CachedObject:
    """A decoded object with its JSON encoded at most once, then shared by every watcher and every
    list that sends it: a list from the watch cache is assembled from these bytes. The object is
    shared too, so nobody may mutate it (writes start from copies)."""

    obj: Obj
    _json: bytes | None = None

    def json(self) -> bytes:
        if self._json is None:
            self._json = dumps(self.obj)
        return self._json


@dataclass
class StorageEvent:
    type: str  # ADDED | MODIFIED | DELETED
    key: str
    obj: Obj
    prev: Obj | None
    revision: int
    views: dict[str, Any] = field(default_factory=dict)  # per-type watch events, built by the cache
    cached: CachedObject | None = None  # obj with its encoding, set by the cache


class CompactedError(Exception):
    """The requested revision was compacted away: the caller must relist."""


def encode(obj: Obj) -> bytes:
    # resourceVersion is derived from the revision on read; never persist it.
    meta = obj.get("metadata") or {}
    if "resourceVersion" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return dumps(obj)


class CorruptObjectError(Exception):
    """A stored value is not an object we wrote: reported, never fatal."""


def decode(value: bytes, revision: int) -> Obj:
    try:
        obj = json.loads(value)
    except ValueError as exc:
        raise CorruptObjectError(f"stored value at revision {revision} is not JSON: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata", {}), dict):
        raise CorruptObjectError(f"stored value at revision {revision} is not an object")
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj


def decode_all(kvs: Any) -> list[StoredObject]:
    """Decode a range, skipping (and logging) values that are not objects, so one bad key
    cannot take a whole list or the watch cache down."""
    out = []
    for kv in kvs:
        try:
            out.append(StoredObject(decode(kv.value, kv.mod_revision), kv.mod_revision))
        except CorruptObjectError as exc:
            log.error("skipping %s: %s", kv.key.decode(errors="replace"), exc)
    return out


def _cmp(key: bytes, target: str, value: int) -> Any:
    c = rpc.Compare()
    c.key = key
    c.result = rpc.Compare.EQUAL
    if target == "create":
        c.target = rpc.Compare.CREATE
        c.create_revision = value
    else:
        c.target = rpc.Compare.MOD
        c.mod_revision = value
    return c


def _put(key: bytes, value: bytes, lease: int = 0) -> Any:
    return rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value, lease=lease))


def _delete(key: bytes) -> Any:
    return rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=key))


def _get(key: bytes) -> Any:
    return rpc.RequestOp(request_range=rpc.RangeRequest(key=key))


class Storage:
    """Thin async etcd v3 store with the operations the registry needs."""

    def __init__(self, endpoint: str, prefix: str = "") -> None:
        url = urlparse(endpoint if "://" in endpoint else f"http://{endpoint}")
        # gRPC's default 4 MiB receive limit fails an unpaginated list of ~2,000 pods; kube-apiserver
        # lifts it on its etcd connection too (etcd itself caps a request at 1.5 MiB, not a response)
        self._client = aetcd.Client(host=url.hostname or "127.0.0.1", port=url.port or 2379, timeout=10,
                                    options={"grpc.max_receive_message_length": MAX_ETCD_RESPONSE_BYTES})
        self.prefix = prefix.rstrip("/")

    async def connect(self) -> None:
        await self._client.connect()

    async def close(self) -> None:
        await self._client.close()

    def _k(self, key: str) -> bytes:
        return (self.prefix + key).encode()

    @property
    def _kv(self) -> Any:
        return self._client.kvstub

    async def _range(self, req: Any) -> Any:
        await self._client.connect()
        return await self._kv.Range(req, timeout=10)

    async def _txn(self, compare: list[Any], success: list[Any], failure: list[Any] | None = None) -> Any:
        await self._client.connect()
        return await self._kv.Txn(rpc.TxnRequest(compare=compare, success=success, failure=failure or []),
                                  timeout=10)

    async def revision(self) -> int:
        resp = await self._range(rpc.RangeRequest(key=self._k("/"), count_only=True, limit=1))
        return int(resp.header.revision)

    def fence_key(self, prefix: str) -> bytes:
        """The key just past prefix's range (`/registry/pods0` for `/registry/pods/`): no object's key,
        but inside the range a watch of prefix covers, so a write to it is an event on that watch."""
        return prefix_range_end(self._k(prefix))

    async def fence(self, prefix: str) -> int:
        """Write prefix's fence key; its revision reaches prefix's watch after every earlier event.

        etcd before 3.4.25 may answer a progress request before events still on their way to the
        watcher (etcd-io/etcd#15220), so a progress notification cannot prove a cache is current;
        an event can, because one watch delivers its events in revision order.
        """
        resp = await self._txn([], [_put(self.fence_key(prefix), b"")])
        return int(resp.header.revision)

    async def ping(self) -> bool:
        try:
            await asyncio.wait_for(self.revision(), 2)
            return True
        except Exception:
            return False

    async def get(self, key: str) -> StoredObject | None:
        resp = await self._range(rpc.RangeRequest(key=self._k(key)))
        if not resp.kvs:
            return None
        kv = resp.kvs[0]
        try:
            return StoredObject(decode(kv.value, kv.mod_revision), kv.mod_revision)
        except CorruptObjectError as exc:
            raise errors.InternalError(f"Internal error occurred: {key}: {exc}") from None

    async def list(self, prefix: str, *, limit: int = 0, start_key: str | None = None,
                   revision: int = 0) -> ListResult:
        """Range over a prefix, optionally paged (start_key is inclusive) at a fixed revision."""
        pkey = self._k(prefix)
        req = rpc.RangeRequest(key=self._k(start_key) if start_key else pkey,
                               range_end=prefix_range_end(pkey), limit=limit, revision=revision)
        try:
            resp = await self._range(req)
        except Exception as exc:  # etcd answers OutOfRange for a compacted revision
            if "compacted" in str(exc):
                raise CompactedError(str(exc)) from exc
            raise
        items = decode_all(resp.kvs)
        rev = revision or int(resp.header.revision)
        remaining = max(int(resp.count) - len(items), 0)
        return ListResult(items, rev, bool(resp.more), remaining)

    async def keys(self, prefix: str) -> Sequence[str]:
        pkey = self._k(prefix)
        resp = await self._range(rpc.RangeRequest(key=pkey, range_end=prefix_range_end(pkey), keys_only=True))
        return [kv.key.decode()[len(self.prefix):] for kv in resp.kvs]

    async def create(self, key: str, obj: Obj, *, claims: Sequence[str] = (),
                     ttl: int | None = None) -> tuple[Obj, int] | str:
        """Create key (and claim keys) atomically; returns (obj, rev), or the key that already existed."""
        keys = [key, *claims]
        lease_id = 0
        if ttl:
            lease_id = (await self._client.lease(ttl)).id
        value = encode(obj)
        resp = await self._txn(
            [_cmp(self._k(k), "create", 0) for k in keys],
            [_put(self._k(key), value, lease_id), *[_put(self._k(c), key.encode()) for c in claims]],
            [_get(self._k(k)) for k in keys],
        )
        if not resp.succeeded:
            for k, r in zip(keys, resp.responses, strict=True):
                if r.response_range.kvs:
                    return k
            return key
        rev = int(resp.header.revision)
        out = json.loads(value)
        out.setdefault("metadata", {})["resourceVersion"] = str(rev)
        return out, rev

    async def update(self, key: str, obj: Obj, expected_revision: int, *,
                     claims: Sequence[str] = (), releases: Sequence[str] = ()) -> tuple[Obj, int] | None:
        """Compare-and-swap on the mod revision; None when someone else wrote first."""
        compare = [_cmp(self._k(key), "mod", expected_revision)]
        compare += [_cmp(self._k(c), "create", 0) for c in claims]
        value = encode(obj)
        ops = [_put(self._k(key), value)]
        ops += [_put(self._k(c), key.encode()) for c in claims]
        ops += [_delete(self._k(r)) for r in releases]
        resp = await self._txn(compare, ops)
        if not resp.succeeded:
            return None
        rev = int(resp.header.revision)
        out = json.loads(value)
        out.setdefault("metadata", {})["resourceVersion"] = str(rev)
        return out, rev

    async def delete(self, key: str, expected_revision: int, *, releases: Sequence[str] = ()) -> int | None:
        """Delete if unchanged since expected_revision; returns the deletion revision or None."""
        resp = await self._txn([_cmp(self._k(key), "mod", expected_revision)],
                               [_delete(self._k(key)), *[_delete(self._k(r)) for r in releases]])
        if not resp.succeeded:
            return None
        return int(resp.header.revision)

    async def guaranteed_update(self, key: str, fn: Callable[[Obj], Awaitable[Obj | None]],
                                *, retries: int = 20) -> tuple[Obj, int] | None:
        """Read-modify-write with retry on conflict; fn returns the new object or None to skip.

        Returns None when the key does not exist.
        """
        for _ in range(retries):
            cur = await self.get(key)
            if cur is None:
                return None
            new = await fn(cur.obj)
            if new is None:
                return cur.obj, cur.revision
            res = await self.update(key, new, cur.revision)
            if res is not None:
                return res
        raise errors.ConflictError(f"too many conflicting updates to {key}")

    def watch(self, prefix: str, start_revision: int) -> WatchStream:
        """Events after start_revision (exclusive) for keys under prefix."""
        return WatchStream(self, prefix, start_revision)


@dataclass
class Progress:
    """etcd promises every event up to this revision has been delivered on the stream."""

    revision: int


@dataclass
class Fence:
    """The stream reached a fence write (Storage.fence): every event up to revision has been delivered."""

    revision: int


class WatchStream:
    """One etcd watch on its own gRPC stream, able to ask etcd for a progress notification.

    kube-apiserver's cacher relies on the same etcd feature: after a client lists at the global
    revision R, the cache must prove it has seen everything up to R even when R came from a
    write to another resource.
    """

    def __init__(self, storage: Storage, prefix: str, start_revision: int) -> None:
        self.storage = storage
        self.prefix = prefix
        self.start_revision = start_revision
        self._requests: asyncio.Queue[Any] = asyncio.Queue()

    def request_progress(self) -> None:
        self._requests.put_nowait(rpc.WatchRequest(progress_request=rpc.WatchProgressRequest()))

    async def _outgoing(self) -> AsyncIterator[Any]:
        while True:
            req = await self._requests.get()
            if req is None:
                return
            yield req

    async def __aiter__(self) -> AsyncIterator[StorageEvent | Progress | Fence]:
        st = self.storage
        await st._client.connect()
        pkey = st._k(self.prefix)
        fence = st.fence_key(self.prefix)
        # the range ends just after the fence key, so fence writes are events on this watch
        create = rpc.WatchCreateRequest(key=pkey, range_end=fence + b"\x00",
                                        start_revision=self.start_revision + 1, prev_kv=True,
                                        progress_notify=True)
        self._requests.put_nowait(rpc.WatchRequest(create_request=create))
        call = rpc.WatchStub(st._client.channel).Watch(self._outgoing())
        try:
            async for resp in call:
                if resp.compact_revision:
                    raise CompactedError(f"revision {self.start_revision} compacted "
                                         f"(oldest {resp.compact_revision})")
                if resp.canceled:
                    raise ConnectionError(f"etcd canceled the watch: {resp.cancel_reason}")
                if resp.created:
                    continue
                if not resp.events:
                    yield Progress(int(resp.header.revision))
                    continue
                for ev in resp.events:
                    if ev.kv.key == fence:
                        yield Fence(int(ev.kv.mod_revision))
                        continue
                    try:
                        yield self._event(ev)
                    except CorruptObjectError as exc:
                        log.error("skipping watch event on %s: %s", ev.kv.key.decode(errors="replace"), exc)
        finally:
            self._requests.put_nowait(None)
            call.cancel()

    def _event(self, ev: Any) -> StorageEvent:
        st = self.storage
        key = ev.kv.key.decode()[len(st.prefix):]
        pkv = ev.prev_kv
        prev = None
        if pkv is not None and pkv.key:
            try:
                prev = decode(pkv.value, pkv.mod_revision)
            except CorruptObjectError:
                prev = None
        rev = int(ev.kv.mod_revision)
        if ev.type == rpc.Event.DELETE:
            base = prev or {"metadata": {}}
            obj = dict(base)
            obj["metadata"] = {**base.get("metadata", {}), "resourceVersion": str(rev)}
            return StorageEvent("DELETED", key, obj, prev, rev)
        obj = decode(ev.kv.value, rev)
        return StorageEvent("ADDED" if ev.kv.version == 1 else "MODIFIED", key, obj, prev, rev)
