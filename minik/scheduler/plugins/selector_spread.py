"""SelectorSpread: spread the replicas of one controller across nodes.

Counts, per node, the pods that share this pod's controller (the ownerReference with
`controller: true`, e.g. its ReplicaSet) in its namespace; nodes with fewer score higher, so a
Deployment's pods land on different nodes when resources allow. The count is kept incrementally
in NodeInfo, so scoring a node costs one dict lookup.
"""

from __future__ import annotations

from collections.abc import Sequence

from minik.scheduler.framework import MAX_NODE_SCORE, Code, CycleState, PreScorePlugin, ScorePlugin, Status
from minik.scheduler.node_info import NodeInfo
from minik.scheduler.pod_info import PodInfo

NAME = "SelectorSpread"
_SKIP = Status(Code.SKIP)


class SelectorSpread(PreScorePlugin, ScorePlugin):
    name = NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        return None if pod.owner_uid else _SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        assert pod.owner_uid is not None
        return node.owner_counts.get(pod.owner_uid, 0)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """MAX * (max - count) / max: the emptiest nodes get 100; no replicas anywhere gives all 100."""
        max_count = max(scores, default=0)
        if max_count == 0:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        else:
            scores[:] = [int(MAX_NODE_SCORE * (max_count - s) / max_count) for s in scores]
