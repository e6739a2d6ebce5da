"""One scheduling decision: filter nodes (sampled), score the feasible ones, pick the best.

Sampling is kube-scheduler's percentageOfNodesToScore: in a big cluster, stop filtering once
"enough" feasible nodes were found (adaptive default: 50% - nodes/125, at least 5%, at least 100
nodes) and start the next pod's search where this one stopped, so every node gets its turn.
A pod that fits nowhere is still checked against every node, so its FitError is complete.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from minik.scheduler.framework import (
    ERR_NO_NODES_AVAILABLE,
    Code,
    CycleState,
    Diagnosis,
    FitError,
    Framework,
    NodeScore,
    SchedulingError,
    Status,
)
from minik.scheduler.node_info import NodeInfo
from minik.scheduler.pod_info import PodInfo

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


def num_feasible_nodes_to_find(percentage_of_nodes_to_score: int, num_all_nodes: int) -> int:
    """How many feasible nodes are enough to stop filtering."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    percentage = percentage_of_nodes_to_score
    if percentage <= 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    num = num_all_nodes * percentage // 100
    return max(num, MIN_FEASIBLE_NODES_TO_FIND)


def select_host(scores: Sequence[NodeScore], rng: random.Random) -> str:
    """The highest total score; ties broken uniformly at random."""
    if not scores:
        raise SchedulingError("empty priority list")
    top = max(s.score for s in scores)
    return rng.choice([s.name for s in scores if s.score == top])


class NoNodesAvailable(FitError):
    """The cluster has no nodes at all: kube-scheduler's ErrNoNodesAvailable, unschedulable."""

    def __str__(self) -> str:
        return ERR_NO_NODES_AVAILABLE


@dataclass
class ScheduleResult:
    suggested_host: str
    evaluated_nodes: int
    feasible_nodes: int


@dataclass
class StageTimes:
    """Seconds spent per stage, accumulated across cycles (for `bench/` and debug logs)."""

    filter: float = 0.0
    score: float = 0.0
    cycles: int = 0


class ScheduleAlgorithm:
    def __init__(self, framework: Framework, percentage_of_nodes_to_score: int = 0,
                 rng: random.Random | None = None) -> None:
        if not 0 <= percentage_of_nodes_to_score <= 100:
            raise ValueError("percentageOfNodesToScore must be between 0 and 100")
        self.framework = framework
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.rng = rng or random.Random()
        self.next_start_node_index = 0
        self.times = StageTimes()

    def schedule_pod(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> ScheduleResult:
        """schedulePod: raises FitError when nothing fits, SchedulingError when a plugin broke."""
        self.times.cycles += 1
        if not nodes:
            raise NoNodesAvailable(pod, 0, Diagnosis())
        t0 = time.perf_counter()
        feasible, diagnosis = self.find_nodes_that_fit_pod(state, pod, nodes)
        t1 = time.perf_counter()
        self.times.filter += t1 - t0
        if not feasible:
            raise FitError(pod, len(nodes), diagnosis)
        evaluated = len(feasible) + len(diagnosis.node_to_status)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        scores = self.prioritize_nodes(state, pod, feasible)
        host = select_host(scores, self.rng)
        self.times.score += time.perf_counter() - t1
        return ScheduleResult(host, evaluated, len(feasible))

    def find_nodes_that_fit_pod(self, state: CycleState, pod: PodInfo,
                                nodes: Sequence[NodeInfo]) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        fwk = self.framework
        status = fwk.run_pre_filter_plugins(state, pod)
        if status is not None:
            if status.code == Code.ERROR:
                raise SchedulingError(status.message())
            # Rejected before looking at nodes: every node gets the same status.
            for n in nodes:
                diagnosis.node_to_status[n.name] = status
            diagnosis.pre_filter_msg = status.message()
            if status.plugin:
                diagnosis.unschedulable_plugins.add(status.plugin)
            return [], diagnosis
        return self.find_nodes_that_pass_filters(state, pod, diagnosis, nodes), diagnosis

    def find_nodes_that_pass_filters(self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis,
                                     nodes: Sequence[NodeInfo]) -> list[NodeInfo]:
        num_all = len(nodes)
        wanted = num_feasible_nodes_to_find(self.percentage_of_nodes_to_score, num_all)
        feasible: list[NodeInfo] = []
        statuses = diagnosis.node_to_status
        run_filters = self.framework.run_filter_plugins
        start = self.next_start_node_index % num_all
        processed = 0
        for i in range(num_all):
            node = nodes[(start + i) % num_all]
            processed += 1
            status: Status | None = run_filters(state, pod, node)
            if status is None:
                feasible.append(node)
                if len(feasible) >= wanted:
                    break
                continue
            if status.code == Code.ERROR:
                raise SchedulingError(f"running filter plugin {status.plugin!r} on {node.name}: "
                                      f"{status.message()}")
            statuses[node.name] = status
            if status.plugin:
                diagnosis.unschedulable_plugins.add(status.plugin)
        self.next_start_node_index = (start + processed) % num_all
        return feasible

    def prioritize_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[NodeScore]:
        fwk = self.framework
        status = fwk.run_pre_score_plugins(state, pod, nodes)
        if status is not None and status.code not in (Code.SUCCESS, Code.SKIP):
            raise SchedulingError(status.message())
        return fwk.run_score_plugins(state, pod, nodes)
