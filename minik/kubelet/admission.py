"""Pod admission on the node (lifecycle.predicateAdmitHandler): does the pod fit what is left?

The scheduler already checked, but a pod created with spec.nodeName set skips the scheduler, and the
node is the last line of defence: a pod that does not fit is rejected with phase Failed and the
reason kubectl then shows in STATUS (OutOfcpu, OutOfmemory, OutOfpods).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from minik.kubelet.resources import pod_requests
from minik.kubelet.types import Obj


@dataclass(frozen=True)
class AdmitResult:
    admit: bool
    reason: str = ""
    message: str = ""


def can_admit_pod(pod: Obj, admitted: Iterable[Obj], allocatable: dict[str, int]) -> AdmitResult:
    """Check the pod's requests against allocatable minus what the already admitted pods request.

    `allocatable` holds cpu in millicores, memory in bytes and pods as a count.
    """
    others = list(admitted)
    max_pods = allocatable.get("pods")
    if max_pods is not None and len(others) + 1 > max_pods:
        return AdmitResult(False, "OutOfpods", _insufficient("pods", 1, len(others), max_pods))
    wanted = pod_requests(pod)
    for resource in ("cpu", "memory"):
        capacity = allocatable.get(resource)
        requested = wanted.get(resource, 0)
        if capacity is None or requested == 0:
            continue
        used = sum(pod_requests(other).get(resource, 0) for other in others)
        if used + requested > capacity:
            return AdmitResult(False, f"OutOf{resource}", _insufficient(resource, requested, used, capacity))
    return AdmitResult(True)


def _insufficient(resource: str, requested: int, used: int, capacity: int) -> str:
    return (f"Pod was rejected: Node didn't have enough resource: {resource}, requested: {requested}, "
            f"used: {used}, capacity: {capacity}")
