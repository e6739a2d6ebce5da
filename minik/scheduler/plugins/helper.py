"""Helpers several plugins share: toleration matching, score normalization, filter-based hints."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from minik.api.core import Taint, Toleration
from minik.scheduler.framework import Code, CycleState, FilterPlugin, PreFilterPlugin
from minik.scheduler.node_info import NodeInfo
from minik.scheduler.pod_info import PodInfo

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"


def tolerates_taint(toleration: Toleration, taint: Taint) -> bool:
    """v1.Toleration.ToleratesTaint: effect and key must match when set; Exists ignores the value.

    An empty key with Exists therefore tolerates every taint, and an empty effect every effect.
    """
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    operator = toleration.operator or "Equal"
    if operator == "Equal":
        return (toleration.value or "") == (taint.value or "")
    return operator == "Exists"


def tolerations_tolerate_taint(tolerations: Iterable[Toleration], taint: Taint) -> bool:
    return any(tolerates_taint(t, taint) for t in tolerations)


def find_matching_untolerated_taint(taints: Iterable[Taint], tolerations: list[Toleration],
                                    applies: Callable[[Taint], bool]) -> Taint | None:
    """The first taint `applies` selects that no toleration tolerates (the one the message names)."""
    for taint in taints:
        if applies(taint) and not tolerations_tolerate_taint(tolerations, taint):
            return taint
    return None


def do_not_schedule_taints(taint: Taint) -> bool:
    """The taints a filter enforces: NoSchedule and NoExecute (PreferNoSchedule only scores)."""
    return taint.effect in (NO_SCHEDULE, NO_EXECUTE)


def default_normalize_score(max_priority: int, reverse: bool, scores: list[int]) -> None:
    """helper.DefaultNormalizeScore: scale to 0..max by the highest score; `reverse` flips it."""
    max_count = max(scores, default=0)
    if max_count == 0:
        if reverse:
            scores[:] = [max_priority] * len(scores)
        return
    if reverse:
        scores[:] = [max_priority - max_priority * s // max_count for s in scores]
    else:
        scores[:] = [max_priority * s // max_count for s in scores]


def passes_filter(plugin: object, pod: PodInfo, node: NodeInfo | None) -> bool:
    """Queueing hint shared by node-level plugins: would this plugin now accept the changed node?

    Runs the plugin's own pre-filter and filter on a fresh cycle state, so the hint can never
    disagree with the filter. Without a node to look at, the event may help: requeue.
    """
    if node is None:
        return True
    if node.node is None:
        return False  # the node is gone: nothing to gain there
    state = CycleState()
    if isinstance(plugin, PreFilterPlugin):
        status = plugin.pre_filter(state, pod)
        if status is not None and status.code == Code.SKIP:
            return True
        if status is not None and status.code != Code.SUCCESS:
            return False
    assert isinstance(plugin, FilterPlugin)
    result = plugin.filter(state, pod, node)
    return result is None or result.code == Code.SUCCESS
