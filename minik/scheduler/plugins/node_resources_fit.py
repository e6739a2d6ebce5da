"""NodeResourcesFit: the pod's requests must fit what the node has left; scoring prefers emptier nodes.

Left = allocatable minus the requests of the pods already on the node (bound or assumed). Every
resource that does not fit is reported (`Insufficient cpu`, `Insufficient memory`, `Too many pods`),
so the FitError histogram counts each. A request larger than the whole node cannot be helped by
evicting anyone, so that is UnschedulableAndUnresolvable (preemption then says "not helpful").

The score is the LeastAllocated strategy (formerly the NodeResourcesLeastAllocated plugin):
mean over cpu and memory of free/allocatable after placing the pod, using kube-scheduler's
non-zero defaults (100m, 200Mi) for containers that request nothing.
"""

from __future__ import annotations

from minik.scheduler.framework import (
    ASSIGNED_POD_DELETE,
    MAX_NODE_SCORE,
    NODE_ADD,
    NODE_ALLOCATABLE_CHANGE,
    ClusterEventWithHint,
    CycleState,
    EnqueueExtensions,
    FilterPlugin,
    ScorePlugin,
    Status,
)
from minik.scheduler.node_info import NodeInfo
from minik.scheduler.plugins.helper import passes_filter
from minik.scheduler.pod_info import PodInfo

NAME = "NodeResourcesFit"
REASON_TOO_MANY_PODS = "Too many pods"
REASON_INSUFFICIENT_CPU = "Insufficient cpu"
REASON_INSUFFICIENT_MEMORY = "Insufficient memory"


def insufficient_resources(pod: PodInfo, node: NodeInfo) -> tuple[list[str], bool]:
    """fitsRequest: (reasons, unresolvable) for everything the node lacks."""
    reasons: list[str] = []
    unresolvable = False
    alloc, used, req = node.allocatable, node.requested, pod.requests
    if len(node.pods) + 1 > alloc.allowed_pod_number:
        reasons.append(REASON_TOO_MANY_PODS)
    if req.milli_cpu == 0 and req.memory == 0:
        return reasons, unresolvable
    if req.milli_cpu > 0 and req.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        reasons.append(REASON_INSUFFICIENT_CPU)
        unresolvable = unresolvable or req.milli_cpu > alloc.milli_cpu
    if req.memory > 0 and req.memory > alloc.memory - used.memory:
        reasons.append(REASON_INSUFFICIENT_MEMORY)
        unresolvable = unresolvable or req.memory > alloc.memory
    return reasons, unresolvable


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


class NodeResourcesFit(FilterPlugin, ScorePlugin, EnqueueExtensions):
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        # Fast path for the common case: a free pod slot and room for both requests.
        alloc, used, req = node.allocatable, node.requested, pod.requests
        if len(node.pods) < alloc.allowed_pod_number and req.milli_cpu <= alloc.milli_cpu - used.milli_cpu \
                and req.memory <= alloc.memory - used.memory:
            return None
        reasons, unresolvable = insufficient_resources(pod, node)
        if not reasons:
            return None
        if unresolvable:
            return Status.unresolvable(*reasons, plugin=NAME)
        return Status.unschedulable(*reasons, plugin=NAME)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        alloc, used, req = node.allocatable, node.non_zero_requested, pod.non_zero_requests
        total = weights = 0
        if alloc.milli_cpu:
            total += least_requested_score(used.milli_cpu + req.milli_cpu, alloc.milli_cpu)
            weights += 1
        if alloc.memory:
            total += least_requested_score(used.memory + req.memory, alloc.memory)
            weights += 1
        return total // weights if weights else 0

    def events_to_register(self) -> list[ClusterEventWithHint]:
        hint = lambda pod, node: passes_filter(self, pod, node)  # noqa: E731
        return [ClusterEventWithHint(NODE_ADD, hint), ClusterEventWithHint(NODE_ALLOCATABLE_CHANGE, hint),
                ClusterEventWithHint(ASSIGNED_POD_DELETE, hint)]
