"""The scheduling queue: priority order, back-off, and requeueing on the events that can help."""

from __future__ import annotations

import pytest
from schedtest import make_node, make_pod, pod_obj

from minik.scheduler.framework import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    NODE_ADD,
    NODE_LABEL_CHANGE,
    NODE_TAINT_CHANGE,
)
from minik.scheduler.plugins import default_framework
from minik.scheduler.pod_info import PodInfo
from minik.scheduler.queue import QueuedPodInfo, SchedulingQueue


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(clock: Clock) -> SchedulingQueue:
    return SchedulingQueue(default_framework().events, pod_initial_backoff=1.0, pod_max_backoff=10.0,
                           max_in_unschedulable=60.0, clock=clock)


def fail(queue: SchedulingQueue, qpi: QueuedPodInfo, *plugins: str, error: bool = False) -> None:
    """What the scheduler does after a failed cycle."""
    qpi.unschedulable_plugins = set(plugins)
    queue.add_unschedulable_if_not_present(qpi, queue.scheduling_cycle, error=error)


def pop(queue: SchedulingQueue) -> QueuedPodInfo:
    qpi = queue.pop(timeout=0)
    assert qpi is not None
    return qpi


def where(queue: SchedulingQueue, pod: PodInfo) -> str:
    return next((name for name, uids in queue.pending_pods().items() if pod.uid in uids), "gone")


def test_pop_order_is_priority_then_arrival(queue: SchedulingQueue, clock: Clock) -> None:
    for name, priority in (("low", 0), ("high", 100), ("low2", 0)):
        queue.add(make_pod(name, priority=priority))
        clock.now += 1
    assert [pop(queue).pod_info.name for _ in range(3)] == ["high", "low", "low2"]
    assert queue.pop(timeout=0) is None


def test_backoff_doubles_up_to_the_maximum(queue: SchedulingQueue) -> None:
    qpi = QueuedPodInfo(make_pod(), 0.0)
    durations = []
    for attempts in range(1, 8):
        qpi.attempts = attempts
        durations.append(queue.backoff_duration(qpi))
    assert durations == [1, 2, 4, 8, 10, 10, 10]


def test_unschedulable_pod_waits_for_an_event_not_a_timer(queue: SchedulingQueue, clock: Clock) -> None:
    pod = make_pod(node_selector={"disk": "ssd"})
    queue.add(pod)
    fail(queue, pop(queue), "NodeAffinity")
    assert where(queue, pod) == "unschedulable"
    clock.now += 30  # back-off long over, but nothing happened
    assert queue.pop(timeout=0) is None
    # Events the rejecting plugin did not register for, or that do not help, leave it alone.
    assert queue.move_all_to_active_or_backoff_queue(ASSIGNED_POD_DELETE, make_node("n1")) == 0
    assert queue.move_all_to_active_or_backoff_queue(NODE_TAINT_CHANGE, make_node("n1")) == 0
    assert queue.move_all_to_active_or_backoff_queue(NODE_LABEL_CHANGE, make_node("n1", labels={"disk": "hdd"})) == 0
    assert where(queue, pod) == "unschedulable"
    # The node gets the label: the pod is retried at once (its back-off is over).
    assert queue.move_all_to_active_or_backoff_queue(NODE_LABEL_CHANGE, make_node("n1", labels={"disk": "ssd"})) == 1
    assert pop(queue).pod_info is pod


def test_event_during_backoff_moves_to_backoff_queue(queue: SchedulingQueue, clock: Clock) -> None:
    pod = make_pod(cpu="2")
    queue.add(pod)
    fail(queue, pop(queue), "NodeResourcesFit")
    clock.now += 0.5
    assert queue.move_all_to_active_or_backoff_queue(NODE_ADD, make_node("big", cpu="4")) == 1
    assert where(queue, pod) == "backoff"
    assert queue.pop(timeout=0) is None  # 1 s back-off after the first attempt
    clock.now += 0.5
    assert pop(queue).attempts == 2


def test_assigned_pod_delete_requeues_pods_that_now_fit_on_that_node(queue: SchedulingQueue, clock: Clock) -> None:
    pod = make_pod(cpu="1")
    queue.add(pod)
    fail(queue, pop(queue), "NodeResourcesFit")
    clock.now += 5
    full = make_node("n1", cpu="1", pods_on_node=[make_pod("other", cpu="500m")])
    assert queue.move_all_to_active_or_backoff_queue(ASSIGNED_POD_DELETE, full) == 0
    assert queue.move_all_to_active_or_backoff_queue(ASSIGNED_POD_ADD, make_node("n1", cpu="1")) == 0  # unregistered
    assert queue.move_all_to_active_or_backoff_queue(ASSIGNED_POD_DELETE, make_node("n1", cpu="1")) == 1
    assert where(queue, pod) == "active"


def test_event_while_in_flight_sends_a_failure_to_backoff(queue: SchedulingQueue, clock: Clock) -> None:
    pod = make_pod(cpu="2")
    queue.add(pod)
    qpi = pop(queue)
    queue.move_all_to_active_or_backoff_queue(NODE_ADD, make_node("n1"))  # arrives mid-cycle
    fail(queue, qpi, "NodeResourcesFit")
    assert where(queue, pod) == "backoff"
    clock.now += 1
    assert pop(queue).pod_info is pod


def test_errors_back_off_and_retry(queue: SchedulingQueue, clock: Clock) -> None:
    pod = make_pod()
    queue.add(pod)
    fail(queue, pop(queue), error=True)
    assert where(queue, pod) == "backoff"
    clock.now += 1
    fail(queue, pop(queue), error=True)
    clock.now += 1.5
    assert queue.pop(timeout=0) is None  # second back-off is 2 s
    clock.now += 0.5
    assert pop(queue).attempts == 3


def test_pod_without_rejecting_plugin_moves_on_any_registered_event(queue: SchedulingQueue, clock: Clock) -> None:
    pod = make_pod()
    queue.add(pod)
    fail(queue, pop(queue))  # e.g. "no nodes available to schedule pods"
    clock.now += 2
    assert queue.move_all_to_active_or_backoff_queue(NODE_ADD, make_node()) == 1


def test_long_stuck_pods_get_a_safety_retry(queue: SchedulingQueue, clock: Clock) -> None:
    pod = make_pod(node_selector={"disk": "ssd"})
    queue.add(pod)
    fail(queue, pop(queue), "NodeAffinity")
    clock.now += 59
    queue.flush_unschedulable_pods_leftover()
    assert where(queue, pod) == "unschedulable"
    clock.now += 1
    queue.flush_unschedulable_pods_leftover()
    assert where(queue, pod) == "active"


def test_pod_updates_requeue_only_on_spec_or_label_changes(queue: SchedulingQueue, clock: Clock) -> None:
    obj = pod_obj(node_selector={"disk": "ssd"})
    pod = PodInfo(obj)
    queue.add(pod)
    fail(queue, pop(queue), "NodeAffinity")
    clock.now += 5
    status_only = PodInfo({**obj, "metadata": {**obj["metadata"], "resourceVersion": "2"},
                           "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]}})
    queue.update(pod, status_only)
    assert where(queue, pod) == "unschedulable"
    relabeled = PodInfo({**obj, "metadata": {**obj["metadata"], "labels": {"retry": "1"}}})
    queue.update(status_only, relabeled)
    assert pop(queue).pod_info is relabeled


def test_delete_and_close(queue: SchedulingQueue) -> None:
    a, b = make_pod("a"), make_pod("b")
    queue.add(a)
    queue.add(b)
    queue.delete(a.uid)
    assert pop(queue).pod_info is b
    queue.close()
    assert queue.pop() is None  # returns at once once closed
