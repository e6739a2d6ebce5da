"""Taints and tolerations as controllers see them (v1helper): the well-known node taints, which
toleration tolerates which taint, and swapping the taints a controller owns on a node."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Obj = dict[str, Any]

TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_NODE_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_NODE_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_NODE_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_NODE_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"
TAINT_NODE_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"

NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Toleration.ToleratesTaint: empty effect/key match all; operator Exists ignores the value."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerations_tolerate_taint(tolerations: Iterable[Obj], taint: Obj) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def find_untolerated_taint(taints: Iterable[Obj], tolerations: list[Obj],
                           include: Callable[[Obj], bool] | None = None) -> Obj | None:
    """FindMatchingUntoleratedTaint: the first taint (passing include) no toleration tolerates."""
    for taint in taints:
        if include is not None and not include(taint):
            continue
        if not tolerations_tolerate_taint(tolerations, taint):
            return taint
    return None


def matching_tolerations(taints: list[Obj], tolerations: list[Obj]) -> tuple[bool, list[Obj]]:
    """GetMatchingTolerations: (all taints tolerated, the tolerations used)."""
    used: list[Obj] = []
    for taint in taints:
        found = [t for t in tolerations if tolerates(t, taint)]
        if not found:
            return False, []
        used.extend(found)
    return True, used


def min_toleration_seconds(tolerations: list[Obj]) -> float | None:
    """The shortest tolerationSeconds (0 if negative), or None: tolerated forever."""
    seconds: float | None = None
    for t in tolerations:
        value = t.get("tolerationSeconds")
        if value is None:
            continue
        value = max(0, int(value))
        seconds = value if seconds is None else min(seconds, value)
    return seconds


def node_taints(node: Obj) -> list[Obj]:
    return [t for t in (node.get("spec") or {}).get("taints") or [] if isinstance(t, dict)]


def same_taint(a: Obj, b: Obj) -> bool:
    """Taint.MatchTaint: key and effect identify a taint."""
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


def taint_exists(taints: Iterable[Obj], taint: Obj) -> bool:
    return any(same_taint(t, taint) for t in taints)


def swapped_taints(taints: list[Obj], add: list[Obj], remove: list[Obj]) -> list[Obj] | None:
    """The node's taints with `remove` gone and `add` present; None when nothing changes."""
    kept = [t for t in taints if not taint_exists(remove, t)]
    for taint in add:
        if not taint_exists(kept, taint):
            kept.append(taint)
    return None if kept == taints else kept
