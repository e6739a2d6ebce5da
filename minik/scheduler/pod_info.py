"""PodInfo: a pod parsed once, with what every cycle needs (requests, tolerations, owner) precomputed.

The scheduler looks at one pod against hundreds of nodes; parsing quantities or walking containers
per node would dominate the cycle, so all of it happens here, once per pod version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from minik.api.core import Container, Pod, Toleration
from minik.api.quantity import milli_value, value

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# kube-scheduler's defaults for containers that request nothing, used only for scoring so that
# BestEffort pods still spread instead of piling onto one "empty" node.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


@dataclass(slots=True)
class Resource:
    """The resources the scheduler accounts for: cpu in millicores, memory in bytes, pod slots."""

    milli_cpu: int = 0
    memory: int = 0
    allowed_pod_number: int = 0

    def add(self, other: Resource) -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory

    def sub(self, other: Resource) -> None:
        self.milli_cpu -= other.milli_cpu
        self.memory -= other.memory

    def set_max(self, other: Resource) -> None:
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)

    def copy(self) -> Resource:
        return Resource(self.milli_cpu, self.memory, self.allowed_pod_number)

    def is_zero(self) -> bool:
        return self.milli_cpu == 0 and self.memory == 0


@lru_cache(maxsize=4096)
def cpu_millis(text: str) -> int:
    """`500m` -> 500; cached because the same few strings repeat across thousands of pods."""
    return milli_value(text)


@lru_cache(maxsize=4096)
def bytes_value(text: str) -> int:
    return value(text)


def _quantity(resources: dict[str, str] | None, name: str, parse: Any, where: str) -> int | None:
    if not resources or name not in resources:
        return None
    try:
        return int(parse(str(resources[name])))
    except ValueError:
        log.warning("%s: ignoring unparsable %s quantity %r", where, name, resources[name])
        return 0


def resource_list(resources: dict[str, str] | None, where: str = "") -> Resource:
    """A ResourceList (requests or allocatable) as a Resource; missing entries are 0."""
    return Resource(
        _quantity(resources, "cpu", cpu_millis, where) or 0,
        _quantity(resources, "memory", bytes_value, where) or 0,
        _quantity(resources, "pods", bytes_value, where) or 0,
    )


def _container_requests(c: Container, non_zero: bool, where: str) -> Resource:
    requests = c.resources.requests if c.resources else None
    cpu = _quantity(requests, "cpu", cpu_millis, where)
    mem = _quantity(requests, "memory", bytes_value, where)
    if non_zero:
        # Only a *missing* request gets the default: an explicit 0 stays 0, as in Kubernetes.
        cpu = DEFAULT_MILLI_CPU_REQUEST if cpu is None else cpu
        mem = DEFAULT_MEMORY_REQUEST if mem is None else mem
    return Resource(cpu or 0, mem or 0)


def pod_requests(pod: Pod, non_zero: bool = False) -> Resource:
    """resourcehelper.PodRequests: sum(app containers) vs max(init containers), plus overhead.

    Init containers run one at a time before the app containers, so the pod needs the larger of
    the two. Restartable init containers (sidecars, `restartPolicy: Always`) keep running: they
    count towards the app sum and towards every later init container.
    """
    where = f"pod {pod.metadata.namespace}/{pod.metadata.name}"
    reqs = Resource()
    for c in pod.spec.containers:
        reqs.add(_container_requests(c, non_zero, where))
    sidecars = Resource()
    init_max = Resource()
    for c in pod.spec.init_containers or []:
        r = _container_requests(c, non_zero, where)
        if (c.model_extra or {}).get("restartPolicy") == "Always":
            reqs.add(r)
            sidecars.add(r)
            r = sidecars.copy()
        else:
            r.add(sidecars)
        init_max.set_max(r)
    reqs.set_max(init_max)
    overhead = (pod.spec.model_extra or {}).get("overhead")
    if isinstance(overhead, dict):
        reqs.add(resource_list(overhead, where))
    return reqs


def controller_uid(pod: Pod) -> str | None:
    """The uid of the pod's managing controller (the ownerReference with controller: true)."""
    for ref in pod.metadata.owner_references or []:
        if ref.controller and ref.uid:
            return ref.uid
    return None


class PodInfo:
    """One version of a pod, parsed; the raw dict stays available for events and patches."""

    __slots__ = ("obj", "pod", "key", "uid", "namespace", "name", "priority", "requests",
                 "non_zero_requests", "tolerations", "owner_uid", "node_name", "scheduler_name")

    def __init__(self, obj: Obj, pod: Pod | None = None) -> None:
        self.obj = obj
        self.pod = pod if pod is not None else Pod.model_validate(obj)
        meta = self.pod.metadata
        self.namespace = meta.namespace or ""
        self.name = meta.name or ""
        self.uid = meta.uid or f"{self.namespace}/{self.name}"
        self.key = f"{self.namespace}/{self.name}"
        spec = self.pod.spec
        self.priority = spec.priority or 0
        self.requests = pod_requests(self.pod)
        self.non_zero_requests = pod_requests(self.pod, non_zero=True)
        self.tolerations: list[Toleration] = list(spec.tolerations or [])
        self.owner_uid = controller_uid(self.pod)
        self.node_name = spec.node_name or ""
        self.scheduler_name = spec.scheduler_name or ""

    @classmethod
    def parse(cls, obj: Obj) -> PodInfo | None:
        """PodInfo, or None (logged) for an object the model cannot read: bad data never crashes us."""
        try:
            return cls(obj)
        except Exception as e:  # pydantic ValidationError, or a type error deep in a field
            meta = obj.get("metadata") if isinstance(obj, dict) else None
            name = meta.get("name") if isinstance(meta, dict) else None
            log.warning("ignoring pod %r that cannot be parsed: %s", name, e)
            return None

    def __repr__(self) -> str:
        return f"<PodInfo {self.key}>"
