"""One decision: node sampling (percentageOfNodesToScore), scoring, random tie-breaks."""

from __future__ import annotations

import random

import pytest
from schedtest import make_node, make_pod

from minik.scheduler.framework import CycleState, FitError, NodeScore
from minik.scheduler.plugins import default_framework
from minik.scheduler.schedule_one import NoNodesAvailable, ScheduleAlgorithm, num_feasible_nodes_to_find, select_host


@pytest.mark.parametrize(("percentage", "nodes", "wanted"), [
    (0, 10, 10),  # small clusters: every node
    (0, 99, 99),
    (0, 100, 100),  # 50% of 100 is 50, but never fewer than 100
    (0, 500, 230),  # 50 - 500/125 = 46%
    (0, 1000, 420),  # 42%
    (0, 5000, 500),  # 50 - 40 = 10%
    (0, 6000, 300),  # 50 - 48 = 2% -> floor 5%
    (0, 10000, 500),
    (10, 5000, 500),
    (100, 5000, 5000),
    (1, 1000, 100),  # explicit but under 100 nodes' worth
])
def test_num_feasible_nodes_to_find(percentage: int, nodes: int, wanted: int) -> None:
    assert num_feasible_nodes_to_find(percentage, nodes) == wanted


def test_large_cluster_is_sampled_round_robin() -> None:
    nodes = [make_node(f"n{i:04}") for i in range(1000)]
    algo = ScheduleAlgorithm(default_framework(), rng=random.Random(1))
    first = algo.schedule_pod(CycleState(), make_pod("a"), nodes)
    assert (first.evaluated_nodes, first.feasible_nodes) == (420, 420)
    assert algo.next_start_node_index == 420
    algo.schedule_pod(CycleState(), make_pod("b"), nodes)
    assert algo.next_start_node_index == 840
    algo.schedule_pod(CycleState(), make_pod("c"), nodes)
    assert algo.next_start_node_index == (840 + 420) % 1000


def test_sampling_skips_rejected_nodes_and_failure_checks_all() -> None:
    nodes = [make_node(f"n{i:03}", labels={"ok": "yes"} if i % 2 else {}) for i in range(300)]
    algo = ScheduleAlgorithm(default_framework())
    result = algo.schedule_pod(CycleState(), make_pod(node_selector={"ok": "yes"}), nodes)
    # 48% of 300 is 144 feasible nodes; every other node fits, so 288 were looked at
    assert (result.feasible_nodes, result.evaluated_nodes) == (144, 288)
    with pytest.raises(FitError) as e:
        algo.schedule_pod(CycleState(), make_pod(node_selector={"ok": "no"}), nodes)
    assert len(e.value.diagnosis.node_to_status) == 300
    assert e.value.diagnosis.unschedulable_plugins == {"NodeAffinity"}


def test_no_nodes() -> None:
    with pytest.raises(NoNodesAvailable) as e:
        ScheduleAlgorithm(default_framework()).schedule_pod(CycleState(), make_pod(), [])
    assert str(e.value) == "no nodes available to schedule pods"


def test_scores_pick_the_best_node() -> None:
    busy = make_node("busy", cpu="4", memory="4Gi", pods_on_node=[make_pod("x", cpu="3", memory="3Gi")])
    idle = make_node("idle", cpu="4", memory="4Gi")
    preferred = make_node("preferred", cpu="4", memory="4Gi", labels={"disk": "ssd"})
    algo = ScheduleAlgorithm(default_framework(), rng=random.Random(0))
    assert algo.schedule_pod(CycleState(), make_pod(cpu="500m", memory="512Mi"), [busy, idle]).suggested_host == "idle"
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}
    assert algo.schedule_pod(CycleState(), make_pod(affinity=affinity), [idle, preferred]).suggested_host == "preferred"


def test_ties_are_broken_at_random() -> None:
    rng = random.Random(7)
    tied = [NodeScore("a", 10), NodeScore("b", 30), NodeScore("c", 30), NodeScore("d", 30)]
    picks = {select_host(tied, rng) for _ in range(200)}
    assert picks == {"b", "c", "d"}
    assert select_host([NodeScore("a", 1), NodeScore("b", 2)], rng) == "b"
