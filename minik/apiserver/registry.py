"""Generic REST registry: the verbs every resource shares, parameterised by a Strategy.

Writes run admission (defaults, validation) on the typed model, then go to etcd with
compare-and-swap on the revision, so a stale resourceVersion is a 409 and no write is lost.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from minik.api import errors
from minik.api.defaults import set_defaults
from minik.api.fields import check_supported, object_fields, parse_field_selector
from minik.api.labels import SelectorError, parse_selector
from minik.api.names import generate_name
from minik.api.resources import Resource
from minik.api.validation import validate
from minik.apiserver.patch import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from minik.apiserver.storage import CachedObject, CompactedError, Obj, Storage, StoredObject, dumps
from minik.apiserver.strategy import Strategy
from minik.apiserver.watchcache import Filter, WatchCache, Watcher

log = logging.getLogger(__name__)

MAX_RETRIES = 30
# How long a consistent list waits for the watch cache to reach etcd's revision before reading etcd.
LIST_FRESH_TIMEOUT = 1.0
SYSTEM_META = ("uid", "creationTimestamp", "generation", "deletionTimestamp",
               "deletionGracePeriodSeconds", "namespace", "name")


def now_rfc3339(delta: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    precondition_uid: str | None = None
    precondition_rv: str | None = None

    @classmethod
    def parse(cls, body: Any, params: dict[str, str]) -> DeleteOptions:
        body = body if isinstance(body, dict) else {}
        grace = body.get("gracePeriodSeconds", params.get("gracePeriodSeconds"))
        policy = body.get("propagationPolicy", params.get("propagationPolicy"))
        orphan = body.get("orphanDependents", params.get("orphanDependents"))
        if policy is None and orphan is not None:
            policy = "Orphan" if str(orphan).lower() == "true" else "Background"
        if policy is not None and policy not in ("Orphan", "Background", "Foreground"):
            raise errors.invalid_object("DeleteOptions", "", [errors.not_supported(
                "propagationPolicy", policy, ["Foreground", "Background", "Orphan"])])
        pre = body.get("preconditions") or {}
        try:
            grace_int = int(grace) if grace is not None else None
        except (TypeError, ValueError):
            raise errors.BadRequestError(f"invalid gracePeriodSeconds: {grace!r}") from None
        return cls(grace_int, policy, pre.get("uid"), pre.get("resourceVersion"))


def selector_filter(plural: str, label_selector: str | None, field_selector: str | None) -> Filter:
    """One filter from the label and field selector query parameters (400 on bad syntax)."""
    try:
        lsel = parse_selector(label_selector) if label_selector else None
        fsel = parse_field_selector(field_selector) if field_selector else None
        if fsel is not None:
            check_supported(plural, fsel)
    except SelectorError as exc:
        raise errors.BadRequestError(str(exc)) from None

    def match(obj: Obj) -> bool:
        if lsel is not None and not lsel.matches((obj.get("metadata") or {}).get("labels") or {}):
            return False
        return fsel is None or fsel.matches(object_fields(plural, obj))

    return match


def encode_continue(rev: int, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rev, "start": start}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), str(data["start"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise errors.BadRequestError("continue key is not valid: incorrect encoded start resourceVersion "
                                     "(version meta.k8s.io/v1)") from None


def list_json(kind: str, api_version: str, metadata: Obj, items: Sequence[bytes]) -> bytes:
    """A `<Kind>List` body from items already in JSON: concatenated, nothing decoded or re-encoded."""
    head = dumps({"kind": kind, "apiVersion": api_version, "metadata": metadata})
    return b"".join((head[:-1], b',"items":[', b",".join(items), b"]}"))


@dataclass
class CachedList:
    """A list answered from the watch cache. Its items are the cache's own objects: read-only."""

    kind: str
    api_version: str
    resource_version: str
    entries: list[CachedObject]

    def objects(self) -> list[Obj]:
        return [e.obj for e in self.entries]

    def to_json(self) -> bytes:
        return list_json(self.kind, self.api_version, {"resourceVersion": self.resource_version},
                         [e.json() for e in self.entries])

    def to_dict(self) -> Obj:
        return {"kind": self.kind, "apiVersion": self.api_version,
                "metadata": {"resourceVersion": self.resource_version}, "items": self.objects()}


def _pydantic_message(kind: str, api_version: str, exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in first["loc"]).replace(".[", "[")
    return (f'{kind} in version "{api_version.split("/")[-1]}" cannot be handled as a {kind}: '
            f"{loc}: {first['msg']}")


class Registry:
    def __init__(self, storage: Storage, resource: Resource, strategy: Strategy, cache: WatchCache,
                 namespace_lookup: Callable[[str], Any] | None = None) -> None:
        self.storage = storage
        self.resource = resource
        self.strategy = strategy
        self.cache = cache
        self.namespace_lookup = namespace_lookup
        strategy.registry = self

    # --- helpers -------------------------------------------------------------------------

    def key(self, namespace: str | None, name: str) -> str:
        return self.resource.key(namespace if self.resource.namespaced else None, name)

    def not_found(self, name: str) -> errors.StatusError:
        return errors.not_found(self.resource.plural, name, self.resource.group)

    def _check_type(self, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise errors.BadRequestError("the body of the request was in an unknown format - accepted media "
                                         "types include: application/json, application/yaml")
        r = self.resource
        api_version = body.get("apiVersion")
        kind = body.get("kind")
        if kind is not None and kind != r.kind:
            raise errors.BadRequestError(f"the object provided is unrecognized (kind {kind} is not {r.kind})")
        if api_version is not None and api_version != r.api_version:
            raise errors.BadRequestError(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({r.api_version})")
        body["apiVersion"], body["kind"] = r.api_version, r.kind
        if not isinstance(body.get("metadata", {}), dict):
            raise errors.BadRequestError("metadata must be an object")
        body.setdefault("metadata", {})
        return body

    def admit(self, obj: Obj, old: Obj | None) -> Obj:
        """Typed round trip: decode, default, validate; returns the wire form to store."""
        r = self.resource
        try:
            model = r.model.from_dict(obj)
            old_model = r.model.from_dict(old) if old is not None else None
        except ValidationError as exc:
            raise errors.BadRequestError(_pydantic_message(r.kind, r.api_version, exc)) from None
        set_defaults(model)
        problems = validate(model, old_model)
        if problems:
            raise errors.invalid_object(r.kind, model.metadata.name or "", problems, r.group)
        return model.to_dict()

    async def _check_namespace(self, namespace: str | None, name: str) -> None:
        if not self.resource.namespaced or self.namespace_lookup is None:
            return
        ns = await self.namespace_lookup(namespace or "")
        if ns is None:
            raise errors.not_found("namespaces", namespace or "")
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            raise errors.ForbiddenError(
                f'{self.resource.plural} "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                details={"name": name, "kind": self.resource.plural,
                         "causes": [{"reason": "NamespaceTerminating",
                                     "message": f"namespace {namespace} is being terminated",
                                     "field": "metadata.namespace"}]})

    # --- verbs ---------------------------------------------------------------------------

    async def get(self, namespace: str | None, name: str) -> Obj:
        cur = await self.storage.get(self.key(namespace, name))
        if cur is None:
            raise self.not_found(name)
        return cur.obj

    async def list(self, namespace: str | None, *, label_selector: str | None = None,
                   field_selector: str | None = None, limit: int = 0, continue_: str | None = None,
                   resource_version: str | None = None, resource_version_match: str | None = None) -> Obj:
        """A list as a dict; when it came from the watch cache its items are shared: read-only."""
        out = await self.list_view(namespace, label_selector=label_selector, field_selector=field_selector,
                                   limit=limit, continue_=continue_, resource_version=resource_version,
                                   resource_version_match=resource_version_match)
        return out.to_dict() if isinstance(out, CachedList) else out

    async def list_view(self, namespace: str | None, *, label_selector: str | None = None,
                        field_selector: str | None = None, limit: int = 0, continue_: str | None = None,
                        resource_version: str | None = None,
                        resource_version_match: str | None = None) -> Obj | CachedList:
        """A list from the watch cache when it can answer (a CachedList), else from etcd (a dict).

        Like kube-apiserver's consistent reads from cache: a list that must be current first makes
        sure the cache has reached etcd's revision; a paginated list, a continuation or an exact
        resourceVersion reads etcd.
        """
        flt = selector_filter(self.resource.plural, label_selector, field_selector)
        r = self.resource
        if not continue_ and resource_version_match != "Exact":
            cached = await self._list_cached(namespace if r.namespaced else None, flt, limit,
                                             selective=bool(label_selector or field_selector),
                                             consistent=resource_version != "0")
            if cached is not None:
                return cached
        out: Obj = {"kind": f"{r.kind}List", "apiVersion": r.api_version, "metadata": {}, "items": []}
        prefix = r.key(namespace if r.namespaced else None)
        rev, start = decode_continue(continue_) if continue_ else (0, "")
        items: list[Obj] = []
        more = False
        remaining = 0
        try:
            while True:
                page_size = max(limit - len(items), 1) if limit else 0
                page = await self.storage.list(prefix, limit=page_size, start_key=start or None, revision=rev)
                rev = page.revision
                for it in page.items:
                    if flt(it.obj):
                        items.append(it.obj)
                if page.items:
                    last = page.items[-1].obj["metadata"]
                    start = self.key(last.get("namespace"), last.get("name", "")) + "\x00"
                more, remaining = page.more, page.remaining
                if not limit or not page.more or len(items) >= limit:
                    break
        except CompactedError:
            raise errors.GoneError("The provided continue parameter is too old to display a consistent list "
                                   "result. You can start a new list without the continue parameter.") from None
        out["items"] = items
        out["metadata"]["resourceVersion"] = str(rev)
        if limit and more:
            out["metadata"]["continue"] = encode_continue(rev, start)
            if not label_selector and not field_selector:
                out["metadata"]["remainingItemCount"] = remaining
        return out

    async def _list_cached(self, namespace: str | None, flt: Filter, limit: int, *, selective: bool,
                           consistent: bool) -> CachedList | None:
        """The watch cache's answer, or None when it is not fresh enough or the list needs pages.

        consistent: at least as new as etcd now (resourceVersion unset, or a number, which today's
        etcd path also answers with the current state); otherwise any state the cache has ("0").
        """
        cache = self.cache
        if limit and not selective and cache.count(namespace) > limit:
            return None  # surely more than a page: no fence write for it
        if consistent:
            rev = await self.storage.revision()
            if not await cache.synced(rev, LIST_FRESH_TIMEOUT):
                log.info("%s: watch cache at %d behind etcd at %d, listing from etcd",
                         self.resource.plural, cache.synced_rv, rev)
                return None
        elif not cache.ready.is_set():
            return None
        # No await from here on: the items and the resourceVersion are one snapshot of the cache.
        entries = cache.list_entries(namespace, flt)
        if limit and len(entries) > limit:
            return None  # pages carry continue tokens for etcd's revisions: etcd serves them
        r = self.resource
        # synced_rv, not rv: the store is exactly etcd's state at synced_rv
        rv = cache.synced_rv if consistent else cache.rv
        return CachedList(f"{r.kind}List", r.api_version, str(rv), entries)

    async def create(self, namespace: str | None, body: Any, *, dry_run: bool = False) -> Obj:
        obj = self._check_type(body)
        meta = obj["metadata"]
        r = self.resource
        if r.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.BadRequestError("the namespace of the provided object does not match the "
                                             "namespace sent on the request")
            meta["namespace"] = namespace or body_ns or "default"
        else:
            meta.pop("namespace", None)
        generated = not meta.get("name") and bool(meta.get("generateName"))
        if generated:
            meta["name"] = generate_name(str(meta["generateName"]))
        for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                  "deletionGracePeriodSeconds", "generation"):
            meta.pop(k, None)
        self.strategy.prepare_for_create(obj)
        obj = self.admit(obj, None)
        meta = obj["metadata"]
        name = meta["name"]
        await self._check_namespace(meta.get("namespace"), name)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if self.strategy.tracks_generation and "spec" in obj:
            meta["generation"] = 1
        explicit, _ = await self.strategy.allocate(obj, None)
        if dry_run:
            return obj
        key = self.key(meta.get("namespace"), name)
        ttl = 3600 if r.plural == "events" else None
        for _ in range(MAX_RETRIES):
            # only kinds that pick server-side values need a fresh copy per attempt
            attempt = copy.deepcopy(obj) if self.strategy.fills else obj
            filled = await self.strategy.fill(attempt)
            res = await self.storage.create(key, attempt, claims=[*explicit, *filled], ttl=ttl)
            if isinstance(res, tuple):
                return res[0]
            if res == key:
                if generated:
                    obj["metadata"]["name"] = name = generate_name(str(meta["generateName"]))
                    key = self.key(meta.get("namespace"), name)
                    continue
                raise errors.already_exists(r.plural, name, r.group)
            if res in explicit:
                raise self._claim_taken(res, name)
            # a randomly chosen IP/port was taken by a concurrent create: pick again
        raise errors.InternalError("failed to allocate resources for the object after many attempts")

    def _claim_taken(self, claim: str, name: str) -> errors.StatusError:
        value = claim.rsplit("/", 1)[-1]
        if "serviceips" in claim:
            cause = errors.invalid("spec.clusterIPs", [value],
                                   f"failed to allocate IP {value}: provided IP is already allocated")
        else:
            cause = errors.invalid("spec.ports[0].nodePort", int(value), "provided port is already allocated")
        return errors.invalid_object(self.resource.kind, name, [cause], self.resource.group)

    async def update(self, namespace: str | None, name: str, body: Any = None, *,
                     subresource: str | None = None, patch: tuple[str, Any] | None = None,
                     mutate: Callable[[Obj], Obj | None] | None = None, dry_run: bool = False) -> Obj:
        """PUT (body), PATCH (patch=(type, doc)) or an internal mutation; CAS with retries."""
        key = self.key(namespace, name)
        expected: int | None = None
        if body is not None:
            body = self._check_type(body)
            bmeta = body["metadata"]
            if bmeta.get("name") and bmeta["name"] != name:
                raise errors.BadRequestError(
                    f"the name of the object ({bmeta['name']}) does not match the name on the URL ({name})")
            if (self.resource.namespaced and bmeta.get("namespace") and namespace
                    and bmeta["namespace"] != namespace):
                raise errors.BadRequestError("the namespace of the provided object does not match the "
                                             "namespace sent on the request")
            if bmeta.get("resourceVersion"):
                expected = self._parse_rv(bmeta["resourceVersion"])
        for attempt in range(MAX_RETRIES):
            cur = await self._current(namespace, name, key, use_cache=attempt == 0 and expected is None)
            if cur is None:
                raise self.not_found(name)
            old = cur.obj
            if expected is not None and expected != cur.revision:
                raise errors.conflict(self.resource.plural, name, self.resource.group)
            if body is not None:
                new = copy.deepcopy(body)
            elif patch is not None:
                new = self._apply_patch(old, *patch)
                prv = (new.get("metadata") or {}).get("resourceVersion")
                if prv and prv != old["metadata"].get("resourceVersion"):
                    raise errors.conflict(self.resource.plural, name, self.resource.group)
                new = self._check_type(new)
            else:
                assert mutate is not None
                maybe = mutate(copy.deepcopy(old))
                if maybe is None:
                    return old
                new = maybe
            result = await self._write_update(key, name, new, old, cur.revision, subresource, dry_run,
                                              verified=attempt > 0 or expected is not None)
            if result is not None:
                return result
            if expected is not None:
                raise errors.conflict(self.resource.plural, name, self.resource.group)
        raise errors.conflict(self.resource.plural, name, self.resource.group)

    async def _current(self, namespace: str | None, name: str, key: str, *, use_cache: bool) -> StoredObject | None:
        """The object to base a write on. The watch cache saves an etcd read; if its copy is stale the
        compare-and-swap fails and the retry reads etcd. Cached objects must not be mutated."""
        if use_cache:
            cached = self.cache.get(namespace if self.resource.namespaced else None, name)
            if cached is not None:
                return StoredObject(cached, int(cached["metadata"]["resourceVersion"]))
        return await self.storage.get(key)

    def _parse_rv(self, rv: Any) -> int:
        try:
            return int(rv)
        except (TypeError, ValueError):
            raise errors.BadRequestError(f"invalid resourceVersion: {rv!r}") from None

    def _apply_patch(self, old: Obj, patch_type: str, doc: Any) -> Obj:
        if patch_type == "json":
            return apply_json_patch(old, doc)
        if patch_type == "strategic":
            if not isinstance(doc, dict):
                raise errors.BadRequestError("strategic merge patch must be a JSON object")
            return apply_strategic_merge_patch(old, doc, self.resource.kind)
        return apply_merge_patch(old, doc)

    async def _write_update(self, key: str, name: str, new: Obj, old: Obj, revision: int,
                            subresource: str | None, dry_run: bool, verified: bool = True) -> Obj | None:
        """Write new over old; None means "read again and retry" (CAS lost, or a no-op seen on a
        cached copy that etcd must confirm)."""
        meta = new.setdefault("metadata", {})
        ometa = old["metadata"]
        for k in SYSTEM_META:
            if k in ometa:
                meta[k] = ometa[k]
            else:
                meta.pop(k, None)
        if subresource == "status":
            self.strategy.prepare_for_status_update(new, old)
        elif subresource == "finalize":
            self.strategy.prepare_finalize(new, old)
        elif subresource != "binding":
            self.strategy.prepare_for_update(new, old)
        if subresource != "binding":  # binding only sets nodeName and a condition, like kube-apiserver
            new = self.admit(new, old)
        meta = new["metadata"]
        if subresource != "status" and self.strategy.generation_changed(new, old):
            meta["generation"] = int(ometa.get("generation") or 0) + 1
        claims, releases = await self.strategy.allocate(new, old)
        meta.pop("resourceVersion", None)
        cmp_old = {**old, "metadata": {k: v for k, v in ometa.items() if k != "resourceVersion"}}
        if new == cmp_old:
            # no-op: kube-apiserver does not write, the resourceVersion stays
            return old if verified else None
        if dry_run:
            return new
        if meta.get("deletionTimestamp") and not meta.get("finalizers") \
                and not (meta.get("deletionGracePeriodSeconds") or 0) and self._finalizers_done(new):
            # the last finalizer went away: the object can finally leave storage
            rev = await self.storage.delete(key, revision, releases=self.strategy.claims_of(old))
            if rev is None:
                return None
            meta["resourceVersion"] = str(rev)
            return new
        res = await self.storage.update(key, new, revision, claims=claims, releases=releases)
        if res is None:
            for c in claims:
                if await self.storage.get(c) is not None and c not in self.strategy.claims_of(old):
                    raise self._claim_taken(c, name)
            return None
        return res[0]

    def _finalizers_done(self, obj: Obj) -> bool:
        """Namespaces also wait for spec.finalizers."""
        return not ((obj.get("spec") or {}).get("finalizers") if self.resource.plural == "namespaces" else None)

    async def delete(self, namespace: str | None, name: str, opts: DeleteOptions, *,
                     dry_run: bool = False) -> Obj:
        key = self.key(namespace, name)
        for attempt in range(MAX_RETRIES):
            cur = await self._current(namespace, name, key, use_cache=attempt == 0)
            if cur is None:
                raise self.not_found(name)
            obj = cur.obj
            meta = obj["metadata"]
            if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
                raise errors.ConflictError(
                    f"Precondition failed: UID in precondition: {opts.precondition_uid}, UID in object meta: "
                    f"{meta.get('uid')}", details={"name": name, "kind": self.resource.plural})
            if opts.precondition_rv and opts.precondition_rv != meta.get("resourceVersion"):
                raise errors.ConflictError(
                    f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, "
                    f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
                    details={"name": name, "kind": self.resource.plural})
            new = copy.deepcopy(obj)
            nmeta = new["metadata"]
            nmeta.pop("resourceVersion", None)
            fins = list(nmeta.get("finalizers") or [])
            if opts.propagation_policy == "Orphan" and "orphan" not in fins:
                fins.append("orphan")
            if opts.propagation_policy == "Foreground" and "foregroundDeletion" not in fins:
                fins.append("foregroundDeletion")
            if fins:
                nmeta["finalizers"] = fins
            grace = self.strategy.graceful_delete(obj, opts.grace_period_seconds)
            pending = grace is not None or bool(fins) or not self._finalizers_done(obj)
            if pending:
                if grace is not None:
                    prior = nmeta.get("deletionGracePeriodSeconds")
                    if prior is None or grace < prior:
                        nmeta["deletionTimestamp"] = now_rfc3339(grace)
                        nmeta["deletionGracePeriodSeconds"] = grace
                elif not nmeta.get("deletionTimestamp"):
                    nmeta["deletionTimestamp"] = now_rfc3339()
                    nmeta["deletionGracePeriodSeconds"] = 0
                self.strategy.mark_deleting(new)
                cmp_old = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
                if new == cmp_old:
                    if attempt == 0:
                        continue  # seen on the cached copy: confirm with etcd
                    return obj
                if dry_run:
                    return new
                res = await self.storage.update(key, new, cur.revision)
                if res is None:
                    continue
                return res[0]
            if dry_run:
                return obj
            rev = await self.storage.delete(key, cur.revision, releases=self.strategy.claims_of(obj))
            if rev is None:
                continue
            self.strategy.on_deleted(obj)
            return obj
        raise errors.conflict(self.resource.plural, name, self.resource.group)

    async def delete_collection(self, namespace: str | None, opts: DeleteOptions, *,
                                label_selector: str | None = None, field_selector: str | None = None) -> Obj:
        listed = await self.list(namespace, label_selector=label_selector, field_selector=field_selector)
        deleted = []
        for item in listed["items"]:
            meta = item["metadata"]
            try:
                deleted.append(await self.delete(meta.get("namespace"), meta["name"], opts))
            except errors.NotFoundError:
                continue
        listed["items"] = deleted
        return listed

    async def watch(self, namespace: str | None, *, label_selector: str | None = None,
                    field_selector: str | None = None, resource_version: str | None = None,
                    bookmarks: bool = False, send_initial_events: bool = False) -> Watcher:
        flt = selector_filter(self.resource.plural, label_selector, field_selector)
        rv = self._parse_rv(resource_version) if resource_version not in (None, "", "0") else None
        ns = namespace if self.resource.namespaced else None
        return await self.cache.watch(rv, ns, flt, bookmarks, consistent=resource_version in (None, ""),
                                      initial_events=send_initial_events)
