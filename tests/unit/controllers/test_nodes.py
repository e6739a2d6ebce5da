"""Node lifecycle (grace periods on a fake clock, taints), taint eviction timing, pod GC, node IPAM."""

from __future__ import annotations

from typing import Any

import pytest
from ctrlfake import Harness, pod

from minik.api.resources import require
from minik.controllers.nodeipam import CIDRSet, CIDRSetFull, NodeIpamController
from minik.controllers.nodelifecycle import NodeLifecycleController
from minik.controllers.podgc import PodGCController
from minik.controllers.taint_eviction import TaintEvictionController

Obj = dict[str, Any]
NODES, PODS = require("nodes"), require("pods")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def node(name: str, ready: str | None = "True", heartbeat: str = "2024-01-01T00:00:00Z",
         taints: list[Obj] | None = None, **spec: Any) -> Obj:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready, "lastHeartbeatTime": heartbeat,
                                            "lastTransitionTime": "2024-01-01T00:00:00Z"}]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {**({"taints": taints} if taints else {}), **spec}, "status": {"conditions": conditions}}


def stored_node(h: Harness, name: str) -> Obj:
    return h.client.objects[("nodes", "", name)]


# --- node lifecycle -----------------------------------------------------------------------------


def lifecycle(h: Harness, clock: Clock) -> NodeLifecycleController:
    return NodeLifecycleController(h.client, h.factory, h.recorder, monitor_period=1, grace_period=40,
                                   startup_grace_period=60, clock=clock)


def test_silent_node_becomes_unknown_and_unreachable_after_the_grace_period(harness: Harness) -> None:
    clock = Clock()
    ctrl = lifecycle(harness, clock)
    harness.cache("nodes", node("a"))
    harness.cache("pods", pod("p", node="a", phase="Running", ready=True))
    ctrl.monitor_node_health()
    clock.now += 39
    ctrl.monitor_node_health()
    assert harness.client.writes() == []
    clock.now += 2
    ctrl.monitor_node_health()
    conditions = {c["type"]: c for c in stored_node(harness, "a")["status"]["conditions"]}
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"], conditions["Ready"]["message"]) == (
        "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert conditions["MemoryPressure"]["reason"] == "NodeStatusNeverUpdated"
    taints = stored_node(harness, "a")["spec"]["taints"]
    assert [(t["key"], t["effect"]) for t in taints] == [("node.kubernetes.io/unreachable", "NoExecute")]
    assert taints[0]["timeAdded"]
    ready = next(c for c in harness.client.objects[("pods", "default", "p")]["status"]["conditions"]
                 if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert ("a", "Normal", "NodeNotReady", "Node a status is now: NodeNotReady") in harness.recorder.events


def test_a_renewed_lease_counts_as_a_heartbeat(harness: Harness) -> None:
    clock = Clock()
    ctrl = lifecycle(harness, clock)
    harness.cache("nodes", node("a"))
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "a", "namespace": "kube-node-lease"}, "spec": {"renewTime": "t1"}}
    harness.cache("leases", lease)
    ctrl.monitor_node_health()
    for i in range(5):
        clock.now += 30
        harness.factory.informer("leases").store.add({**lease, "spec": {"renewTime": f"t{i + 2}"}})
        ctrl.monitor_node_health()
    assert harness.client.writes() == []


def test_recovered_node_loses_its_no_execute_taints(harness: Harness) -> None:
    clock = Clock()
    ctrl = lifecycle(harness, clock)
    harness.cache("nodes", node("a", taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
                                             {"key": "keep", "effect": "NoExecute"}]))
    ctrl.monitor_node_health()
    assert [t["key"] for t in stored_node(harness, "a")["spec"]["taints"]] == ["keep"]


def test_kubelet_reporting_not_ready_gets_the_not_ready_taint(harness: Harness) -> None:
    ctrl = lifecycle(harness, Clock())
    harness.cache("nodes", node("a", ready="False"))
    ctrl.monitor_node_health()
    assert [(t["key"], t["effect"]) for t in stored_node(harness, "a")["spec"]["taints"]] == [
        ("node.kubernetes.io/not-ready", "NoExecute")]


def test_no_schedule_taints_follow_conditions_and_unschedulable(harness: Harness) -> None:
    ctrl = lifecycle(harness, Clock())
    n = node("a", ready="False", unschedulable=True)
    n["status"]["conditions"].append({"type": "MemoryPressure", "status": "True"})
    harness.cache("nodes", n)
    ctrl.sync("a")
    assert sorted((t["key"], t["effect"]) for t in stored_node(harness, "a")["spec"]["taints"]) == [
        ("node.kubernetes.io/memory-pressure", "NoSchedule"), ("node.kubernetes.io/not-ready", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule")]
    harness.refresh("nodes")
    healthy = node("a", taints=stored_node(harness, "a")["spec"]["taints"])
    harness.factory.informer("nodes").store.add(healthy)
    harness.client.objects[("nodes", "", "a")]["status"] = healthy["status"]
    harness.client.objects[("nodes", "", "a")]["spec"].pop("unschedulable")
    harness.factory.informer("nodes").store.add(harness.client.objects[("nodes", "", "a")])
    ctrl.sync("a")
    assert not stored_node(harness, "a")["spec"].get("taints")


# --- taint eviction -----------------------------------------------------------------------------


def eviction(h: Harness, clock: Clock) -> TaintEvictionController:
    ctrl = TaintEvictionController(h.client, h.factory, h.recorder, clock=clock)
    ctrl._started = True
    return ctrl


UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}


def tolerating(name: str, seconds: int | None) -> Obj:
    p = pod(name, node="a", phase="Running")
    tol: Obj = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
    if seconds is not None:
        tol["tolerationSeconds"] = seconds
    p["spec"]["tolerations"] = [tol]
    return p


def test_untolerating_pods_go_at_once_tolerating_ones_after_their_seconds(harness: Harness) -> None:
    clock = Clock()
    ctrl = eviction(harness, clock)
    harness.cache("nodes", node("a", ready="Unknown", taints=[UNREACHABLE]))
    plain, five, forever = pod("plain", node="a", phase="Running"), tolerating("five", 5), tolerating("ever", None)
    harness.cache("pods", plain, five, forever)
    ctrl.on_node(harness.factory.informer("nodes").store.get_by_key("a"))
    assert set(ctrl.scheduled) == {"default/plain", "default/five"}
    ctrl.fire("default/plain")
    ctrl.fire("default/five")  # too early: rescheduled, not deleted
    assert [a.name for a in harness.client.actions if a.verb == "delete"] == ["plain"]
    clock.now += 5
    ctrl.fire("default/five")
    assert [a.name for a in harness.client.actions if a.verb == "delete"] == ["plain", "five"]
    assert "Marking for deletion Pod default/five" in harness.recorder.messages()
    disruption = [c for c in harness.client.objects[("pods", "default", "ever")]["status"].get("conditions") or []]
    assert disruption == []


def test_removing_the_taint_in_time_cancels_the_eviction(harness: Harness) -> None:
    clock = Clock()
    ctrl = eviction(harness, clock)
    harness.cache("nodes", node("a", ready="Unknown", taints=[UNREACHABLE]))
    harness.cache("pods", tolerating("five", 5))
    ctrl.on_node(harness.factory.informer("nodes").store.get_by_key("a"))
    healthy = node("a")
    ctrl.on_node_update(node("a", ready="Unknown", taints=[UNREACHABLE]), healthy)
    harness.factory.informer("nodes").store.add(healthy)
    clock.now += 10
    ctrl.fire("default/five")
    assert not [a for a in harness.client.actions if a.verb == "delete"]
    assert "Cancelling deletion of Pod default/five" in harness.recorder.messages()


# --- pod GC -------------------------------------------------------------------------------------


def test_pods_of_missing_nodes_and_unscheduled_terminating_pods_are_force_deleted(harness: Harness) -> None:
    gc = PodGCController(harness.client, harness.factory, period=1, terminated_pod_threshold=1)
    harness.cache("nodes", node("a"), node("lagging"))
    harness.factory.informer("nodes").store.delete_key("lagging")  # exists, but the cache is behind
    harness.cache("pods", pod("on-a", node="a", phase="Running"), pod("orphan", node="gone", phase="Running"),
                  pod("on-lagging", node="lagging", phase="Running"), pod("unbound", deleting=True),
                  pod("done-old", node="a", phase="Succeeded", created="2024-01-01T00:00:00Z"),
                  pod("done-new", node="a", phase="Failed", created="2024-01-02T00:00:00Z"))
    gc.gc()
    deletes = {a.name: a.options for a in harness.client.actions if a.verb == "delete"}
    assert set(deletes) == {"orphan", "unbound", "done-old"}
    assert deletes["orphan"]["gracePeriodSeconds"] == 0
    assert harness.client.objects.get(("pods", "default", "on-lagging"))


# --- node IPAM ----------------------------------------------------------------------------------


def test_cidr_set_allocates_in_order_never_twice_and_reuses_released() -> None:
    cidrs = CIDRSet("10.244.0.0/22", 24)
    assert cidrs.occupy("10.244.1.0/24")
    assert not cidrs.occupy("192.168.0.0/24")
    got = [cidrs.allocate_next() for _ in range(3)]
    assert got == ["10.244.0.0/24", "10.244.2.0/24", "10.244.3.0/24"]
    with pytest.raises(CIDRSetFull):
        cidrs.allocate_next()
    cidrs.release("10.244.2.0/24")
    assert cidrs.allocate_next() == "10.244.2.0/24"


def test_ipam_assigns_free_cidrs_and_keeps_existing_ones(harness: Harness) -> None:
    ctrl = NodeIpamController(harness.client, harness.factory, harness.recorder, cluster_cidr="10.244.0.0/16",
                              mask_size=24)
    harness.cache("nodes", node("old", podCIDR="10.244.0.0/24", podCIDRs=["10.244.0.0/24"]), node("new"))
    ctrl.start()
    ctrl.stop()
    ctrl.sync("new")
    ctrl.sync("new")  # the cache still shows no CIDR: nothing is handed out twice
    (patch,) = [a for a in harness.client.actions if a.verb == "patch"]
    assert patch.body == {"spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}}
    ctrl.on_delete(node("old"))
    harness.factory.informer("nodes").store.delete_key("old")
    ctrl.sync("-old")
    assert ctrl.cidrs.used() == 1
