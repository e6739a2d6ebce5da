"""TaintToleration: NoSchedule/NoExecute taints repel pods without a matching toleration;
PreferNoSchedule taints only lower a node's score (fewer intolerable ones score higher)."""

from __future__ import annotations

from collections.abc import Sequence

from minik.api.core import Toleration
from minik.scheduler.framework import (
    MAX_NODE_SCORE,
    NODE_ADD,
    NODE_TAINT_CHANGE,
    ClusterEventWithHint,
    Code,
    CycleState,
    EnqueueExtensions,
    FilterPlugin,
    PreScorePlugin,
    ScorePlugin,
    Status,
)
from minik.scheduler.node_info import NodeInfo
from minik.scheduler.plugins.helper import (
    PREFER_NO_SCHEDULE,
    default_normalize_score,
    do_not_schedule_taints,
    find_matching_untolerated_taint,
    passes_filter,
    tolerations_tolerate_taint,
)
from minik.scheduler.pod_info import PodInfo

NAME = "TaintToleration"
_PRE_SCORE_KEY = "PreScore" + NAME
_SKIP = Status(Code.SKIP)


def untolerated_taint_reason(key: str, value: str | None) -> str:
    return f"node(s) had untolerated taint {{{key}: {value or ''}}}"


class TaintToleration(FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions):
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.taints:
            return None
        taint = find_matching_untolerated_taint(node.taints, pod.tolerations, do_not_schedule_taints)
        if taint is None:
            return None
        return Status.unresolvable(untolerated_taint_reason(taint.key, taint.value), plugin=NAME)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        if not any(n.taints for n in nodes):
            # Every node would score 100: a constant that cannot change the choice, so skip the work.
            return _SKIP
        # Only tolerations that can apply to PreferNoSchedule taints matter for the score.
        prefer: list[Toleration] = [t for t in pod.tolerations if not t.effect or t.effect == PREFER_NO_SCHEDULE]
        state.write(_PRE_SCORE_KEY, prefer)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        tolerations: list[Toleration] = state.read(_PRE_SCORE_KEY)
        count = 0
        for taint in node.taints:
            if taint.effect == PREFER_NO_SCHEDULE and not tolerations_tolerate_taint(tolerations, taint):
                count += 1
        return count

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize_score(MAX_NODE_SCORE, True, scores)

    def events_to_register(self) -> list[ClusterEventWithHint]:
        hint = lambda pod, node: passes_filter(self, pod, node)  # noqa: E731
        return [ClusterEventWithHint(NODE_ADD, hint), ClusterEventWithHint(NODE_TAINT_CHANGE, hint)]
