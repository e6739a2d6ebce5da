"""Pod facts controllers agree on: ready, available, active, and which pod to delete first.

The deletion order is Kubernetes' ActivePods ranking, so scaling down removes the pods that
serve the least traffic: unscheduled before scheduled, pending before running, not ready before
ready, pods doubled up on a node first, recently ready before long ready, more restarts first,
newest first.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from minik.controllers.timeutil import parse_rfc3339

Obj = dict[str, Any]

_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def pod_key(pod: Obj) -> str:
    m = meta(pod)
    return f"{m.get('namespace', '')}/{m.get('name', '')}"


def get_condition(pod: Obj, type_: str) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == type_:
            return cond
    return None


def is_pod_ready(pod: Obj) -> bool:
    cond = get_condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def is_pod_available(pod: Obj, min_ready_seconds: int, now: float | None = None) -> bool:
    """Ready for at least minReadySeconds (measured from the Ready condition's transition)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    cond = get_condition(pod, "Ready") or {}
    since = parse_rfc3339(cond.get("lastTransitionTime"))
    if since is None:
        return False
    return since + min_ready_seconds < (time.time() if now is None else now)


def is_pod_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_pod_active(pod: Obj) -> bool:
    """Counts toward a controller's replicas: not finished and not being deleted."""
    return not is_pod_terminal(pod) and not meta(pod).get("deletionTimestamp")


def filter_active_pods(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if is_pod_active(p)]


def _restarts(pod: Obj) -> int:
    return max((int(s.get("restartCount") or 0) for s in (pod.get("status") or {}).get("containerStatuses") or []
                if isinstance(s, dict)), default=0)


def deletion_rank_key(pod: Obj, rank: int = 0) -> tuple[Any, ...]:
    """Sort key: smaller means "delete first" (ActivePodsWithRanks.Less)."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    assigned = 1 if spec.get("nodeName") else 0
    phase = _PHASE_RANK.get(str(status.get("phase")), 0)
    ready = 1 if is_pod_ready(pod) else 0
    try:
        cost = int((meta(pod).get("annotations") or {}).get("controller.kubernetes.io/pod-deletion-cost", 0))
    except ValueError:
        cost = 0
    ready_since = 0.0
    if ready:
        ready_since = parse_rfc3339((get_condition(pod, "Ready") or {}).get("lastTransitionTime")) or 0.0
    created = parse_rfc3339(meta(pod).get("creationTimestamp")) or 0.0
    # Higher rank (more pods of the family on the node), later readiness, more restarts and a
    # later creation time all mean "delete first": negate them so that smaller sorts first.
    return (assigned, phase, ready, cost, -rank, -ready_since, -_restarts(pod), -created,
            meta(pod).get("name", ""))


def pods_to_delete(filtered: list[Obj], related: list[Obj], count: int) -> list[Obj]:
    """The `count` least valuable pods; pods sharing a node with related pods go first."""
    if count >= len(filtered):
        return list(filtered)
    on_node: dict[str, int] = {}
    for p in related:
        node = (p.get("spec") or {}).get("nodeName")
        if node and is_pod_active(p):
            on_node[node] = on_node.get(node, 0) + 1

    def key(p: Obj) -> tuple[Any, ...]:
        node = (p.get("spec") or {}).get("nodeName")
        return deletion_rank_key(p, on_node.get(node, 0) if node else 0)

    return sorted(filtered, key=key)[:count]


def pod_from_template(template: Obj | None, owner_name: str, controller_ref: Obj | None) -> Obj:
    """GetPodFromTemplate: labels, annotations, finalizers and spec copied; named `<owner>-xxxxx`."""
    template = template or {}
    tmeta = template.get("metadata") or {}
    metadata: Obj = {"generateName": f"{owner_name}-"}
    for field in ("labels", "annotations"):
        if tmeta.get(field):
            metadata[field] = dict(tmeta[field])
    if tmeta.get("finalizers"):
        metadata["finalizers"] = list(tmeta["finalizers"])
    if controller_ref is not None:
        metadata["ownerReferences"] = [dict(controller_ref)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": copy.deepcopy(template.get("spec") or {})}
