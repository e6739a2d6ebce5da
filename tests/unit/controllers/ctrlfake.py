"""Fakes for controller unit tests, in the style of Kubernetes' controller tests: a client that
keeps objects in memory and records every action, a recorder that keeps Events, and informers
whose caches the test fills directly (nothing is started, no thread runs)."""

from __future__ import annotations

import copy
import itertools
import uuid
from dataclasses import dataclass
from typing import Any

from minik.api.errors import AlreadyExistsError, ConflictError, NotFoundError, StatusError
from minik.api.names import generate_name
from minik.api.resources import Resource, require
from minik.apiserver.patch import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from minik.controllers.informers import InformerFactory

Obj = dict[str, Any]




@dataclass
class Action:
    verb: str  # get, create, update, patch, delete
    resource: str  # plural
    namespace: str | None
    name: str
    subresource: str | None = None
    body: Any = None
    options: Any = None

    def __repr__(self) -> str:
        sub = f"/{self.subresource}" if self.subresource else ""
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.verb} {self.resource}{sub} {where}{self.name}"


class FakeClient:
    """In-memory API: objects by (plural, namespace, name); every call is recorded in `actions`."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.actions: list[Action] = []
        self.failures: list[tuple[str, str, StatusError]] = []
        self._rv = itertools.count(100)

    # --- setup ----------------------------------------------------------------------------

    def add(self, r: Resource, obj: Obj) -> Obj:
        """Store an object without recording an action (test setup)."""
        obj = copy.deepcopy(obj)
        m = obj.setdefault("metadata", {})
        m.setdefault("uid", str(uuid.uuid4()))
        m.setdefault("resourceVersion", str(next(self._rv)))
        if r.namespaced:
            m.setdefault("namespace", "default")
        obj.setdefault("apiVersion", r.api_version)
        obj.setdefault("kind", r.kind)
        self.objects[(r.plural, m.get("namespace", "") if r.namespaced else "", m["name"])] = obj
        return obj

    def fail(self, verb: str, plural: str, error: StatusError) -> None:
        """The next `verb` on `plural` raises `error`."""
        self.failures.append((verb, plural, error))

    def verbs(self, *skip: str) -> list[str]:
        """The recorded actions as strings, ignoring the verbs in skip (usually "get")."""
        return [repr(a) for a in self.actions if a.verb not in skip]

    def writes(self) -> list[Action]:
        return [a for a in self.actions if a.verb != "get"]

    def clear(self) -> None:
        self.actions.clear()

    # --- the API --------------------------------------------------------------------------

    def _check_fail(self, verb: str, r: Resource) -> None:
        for i, (v, plural, err) in enumerate(self.failures):
            if v == verb and plural == r.plural:
                del self.failures[i]
                raise err

    def _key(self, r: Resource, namespace: str | None, name: str) -> tuple[str, str, str]:
        return (r.plural, (namespace or "default") if r.namespaced else "", name)

    def get(self, r: Resource, name: str, namespace: str | None = None) -> Obj:
        self.actions.append(Action("get", r.plural, namespace, name))
        self._check_fail("get", r)
        obj = self.objects.get(self._key(r, namespace, name))
        if obj is None:
            raise NotFoundError(f'{r.plural} "{name}" not found')
        return copy.deepcopy(obj)

    def list_all(self, r: Resource, namespace: str | None = None, **_: Any) -> tuple[list[Obj], str]:
        items = [copy.deepcopy(o) for (p, ns, _n), o in self.objects.items()
                 if p == r.plural and (namespace is None or ns == namespace)]
        return items, "1"

    def list(self, r: Resource, namespace: str | None = None, **_: Any) -> Obj:
        return {"items": self.list_all(r, namespace)[0]}

    def watch(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("unit tests fill informer caches directly")

    def create(self, r: Resource, obj: Obj, namespace: str | None = None) -> Obj:
        obj = copy.deepcopy(obj)
        m = obj.setdefault("metadata", {})
        ns = namespace or m.get("namespace") or "default"
        if not m.get("name") and m.get("generateName"):
            m["name"] = generate_name(m["generateName"])
        self.actions.append(Action("create", r.plural, ns if r.namespaced else None, m.get("name", ""),
                                   body=copy.deepcopy(obj)))
        self._check_fail("create", r)
        if self._key(r, ns, m["name"]) in self.objects:
            raise AlreadyExistsError(f'{r.plural} "{m["name"]}" already exists')
        if r.namespaced:
            m["namespace"] = ns
        m["uid"] = str(uuid.uuid4())
        m["resourceVersion"] = str(next(self._rv))
        m.setdefault("creationTimestamp", "2024-01-01T00:00:00Z")
        if r.kind in ("Deployment", "ReplicaSet", "DaemonSet"):
            m["generation"] = 1
        obj.setdefault("apiVersion", r.api_version)
        obj.setdefault("kind", r.kind)
        self.objects[self._key(r, ns, m["name"])] = obj
        return copy.deepcopy(obj)

    def _store_update(self, r: Resource, obj: Obj, subresource: str | None, verb: str) -> Obj:
        m = obj["metadata"]
        key = self._key(r, m.get("namespace"), m["name"])
        cur = self.objects.get(key)
        if cur is None:
            raise NotFoundError(f'{r.plural} "{m["name"]}" not found')
        if m.get("resourceVersion") and m["resourceVersion"] != cur["metadata"].get("resourceVersion"):
            raise ConflictError(f'Operation cannot be fulfilled on {r.plural} "{m["name"]}": the object has '
                                "been modified; please apply your changes to the latest version and try again")
        new = copy.deepcopy(cur)
        if subresource == "status":
            new["status"] = copy.deepcopy(obj.get("status"))
        else:
            status = new.get("status")
            new = copy.deepcopy(obj)
            if status is not None and r.plural != "pods":
                new["status"] = status
            if new.get("spec") != cur.get("spec") and "generation" in cur["metadata"]:
                new["metadata"]["generation"] = cur["metadata"]["generation"] + 1
        new["metadata"]["resourceVersion"] = str(next(self._rv))
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            del self.objects[key]
        else:
            self.objects[key] = new
        return copy.deepcopy(new)

    def update(self, r: Resource, obj: Obj, subresource: str | None = None) -> Obj:
        m = obj["metadata"]
        self.actions.append(Action("update", r.plural, m.get("namespace"), m["name"], subresource,
                                   copy.deepcopy(obj)))
        self._check_fail("update", r)
        return self._store_update(r, obj, subresource, "update")

    def update_status(self, r: Resource, obj: Obj) -> Obj:
        return self.update(r, obj, "status")

    def patch(self, r: Resource, name: str, body: Any, namespace: str | None = None, *,
              patch_type: str = "merge", subresource: str | None = None) -> Obj:
        self.actions.append(Action("patch", r.plural, namespace if r.namespaced else None, name, subresource,
                                   copy.deepcopy(body), patch_type))
        self._check_fail("patch", r)
        cur = self.objects.get(self._key(r, namespace, name))
        if cur is None:
            raise NotFoundError(f'{r.plural} "{name}" not found')
        if patch_type == "strategic":
            new = apply_strategic_merge_patch(cur, body, r.kind)
        elif patch_type == "json":
            new = apply_json_patch(cur, body)
        else:
            new = apply_merge_patch(cur, body)
        new["metadata"]["uid"] = cur["metadata"]["uid"]
        new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        return self._store_update(r, new, subresource, "patch")

    def delete(self, r: Resource, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None,
               preconditions: Any = None) -> Obj:
        self.actions.append(Action("delete", r.plural, namespace if r.namespaced else None, name,
                                   options={"propagationPolicy": propagation_policy,
                                            "gracePeriodSeconds": grace_period_seconds,
                                            "preconditions": preconditions}))
        self._check_fail("delete", r)
        obj = self.objects.pop(self._key(r, namespace, name), None)
        if obj is None:
            raise NotFoundError(f'{r.plural} "{name}" not found')
        return obj

    def bind(self, namespace: str, name: str, node: str) -> None:
        self.actions.append(Action("create", "pods", namespace, name, "binding", node))


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append(((obj.get("metadata") or {}).get("name", ""), type_, reason, message))

    def reasons(self) -> list[str]:
        return [e[2] for e in self.events]

    def messages(self) -> list[str]:
        return [e[3] for e in self.events]


class Harness:
    """A fake client + recorder + an informer factory whose caches the test fills by hand."""

    def __init__(self) -> None:
        self.client = FakeClient()
        self.recorder = FakeRecorder()
        self.factory = InformerFactory(self.client)

    def cache(self, plural: str, *objs: Obj) -> list[Obj]:
        """Put objects in both the fake server and the informer cache (as a synced informer would)."""
        r = require(plural)
        stored = []
        for obj in objs:
            o = self.client.add(r, obj)
            self.factory.informer(plural).store.add(copy.deepcopy(o))
            stored.append(o)
        return stored

    def refresh(self, plural: str) -> None:
        """Make the informer cache match the fake server (as if every watch event arrived)."""
        r = require(plural)
        store = self.factory.informer(plural).store
        store.replace(copy.deepcopy(o) for (p, _ns, _n), o in self.client.objects.items() if p == r.plural)

    def stored(self, plural: str, namespace: str | None = None) -> list[Obj]:
        return [o for (p, ns, _n), o in self.client.objects.items()
                if p == plural and (namespace is None or ns == namespace)]


# --- object builders ---------------------------------------------------------------------------

_counter = itertools.count(1)


def pod(name: str, labels: dict[str, str] | None = None, *, ns: str = "default", owner: Obj | None = None,
        node: str | None = None, phase: str = "Pending", ready: bool = False, ip: str | None = None,
        created: str = "2024-01-01T00:00:00Z", deleting: bool = False, ready_since: str | None = None,
        ports: list[Obj] | None = None) -> Obj:
    m: Obj = {"name": name, "namespace": ns, "labels": dict(labels or {}), "uid": f"uid-{name}",
              "creationTimestamp": created, "resourceVersion": str(next(_counter))}
    if owner is not None:
        om = owner["metadata"]
        m["ownerReferences"] = [{"apiVersion": owner.get("apiVersion", "apps/v1"), "kind": owner["kind"],
                                 "name": om["name"], "uid": om["uid"], "controller": True,
                                 "blockOwnerDeletion": True}]
    if deleting:
        m["deletionTimestamp"] = "2024-01-01T00:00:30Z"
    spec: Obj = {"containers": [{"name": "app", "image": "minik/app:v1", "ports": ports or []}]}
    if node:
        spec["nodeName"] = node
    status: Obj = {"phase": phase}
    if ready:
        status["conditions"] = [{"type": "Ready", "status": "True",
                                 "lastTransitionTime": ready_since or created}]
    if ip:
        status["podIP"] = ip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": spec, "status": status}


def replica_set(name: str, replicas: int, labels: dict[str, str] | None = None, *, ns: str = "default",
                owner: Obj | None = None, generation: int = 1, **spec: Any) -> Obj:
    labels = labels or {"app": name}
    m: Obj = {"name": name, "namespace": ns, "uid": f"uid-{name}", "generation": generation,
              "creationTimestamp": "2024-01-01T00:00:00Z", "labels": dict(labels)}
    if owner is not None:
        m["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner["kind"], "name": owner["metadata"]["name"],
                                 "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": m,
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": [{"name": "app", "image": "minik/app:v1"}]}}, **spec}}
