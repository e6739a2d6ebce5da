"""Informer callbacks: which pods are ours, which node changes are events, what reaches the queue."""

from __future__ import annotations

from schedtest import make_pod, node_obj, pod_obj

from minik.api.core import Node
from minik.scheduler.cache import Cache
from minik.scheduler.event_handlers import EventHandlers, node_scheduling_properties_change, responsible_for_pod
from minik.scheduler.plugins import default_framework
from minik.scheduler.queue import SchedulingQueue


def test_responsible_for_default_and_empty_scheduler_name() -> None:
    assert responsible_for_pod(pod_obj(schedulerName="default-scheduler"))
    obj = pod_obj()
    del obj["spec"]["schedulerName"]
    assert responsible_for_pod(obj)
    assert not responsible_for_pod(pod_obj(schedulerName="my-scheduler"))
    assert responsible_for_pod(pod_obj(schedulerName="my-scheduler"), "my-scheduler")


def _events(old: dict[str, object], new: dict[str, object]) -> list[str]:
    return [str(e) for e in node_scheduling_properties_change(Node.model_validate(old), Node.model_validate(new))]


def test_node_changes_become_cluster_events() -> None:
    base = node_obj("n1", labels={"a": "1"})
    assert _events(base, node_obj("n1", labels={"a": "1"})) == []
    assert _events(base, node_obj("n1", labels={"a": "2"})) == ["NodeLabelChange"]
    assert _events(base, node_obj("n1", labels={"a": "1"}, cpu="8")) == ["NodeAllocatableChange"]
    assert _events(base, node_obj("n1", labels={"a": "1"}, unschedulable=True)) == ["NodeSpecUnschedulableChange"]
    tainted = node_obj("n1", labels={"a": "1"}, taints=[{"key": "k", "effect": "NoSchedule"}])
    assert _events(base, tainted) == ["NodeTaintChange"]


def test_handlers_feed_queue_and_cache() -> None:
    cache = Cache()
    queue = SchedulingQueue(default_framework().events)
    h = EventHandlers(cache, queue)
    h.add_pod_to_scheduling_queue(pod_obj("mine"))
    h.add_pod_to_scheduling_queue(pod_obj("theirs", schedulerName="other"))
    assert queue.pending_pods()["active"] == ["uid-default-mine"]
    assumed = make_pod("assumed")
    cache.add_node(Node.model_validate(node_obj("n1")))
    cache.assume_pod(assumed, "n1")
    h.add_pod_to_scheduling_queue(pod_obj("assumed"))  # a relist during its binding: not queued twice
    assert queue.pending_pods()["active"] == ["uid-default-mine"]
    h.add_pod_to_cache(pod_obj("assumed", node_name="n1"))  # the watch confirms our binding
    assert not cache.is_assumed(assumed.uid) and cache.pod_node(assumed.uid) == "n1"
    h.add_pod_to_cache(pod_obj("bound", cpu="1", node_name="n1"))
    node = cache.get_node("n1")
    assert node is not None and node.requested.milli_cpu == 1000
    h.delete_pod_from_cache(pod_obj("bound", cpu="1", node_name="n1"))
    assert node.requested.milli_cpu == 0
    h.delete_pod_from_scheduling_queue(pod_obj("mine"))
    assert queue.pending_pods()["active"] == []
    h.add_node_to_cache({"kind": "Node", "metadata": {"name": "bad"}, "spec": {"taints": "not a list"}})
    assert cache.get_node("bad") is None  # bad data is logged and skipped
