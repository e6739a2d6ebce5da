"""The FailedScheduling message: histogram format, order, and the preemption suffix."""

from __future__ import annotations

from typing import Any

from schedtest import make_node, make_pod, taint

from minik.scheduler.framework import CycleState, Diagnosis, FitError, Status, fit_error_message
from minik.scheduler.node_info import NodeInfo
from minik.scheduler.plugins import default_framework
from minik.scheduler.schedule_one import ScheduleAlgorithm


def test_histogram_counts_reasons_and_sorts_the_formatted_strings() -> None:
    statuses = {
        "master": Status.unresolvable("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"),
        "w1": Status.unschedulable("Insufficient cpu"),
        "w2": Status.unschedulable("Insufficient cpu", "Insufficient memory"),
    }
    msg = fit_error_message(3, Diagnosis(node_to_status=statuses))
    assert msg == ("0/3 nodes are available: 1 Insufficient memory, "
                   "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.")


def test_pre_filter_message_replaces_the_histogram_and_post_filter_is_appended() -> None:
    diagnosis = Diagnosis(node_to_status={"a": Status.unschedulable("x")}, pre_filter_msg="pod has no claims",
                          post_filter_msg="preemption: not eligible due to preemptionPolicy=Never.")
    assert fit_error_message(1, diagnosis) == ("0/1 nodes are available: pod has no claims. "
                                               "preemption: not eligible due to preemptionPolicy=Never.")
    assert fit_error_message(0, Diagnosis()) == "0/0 nodes are available:"


def _fail(pod_kw: dict[str, Any], nodes: list[NodeInfo]) -> str:
    """Schedule on `nodes` expecting failure; the message as the scheduler reports it."""
    fwk = default_framework()
    state = CycleState()
    pod = make_pod(**pod_kw)
    try:
        ScheduleAlgorithm(fwk).schedule_pod(state, pod, nodes)
    except FitError as e:
        status = fwk.run_post_filter_plugins(state, pod, nodes, e.diagnosis.node_to_status)
        e.diagnosis.post_filter_msg = status.message() if status else ""
        return str(e)
    raise AssertionError("the pod fit")


def test_course_message_cpu_demo_2() -> None:
    nodes = [make_node("master", cpu="2", taints=[taint("node-role.kubernetes.io/control-plane")]),
             make_node("worker1", cpu="2"), make_node("worker2", cpu="2")]
    assert _fail({"cpu": "100"}, nodes) == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_preemption_suffix_when_eviction_could_be_considered() -> None:
    # Full nodes of equal priority: preemption has no victims there.
    full = [make_node(f"w{i}", cpu="1", pods_on_node=[make_pod(f"x{i}", cpu="1")]) for i in range(2)]
    assert _fail({"cpu": "1"}, [make_node("master", taints=[taint("cp")]), *full]) == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {cp: }, 2 Insufficient cpu. preemption: "
        "0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod.")
    # Lower-priority pods that are too small to make room: the filter's reasons again.
    crowded = [make_node("w", cpu="2", pods_on_node=[make_pod("hi", cpu="1500m", priority=100),
                                                      make_pod("lo", cpu="100m", priority=0)])]
    assert _fail({"cpu": "1", "priority": 10}, crowded) == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Insufficient cpu.")
    # Evicting would make room: Kubernetes would preempt (and add no suffix); so do we, minus the eviction.
    evictable = [make_node("w", cpu="2", pods_on_node=[make_pod("lo", cpu="1500m", priority=0)])]
    assert _fail({"cpu": "1", "priority": 10}, evictable) == "0/1 nodes are available: 1 Insufficient cpu."
    assert _fail({"cpu": "1", "priority": 10, "preemptionPolicy": "Never"}, evictable) == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.")


def test_a_node_reports_only_the_first_rejecting_filter() -> None:
    # Cordoned and too small: kube-scheduler stops at NodeUnschedulable.
    nodes = [make_node("n", cpu="1", unschedulable=True)]
    assert _fail({"cpu": "2"}, nodes).startswith("0/1 nodes are available: 1 node(s) were unschedulable.")
