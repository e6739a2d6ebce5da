"""DaemonSet controller: eligibility (selector, affinity, taints), expected creates/deletes per node,
ControllerRevision history, rolling update limits and status."""

from __future__ import annotations

import copy
from typing import Any

from ctrlfake import Harness, pod

from minik.controllers.daemonset import (
    DaemonSetController,
    daemon_pod_tolerations,
    node_should_run_daemon_pod,
    revision_patch,
)
from minik.controllers.hashing import compute_hash

Obj = dict[str, Any]


def daemon_set(image: str = "minik/app:v1", **pod_spec: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "default", "uid": "uid-agent", "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                     "revisionHistoryLimit": 10,
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": {"containers": [{"name": "agent", "image": image}], **pod_spec}}}}


def node(name: str, labels: dict[str, str] | None = None, taints: list[Obj] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints} if taints else {}}


def make(h: Harness) -> DaemonSetController:
    return DaemonSetController(h.client, h.factory, h.recorder, workers=1)


def daemon_pod(ds: Obj, name: str, node_name: str, hash_: str, ready: bool = True) -> Obj:
    p = pod(name, {"app": "agent", "controller-revision-hash": hash_}, owner=ds, node=node_name,
            phase="Running", ready=ready)
    return p


def created_for(h: Harness) -> list[str]:
    out = []
    for a in h.client.actions:
        if a.verb == "create" and a.resource == "pods":
            terms = a.body["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            out.append(terms["nodeSelectorTerms"][0]["matchFields"][0]["values"][0])
    return sorted(out)


def test_should_run_honours_selector_affinity_and_taints() -> None:
    ds = daemon_set(nodeSelector={"disk": "ssd"})
    assert node_should_run_daemon_pod(node("a", {"disk": "ssd"}), ds) == (True, True)
    assert node_should_run_daemon_pod(node("b"), ds) == (False, False)
    ds = daemon_set(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["x"]}]}]}}})
    assert node_should_run_daemon_pod(node("a", {"zone": "x"}), ds)[0]
    assert not node_should_run_daemon_pod(node("a", {"zone": "y"}), ds)[0]
    ds = daemon_set()
    no_schedule = [{"key": "dedicated", "effect": "NoSchedule"}]
    no_execute = [{"key": "dedicated", "effect": "NoExecute"}]
    assert node_should_run_daemon_pod(node("a", taints=no_schedule), ds) == (False, True)
    assert node_should_run_daemon_pod(node("a", taints=no_execute), ds) == (False, False)
    # the automatic tolerations: not-ready/unreachable nodes and pressure keep their daemons
    for key, effect in (("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/not-ready", "NoExecute"),
                        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                        ("node.kubernetes.io/unschedulable", "NoSchedule")):
        assert node_should_run_daemon_pod(node("a", taints=[{"key": key, "effect": effect}]), ds) == (True, True)
    ds = daemon_set(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "x", "effect": "NoExecute"}])
    assert node_should_run_daemon_pod(node("a", taints=[{**no_execute[0], "value": "x"}]), ds)[0]


def test_daemon_tolerations_replace_ones_with_toleration_seconds() -> None:
    tolerations = daemon_pod_tolerations({"tolerations": [
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300}]})
    unreachable = [t for t in tolerations if t["key"] == "node.kubernetes.io/unreachable"]
    assert unreachable == [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}]
    assert len(tolerations) == 6


def test_creates_a_pod_per_eligible_node_and_a_revision(harness: Harness) -> None:
    ctrl = make(harness)
    (ds,) = harness.cache("daemonsets", daemon_set(nodeSelector={"role": "agent"}))
    harness.cache("nodes", node("a", {"role": "agent"}), node("b", {"role": "agent"}), node("c"))
    ctrl.sync("default/agent")
    (rev,) = [a for a in harness.client.actions if a.verb == "create" and a.resource == "controllerrevisions"]
    h = compute_hash(ds["spec"]["template"])
    assert rev.body["metadata"]["name"] == f"agent-{h}" and rev.body["revision"] == 1
    assert rev.body["data"] == revision_patch(ds)
    assert created_for(harness) == ["a", "b"]
    body = next(a.body for a in harness.client.actions if a.verb == "create" and a.resource == "pods")
    assert body["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": h}
    assert body["metadata"]["generateName"] == "agent-"
    assert harness.recorder.reasons() == ["SuccessfulCreate", "SuccessfulCreate"]
    status = harness.client.objects[("daemonsets", "default", "agent")]["status"]
    assert status["desiredNumberScheduled"] == 2 and status["currentNumberScheduled"] == 0


def test_deletes_pods_on_nodes_that_stopped_matching_and_extra_pods(harness: Harness) -> None:
    ctrl = make(harness)
    (ds,) = harness.cache("daemonsets", daemon_set(nodeSelector={"role": "agent"}))
    h = compute_hash(ds["spec"]["template"])
    harness.cache("controllerrevisions", {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                                          "metadata": {"name": f"agent-{h}", "namespace": "default",
                                                       "labels": {"app": "agent", "controller-revision-hash": h},
                                                       "ownerReferences": [{"apiVersion": "apps/v1",
                                                                            "kind": "DaemonSet", "name": "agent",
                                                                            "uid": "uid-agent", "controller": True}]},
                                          "data": revision_patch(ds), "revision": 1})
    harness.cache("nodes", node("a", {"role": "agent"}), node("b"))
    harness.cache("pods", daemon_pod(ds, "on-a-old", "a", h), daemon_pod(ds, "on-b", "b", h))
    twin = daemon_pod(ds, "on-a-new", "a", h)
    twin["metadata"]["creationTimestamp"] = "2024-01-02T00:00:00Z"
    harness.cache("pods", twin)
    ctrl.sync("default/agent")
    assert sorted(a.name for a in harness.client.actions if a.verb == "delete") == ["on-a-new", "on-b"]
    assert created_for(harness) == []
    status = harness.client.objects[("daemonsets", "default", "agent")]["status"]
    assert (status["desiredNumberScheduled"], status["numberMisscheduled"]) == (1, 1)


def test_rolling_update_replaces_at_most_max_unavailable_pods(harness: Harness) -> None:
    ctrl = make(harness)
    old_ds = daemon_set()
    old_hash = compute_hash(old_ds["spec"]["template"])
    (ds,) = harness.cache("daemonsets", daemon_set(image="minik/app:v2"))
    harness.cache("nodes", node("a"), node("b"), node("c"))
    harness.cache("pods", *(daemon_pod(ds, f"old-{n}", n, old_hash) for n in "abc"))
    ctrl.sync("default/agent")
    deleted = [a.name for a in harness.client.actions if a.verb == "delete"]
    assert len(deleted) == 1  # maxUnavailable 1
    assert created_for(harness) == []  # the replacement comes once the old pod is gone
    revisions = [a for a in harness.client.actions if a.verb == "create" and a.resource == "controllerrevisions"]
    assert len(revisions) == 1


def test_unavailable_old_pods_are_replaced_regardless(harness: Harness) -> None:
    ctrl = make(harness)
    old_hash = compute_hash(daemon_set()["spec"]["template"])
    (ds,) = harness.cache("daemonsets", daemon_set(image="minik/app:v2"))
    harness.cache("nodes", node("a"), node("b"), node("c"))
    harness.cache("pods", daemon_pod(ds, "old-a", "a", old_hash, ready=False),
                  daemon_pod(ds, "old-b", "b", old_hash, ready=False), daemon_pod(ds, "old-c", "c", old_hash))
    ctrl.sync("default/agent")
    assert sorted(a.name for a in harness.client.actions if a.verb == "delete") == ["old-a", "old-b"]


def test_existing_revision_is_reused_and_renumbered(harness: Harness) -> None:
    ctrl = make(harness)
    (ds,) = harness.cache("daemonsets", daemon_set())
    h = compute_hash(ds["spec"]["template"])
    ref = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "uid-agent", "controller": True}]
    v2 = copy.deepcopy(daemon_set(image="minik/app:v2"))
    harness.cache("controllerrevisions",
                  {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                   "metadata": {"name": f"agent-{h}", "namespace": "default", "ownerReferences": ref,
                                "labels": {"app": "agent", "controller-revision-hash": h}},
                   "data": revision_patch(ds), "revision": 1},
                  {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                   "metadata": {"name": "agent-v2", "namespace": "default", "ownerReferences": ref,
                                "labels": {"app": "agent", "controller-revision-hash": "v2hash"}},
                   "data": revision_patch(v2), "revision": 2})
    ctrl.sync("default/agent")  # a rollback to revision 1: it becomes revision 3
    updates = [a for a in harness.client.actions if a.verb == "update" and a.resource == "controllerrevisions"]
    assert [(a.name, a.body["revision"]) for a in updates] == [(f"agent-{h}", 3)]
    assert not [a for a in harness.client.actions if a.verb == "create" and a.resource == "controllerrevisions"]
