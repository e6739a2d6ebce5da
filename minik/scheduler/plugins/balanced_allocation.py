"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used evenly.

A node at 90% cpu and 10% memory strands its memory; this score is 100 * (1 - std) of the two
usage fractions after placing the pod, from the pods' actual requests.
"""

from __future__ import annotations

from collections.abc import Sequence

from minik.scheduler.framework import MAX_NODE_SCORE, Code, CycleState, PreScorePlugin, ScorePlugin, Status
from minik.scheduler.node_info import NodeInfo
from minik.scheduler.pod_info import PodInfo

NAME = "NodeResourcesBalancedAllocation"
_SKIP = Status(Code.SKIP)


def balanced_resource_score(requested: Sequence[int], allocatable: Sequence[int]) -> int:
    fractions = [min(1.0, r / a) for r, a in zip(requested, allocatable, strict=True) if a]
    if len(fractions) == 2:
        std = abs(fractions[0] - fractions[1]) / 2
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = (sum((f - mean) ** 2 for f in fractions) / len(fractions)) ** 0.5
    else:
        std = 0.0
    return int((1 - std) * MAX_NODE_SCORE)


class BalancedAllocation(PreScorePlugin, ScorePlugin):
    name = NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        # A pod that requests nothing changes no balance: skip the work, as kube-scheduler does.
        return _SKIP if pod.requests.is_zero() else None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        used, req, alloc = node.requested, pod.requests, node.allocatable
        if not alloc.milli_cpu or not alloc.memory:  # the general form handles missing resources
            return balanced_resource_score((used.milli_cpu + req.milli_cpu, used.memory + req.memory),
                                           (alloc.milli_cpu, alloc.memory))
        # cpu and memory, inlined: this runs for every scored node of every cycle
        cpu = min(1.0, (used.milli_cpu + req.milli_cpu) / alloc.milli_cpu)
        mem = min(1.0, (used.memory + req.memory) / alloc.memory)
        return int((1 - abs(cpu - mem) / 2) * MAX_NODE_SCORE)
