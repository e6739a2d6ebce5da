"""NodeInfo: one node plus the pods the scheduler believes run there (bound or assumed).

Filters and scores read only this: allocatable, the sum of requests already placed, taints and
labels, all parsed when the node or a pod changes, never per cycle.
"""

from __future__ import annotations

import logging

from minik.api.core import Node, Taint
from minik.scheduler.pod_info import PodInfo, Resource, resource_list

log = logging.getLogger(__name__)


class NodeInfo:
    __slots__ = ("name", "node", "labels", "taints", "unschedulable", "allocatable", "requested",
                 "non_zero_requested", "pods", "owner_counts", "generation")

    def __init__(self, name: str, node: Node | None = None) -> None:
        self.name = name
        self.node: Node | None = None
        self.labels: dict[str, str] = {}
        self.taints: list[Taint] = []
        self.unschedulable = False
        self.allocatable = Resource()
        self.requested = Resource()
        # requests with kube-scheduler's defaults for containers that ask for nothing (scoring only)
        self.non_zero_requested = Resource()
        self.pods: dict[str, PodInfo] = {}  # pod uid -> PodInfo
        # controller uid -> pods of that controller here, for spreading replicas
        self.owner_counts: dict[str, int] = {}
        self.generation = 0
        if node is not None:
            self.set_node(node)

    def set_node(self, node: Node) -> None:
        self.node = node
        self.labels = dict(node.metadata.labels or {})
        self.taints = list(node.spec.taints or [])
        self.unschedulable = bool(node.spec.unschedulable)
        allocatable = node.status.allocatable if node.status else None
        self.allocatable = resource_list(allocatable, f"node {self.name}")
        self.generation += 1

    def remove_node(self) -> None:
        """The Node object is gone; pods may still be accounted until their own deletes arrive."""
        self.node = None
        self.generation += 1

    def add_pod(self, pod: PodInfo) -> None:
        old = self.pods.get(pod.uid)
        if old is not None:
            self._account(old, -1)
        self.pods[pod.uid] = pod
        self._account(pod, +1)
        self.generation += 1

    def remove_pod(self, uid: str) -> PodInfo | None:
        old = self.pods.pop(uid, None)
        if old is not None:
            self._account(old, -1)
            self.generation += 1
        return old

    def _account(self, pod: PodInfo, sign: int) -> None:
        r, nz = pod.requests, pod.non_zero_requests
        self.requested.milli_cpu += sign * r.milli_cpu
        self.requested.memory += sign * r.memory
        self.non_zero_requested.milli_cpu += sign * nz.milli_cpu
        self.non_zero_requested.memory += sign * nz.memory
        if pod.owner_uid:
            n = self.owner_counts.get(pod.owner_uid, 0) + sign
            if n > 0:
                self.owner_counts[pod.owner_uid] = n
            else:
                self.owner_counts.pop(pod.owner_uid, None)

    def clone(self) -> NodeInfo:
        """A copy whose pod set can change without touching the cache (preemption's what-if)."""
        c = NodeInfo(self.name)
        c.node = self.node
        c.labels = self.labels
        c.taints = self.taints
        c.unschedulable = self.unschedulable
        c.allocatable = self.allocatable.copy()
        c.requested = self.requested.copy()
        c.non_zero_requested = self.non_zero_requested.copy()
        c.pods = dict(self.pods)
        c.owner_counts = dict(self.owner_counts)
        c.generation = self.generation
        return c

    def __repr__(self) -> str:
        return f"<NodeInfo {self.name} pods={len(self.pods)} requested={self.requested}>"
