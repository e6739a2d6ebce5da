"""The scheduler's decide-assume-bind loop with a fake API: bind failures, reports, no duplicate writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from schedtest import node_obj, pod_obj

from minik.api.core import Node
from minik.api.errors import ConflictError, InternalError
from minik.api.resources import Resource
from minik.scheduler.pod_info import PodInfo
from minik.scheduler.scheduler import Scheduler

Obj = dict[str, Any]


class FakeAPI:
    """Records writes; `bind_error` is raised by the next binds."""

    def __init__(self) -> None:
        self.bind_error: Exception | None = None
        self.binds: list[tuple[str, str, str]] = []
        self.status_patches: list[tuple[str, Obj]] = []
        self.events: list[Obj] = []
        self.event_patches: list[Obj] = []

    def bind(self, pod_namespace: str, pod_name: str, node_name: str) -> None:
        self.binds.append((pod_namespace, pod_name, node_name))
        if self.bind_error is not None:
            raise self.bind_error

    def patch(self, r: Resource, name: str, body: Any, namespace: str | None = None, *, patch_type: Any = "merge",
              subresource: str | None = None) -> Obj:
        if r.plural == "events":
            self.event_patches.append(body)
            return {}
        assert (r.plural, patch_type, subresource) == ("pods", "strategic", "status")
        self.status_patches.append((name, body))
        return {}

    def create(self, r: Resource, obj: Obj, namespace: str | None = None) -> Obj:
        assert r.plural == "events"
        self.events.append(obj)
        return obj


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI()


@pytest.fixture
def sched(api: FakeAPI) -> Iterator[Scheduler]:
    s = Scheduler(api, pod_initial_backoff=0.01, pod_max_backoff=0.01)  # type: ignore[arg-type]
    s.cache.add_node(Node.model_validate(node_obj("n1", cpu="1")))
    yield s
    s.stop()


def submit(sched: Scheduler, obj: Obj) -> PodInfo:
    """What the pending-pod informer does."""
    sched.pending_informer.store.add(obj)
    pod = PodInfo(obj)
    sched.queue.add(pod)
    return pod


def settle(sched: Scheduler) -> None:
    """Wait for background bindings, status patches and events (the pool drains on shutdown)."""
    sched._api.shutdown(wait=True)
    sched.recorder.flush(5)


def test_success_binds_assumes_and_reports(sched: Scheduler, api: FakeAPI) -> None:
    pod = submit(sched, pod_obj("app", cpu="600m"))
    assert sched.schedule_one(timeout=0)
    settle(sched)
    assert api.binds == [("default", "app", "n1")]
    assert sched.cache.is_assumed(pod.uid)  # until the watch confirms it
    assert [(e["type"], e["reason"], e["message"]) for e in api.events] == [
        ("Normal", "Scheduled", "Successfully assigned default/app to n1")]
    assert api.status_patches == []


def test_assumed_slot_is_taken_before_the_bind_returns(sched: Scheduler, api: FakeAPI) -> None:
    submit(sched, pod_obj("a", cpu="600m"))
    submit(sched, pod_obj("b", cpu="600m"))
    sched.schedule_one(timeout=0)
    sched.schedule_one(timeout=0)
    settle(sched)
    assert [b[1] for b in api.binds] == ["a"]
    assert [e["reason"] for e in api.events] == ["Scheduled", "FailedScheduling"]


def test_conflict_on_bind_drops_the_pod(sched: Scheduler, api: FakeAPI) -> None:
    api.bind_error = ConflictError('Operation cannot be fulfilled on pods/binding "app": pod app is already '
                                   'assigned to node "n9"')
    pod = submit(sched, pod_obj("app", cpu="600m"))
    sched.schedule_one(timeout=0)
    settle(sched)
    assert not sched.cache.is_assumed(pod.uid)
    node = sched.cache.get_node("n1")
    assert node is not None and node.requested.milli_cpu == 0
    assert sched.queue.pending_pods() == {"active": [], "backoff": [], "unschedulable": [], "in_flight": []}
    assert api.events == [] and api.status_patches == []


def test_failed_bind_is_forgotten_and_retried_with_backoff(sched: Scheduler, api: FakeAPI) -> None:
    api.bind_error = InternalError("etcd is down")
    pod = submit(sched, pod_obj("app", cpu="600m"))
    sched.schedule_one(timeout=0)
    settle(sched)
    assert not sched.cache.is_assumed(pod.uid)
    assert sched.queue.pending_pods()["backoff"] == [pod.uid]
    message = 'Binding rejected: running Bind plugin "DefaultBinder": etcd is down'
    assert [(e["reason"], e["message"]) for e in api.events] == [("FailedScheduling", message)]
    [(name, body)] = api.status_patches
    condition = body["status"]["conditions"][0]
    assert (name, condition["type"], condition["status"], condition["reason"], condition["message"]) == (
        "app", "PodScheduled", "False", "SchedulerError", message)


def test_unchanged_condition_is_not_rewritten(sched: Scheduler, api: FakeAPI) -> None:
    obj = pod_obj("big", cpu="2")
    submit(sched, obj)
    sched.schedule_one(timeout=0)
    expected = ("0/1 nodes are available: 1 Insufficient cpu. "
                "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
    # The user relabels the pod while the condition we wrote has reached our cache.
    written = {**obj, "metadata": {**obj["metadata"], "resourceVersion": "2", "labels": {"x": "1"}},
               "status": {"phase": "Pending", "conditions": [
                   {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": expected}]}}
    sched.pending_informer.store.add(written)
    sched.queue.update(PodInfo(obj), PodInfo(written))
    assert sched.schedule_one(timeout=5)  # after its (short) back-off
    settle(sched)
    assert [p[1]["status"]["conditions"][0]["message"] for p in api.status_patches] == [expected]
    assert [e["message"] for e in api.events] == [expected]
    assert [p["count"] for p in api.event_patches] == [2]  # the repeat is aggregated into the same Event
