"""The resource table: every kind minik serves, with the names kubectl and discovery use.

The apiserver routes and storage keys, the client's REST mapping and minictl's short names
all read this one table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from minik.api.apps import ControllerRevision, DaemonSet, Deployment, ReplicaSet
from minik.api.coordination import Lease
from minik.api.core import ConfigMap, Endpoints, Event, Namespace, Node, Pod, Service
from minik.api.meta import TypedObject


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    model: type[TypedObject]
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = field(default=(
        "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"))

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """`pods`, `deployments.apps`: the name Status messages and kubectl use."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base

    def key(self, namespace: str | None, name: str = "") -> str:
        """etcd key (or prefix, when name is empty): /registry/{plural}/{ns}/{name}."""
        if self.namespaced:
            prefix = f"/registry/{self.plural}/{namespace}/" if namespace else f"/registry/{self.plural}/"
        else:
            prefix = f"/registry/{self.plural}/"
        return prefix + name


RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "Namespace", "namespaces", "namespace", False, Namespace, ("ns",),
             ("status", "finalize"),
             verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    Resource("", "v1", "Pod", "pods", "pod", True, Pod, ("po",),
             ("status", "binding", "log", "exec"), ("all",)),
    Resource("", "v1", "Node", "nodes", "node", False, Node, ("no",), ("status", "token")),
    Resource("", "v1", "Service", "services", "service", True, Service, ("svc",), ("status",), ("all",),
             verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    Resource("", "v1", "Endpoints", "endpoints", "endpoints", True, Endpoints, ("ep",)),
    Resource("", "v1", "Event", "events", "event", True, Event, ("ev",)),
    Resource("", "v1", "ConfigMap", "configmaps", "configmap", True, ConfigMap, ("cm",)),
    Resource("coordination.k8s.io", "v1", "Lease", "leases", "lease", True, Lease),
    Resource("apps", "v1", "ReplicaSet", "replicasets", "replicaset", True, ReplicaSet, ("rs",),
             ("status", "scale"), ("all",)),
    Resource("apps", "v1", "Deployment", "deployments", "deployment", True, Deployment, ("deploy",),
             ("status", "scale"), ("all",)),
    Resource("apps", "v1", "DaemonSet", "daemonsets", "daemonset", True, DaemonSet, ("ds",),
             ("status",), ("all",)),
    Resource("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", True,
             ControllerRevision),
)

# `kubectl get all` order: pods, services, daemonsets, deployments, replicasets.
ALL_CATEGORY_ORDER = ("pods", "services", "daemonsets", "deployments", "replicasets")


def by_kind(api_version: str, kind: str) -> Resource | None:
    for r in RESOURCES:
        if r.kind == kind and r.api_version == api_version:
            return r
    return None


def lookup(name: str) -> Resource | None:
    """Resolve what a user types: plural, singular, short name, kind, or `plural.group`."""
    text = name.lower()
    for r in RESOURCES:
        names = {r.plural, r.singular, r.kind.lower(), *r.short_names,
                 f"{r.plural}.{r.group}" if r.group else r.plural,
                 f"{r.singular}.{r.group}" if r.group else r.singular}
        if text in names:
            return r
    return None


def require(name: str) -> Resource:
    """`lookup` for names the code itself spells (not user input): a typo is a bug, so it raises."""
    found = lookup(name)
    if found is None:
        raise KeyError(f"no resource named {name!r}")
    return found


def groups() -> dict[str, list[Resource]]:
    """group/version -> resources, for discovery."""
    out: dict[str, list[Resource]] = {}
    for r in RESOURCES:
        out.setdefault(r.api_version, []).append(r)
    return out
