"""Deployment controller: new ReplicaSet naming/annotations, rolling and recreate steps, proportional
scaling, history clean-up, and the rounding of maxSurge/maxUnavailable."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ctrlfake import Harness, pod, replica_set

from minik.controllers import deployment_util as du
from minik.controllers.deployment import DeploymentController
from minik.controllers.hashing import compute_hash, safe_encode_string

Obj = dict[str, Any]


def deployment(name: str = "web", replicas: int = 3, *, surge: Any = 1, unavailable: Any = 0,
               strategy: str = "RollingUpdate", image: str = "minik/app:v1", generation: int = 1, **spec: Any) -> Obj:
    strat: Obj = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "generation": generation,
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "strategy": strat,
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": image}]}},
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600, **spec}}


def rs_for(d: Obj, replicas: int, revision: int, *, available: int | None = None, image: str | None = None,
           created: str = "2024-01-01T00:00:00Z") -> Obj:
    template = copy.deepcopy(d["spec"]["template"])
    if image:
        template["spec"]["containers"][0]["image"] = image
    h = compute_hash(template)
    labels = {**template["metadata"]["labels"], "pod-template-hash": h}
    template["metadata"]["labels"] = labels
    rs = replica_set(f"{d['metadata']['name']}-{h}", replicas, labels, owner=d)
    rs["spec"]["template"] = template
    rs["metadata"]["creationTimestamp"] = created
    rs["metadata"]["annotations"] = {du.REVISION_ANNOTATION: str(revision),
                                     du.DESIRED_REPLICAS_ANNOTATION: str(d["spec"]["replicas"]),
                                     du.MAX_REPLICAS_ANNOTATION: str(d["spec"]["replicas"] + du.max_surge(d))}
    avail = replicas if available is None else available
    rs["status"] = {"replicas": replicas, "readyReplicas": avail, "availableReplicas": avail, "observedGeneration": 1}
    return rs


def make(h: Harness) -> DeploymentController:
    return DeploymentController(h.client, h.factory, h.recorder, workers=1)


def rs_writes(h: Harness) -> list[tuple[str, str, int]]:
    return [(a.verb, a.name, a.body["spec"]["replicas"]) for a in h.client.actions
            if a.resource == "replicasets" and a.verb in ("create", "update")]


def test_new_replica_set_is_named_by_template_hash_with_revision_1(harness: Harness) -> None:
    ctrl = make(harness)
    (d,) = harness.cache("deployments", deployment(replicas=3))
    ctrl.sync("default/web")
    (create,) = [a for a in harness.client.actions if a.verb == "create"]
    rs = create.body
    h = rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{h}" and h == compute_hash(d["spec"]["template"])
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h}
    assert rs["metadata"]["labels"] == {"app": "web", "pod-template-hash": h}
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["annotations"] == {du.REVISION_ANNOTATION: "1", du.DESIRED_REPLICAS_ANNOTATION: "3",
                                             du.MAX_REPLICAS_ANNOTATION: "4"}
    assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    assert harness.recorder.messages() == [f"Scaled up replica set web-{h} to 3"]
    stored = harness.client.objects[("deployments", "default", "web")]
    assert stored["metadata"]["annotations"][du.REVISION_ANNOTATION] == "1"
    progressing = du.get_condition(stored["status"], "Progressing")
    assert progressing is not None and progressing["reason"] == "NewReplicaSetCreated"
    assert progressing["message"] == f'Created new replica set "web-{h}"'


def test_hash_is_short_and_label_safe() -> None:
    h = compute_hash({"metadata": {"labels": {"app": "x"}}})
    assert 1 <= len(h) <= 10 and all(c in "bcdfghjklmnpqrstvwxz2456789" for c in h)
    assert compute_hash({"a": 1}, 1) != compute_hash({"a": 1})
    assert safe_encode_string("0123") == "4567"  # byte value modulo the alphabet, like Go


@pytest.mark.parametrize(("surge", "unavailable", "replicas", "expected"), [
    ("25%", "25%", 10, (3, 2)), ("25%", "25%", 4, (1, 1)), (0, 0, 3, (0, 1)), ("50%", "0%", 3, (2, 0)),
    (2, 1, 3, (2, 1)), ("100%", "100%", 3, (3, 3))])
def test_fenceposts_round_surge_up_and_unavailable_down(surge: Any, unavailable: Any, replicas: int,
                                                        expected: tuple[int, int]) -> None:
    d = deployment(replicas=replicas, surge=surge, unavailable=unavailable)
    assert (du.max_surge(d), du.max_unavailable(d)) == expected


def test_rolling_update_first_step_surges_only(harness: Harness) -> None:
    ctrl = make(harness)
    d = deployment(replicas=3, surge=1, unavailable=0, image="minik/app:v2")
    d["status"] = {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
                   "availableReplicas": 3}
    old = rs_for(d, 3, 1, image="minik/app:v1")
    harness.cache("deployments", d)
    harness.cache("replicasets", old)
    ctrl.sync("default/web")
    writes = rs_writes(harness)
    assert writes[0][0] == "create" and writes[0][2] == 1  # 3 + 1 surge = 4 pods at most
    assert ("update", old["metadata"]["name"], 3) not in writes and len(writes) == 1
    assert du.get_condition(harness.client.objects[("deployments", "default", "web")]["status"],
                            "Progressing")["reason"] == "NewReplicaSetCreated"


def test_rolling_update_scales_old_down_only_by_available_surplus(harness: Harness) -> None:
    ctrl = make(harness)
    d = deployment(replicas=3, surge=1, unavailable=0, image="minik/app:v2")
    old = rs_for(d, 3, 1, image="minik/app:v1", created="2024-01-01T00:00:00Z")
    new = rs_for(d, 1, 2, available=1, created="2024-01-01T00:01:00Z")
    harness.cache("deployments", d)
    harness.cache("replicasets", old, new)
    ctrl.sync("default/web")
    assert rs_writes(harness) == [("update", old["metadata"]["name"], 2)]
    assert harness.recorder.messages() == [f"Scaled down replica set {old['metadata']['name']} to 2 from 3"]


def test_rolling_update_waits_while_the_new_pods_are_unavailable(harness: Harness) -> None:
    ctrl = make(harness)
    d = deployment(replicas=3, surge=1, unavailable=0, image="minik/app:v2")
    old = rs_for(d, 3, 1, image="minik/app:v1")
    new = rs_for(d, 1, 2, available=0, created="2024-01-01T00:01:00Z")
    harness.cache("deployments", d)
    harness.cache("replicasets", old, new)
    ctrl.sync("default/web")
    assert rs_writes(harness) == []


def test_a_shrinking_replica_set_still_counts_its_pods_against_max_surge(harness: Harness) -> None:
    ctrl = make(harness)
    d = deployment(replicas=3, surge=1, unavailable=0, image="minik/app:v2")
    old = rs_for(d, 2, 1, image="minik/app:v1")
    old["status"]["replicas"] = 3  # its third pod is not deleted yet
    new = rs_for(d, 1, 2, available=1, created="2024-01-01T00:01:00Z")
    harness.cache("deployments", d)
    harness.cache("replicasets", old, new)
    ctrl.sync("default/web")
    assert [w for w in rs_writes(harness) if w[1] == new["metadata"]["name"]] == []


def test_recreate_scales_old_to_zero_then_waits_for_pods_to_go(harness: Harness) -> None:
    ctrl = make(harness)
    d = deployment(replicas=2, strategy="Recreate", image="minik/app:v2")
    old = rs_for(d, 2, 1, image="minik/app:v1")
    harness.cache("deployments", d)
    harness.cache("replicasets", old)
    ctrl.sync("default/web")
    assert rs_writes(harness) == [("update", old["metadata"]["name"], 0)]
    # the old ReplicaSet is at 0 but a pod is still terminating: no new ReplicaSet yet
    harness.client.clear()
    harness.refresh("replicasets")
    harness.refresh("deployments")
    stored_old = harness.stored("replicasets")[0]
    stored_old["status"] = {"replicas": 0}
    harness.factory.informer("replicasets").store.add(copy.deepcopy(stored_old))
    harness.cache("pods", pod("old-1", old["metadata"]["labels"], owner=stored_old, node="n", phase="Running",
                              deleting=True))
    ctrl.sync("default/web")
    assert rs_writes(harness) == []
    harness.factory.informer("pods").store.delete_key("default/old-1")
    harness.refresh("deployments")
    ctrl.sync("default/web")
    assert [w[0] for w in rs_writes(harness)] == ["create"] and rs_writes(harness)[0][2] == 2


def test_scaling_event_scales_replica_sets_proportionally(harness: Harness) -> None:
    ctrl = make(harness)
    d = deployment(replicas=10, surge=3, unavailable=2, image="minik/app:v2")
    old = rs_for(deployment(replicas=5, surge=3, unavailable=2), 5, 1, image="minik/app:v1")
    new = rs_for(deployment(replicas=5, surge=3, unavailable=2, image="minik/app:v2"), 3, 2,
                 created="2024-01-01T00:01:00Z")
    harness.cache("deployments", d)
    harness.cache("replicasets", old, new)
    ctrl.sync("default/web")  # 8 pods of 5+3 allowed become 13 of 10+3: each grows by its share
    sizes = {name: n for _v, name, n in rs_writes(harness)}
    assert sizes == {old["metadata"]["name"]: 8, new["metadata"]["name"]: 5}
    for a in harness.client.actions:
        if a.verb == "update" and a.resource == "replicasets":
            assert a.body["metadata"]["annotations"][du.DESIRED_REPLICAS_ANNOTATION] == "10"
            assert a.body["metadata"]["annotations"][du.MAX_REPLICAS_ANNOTATION] == "13"


def test_paused_deployment_only_scales_and_reports_paused(harness: Harness) -> None:
    ctrl = make(harness)
    d = deployment(replicas=3, image="minik/app:v2", paused=True)
    old = rs_for(d, 3, 1, image="minik/app:v1")
    harness.cache("deployments", d)
    harness.cache("replicasets", old)
    ctrl.sync("default/web")
    assert not [a for a in harness.client.actions if a.verb == "create"]
    cond = du.get_condition(harness.client.objects[("deployments", "default", "web")]["status"], "Progressing")
    assert (cond["status"], cond["reason"], cond["message"]) == ("Unknown", "DeploymentPaused", "Deployment is paused")


def test_complete_rollout_cleans_history_beyond_the_limit(harness: Harness) -> None:
    ctrl = make(harness)
    d = deployment(replicas=2, revisionHistoryLimit=1, image="minik/app:v3")
    current = rs_for(d, 2, 3)
    olds = [rs_for(d, 0, rev, image=f"minik/app:v{rev}", created=f"2024-01-01T00:0{rev}:00Z") for rev in (1, 2)]
    for o in olds:
        o["status"] = {"replicas": 0, "observedGeneration": 1}
    d["status"] = {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
    harness.cache("deployments", d)
    harness.cache("replicasets", current, *olds)
    ctrl.sync("default/web")
    assert [a.name for a in harness.client.actions if a.verb == "delete"] == [olds[0]["metadata"]["name"]]


def test_complete_rollout_reports_available_and_new_replica_set_available(harness: Harness) -> None:
    ctrl = make(harness)
    d = deployment(replicas=2)
    harness.cache("deployments", d)
    harness.cache("replicasets", rs_for(d, 2, 1))
    ctrl.sync("default/web")
    status = harness.client.objects[("deployments", "default", "web")]["status"]
    assert {k: status.get(k) for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")} == {
        "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}
    assert du.get_condition(status, "Available")["reason"] == "MinimumReplicasAvailable"
    assert du.get_condition(status, "Progressing")["reason"] == "NewReplicaSetAvailable"


def test_adopts_orphan_replica_sets_matching_its_selector(harness: Harness) -> None:
    ctrl = make(harness)
    d = deployment(replicas=1)
    orphan = rs_for(d, 1, 1)
    del orphan["metadata"]["ownerReferences"]
    harness.cache("deployments", d)
    harness.cache("replicasets", orphan)
    ctrl.sync("default/web")
    patches = [a for a in harness.client.actions if a.verb == "patch" and a.resource == "replicasets"]
    assert patches and patches[0].body["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    assert not [a for a in harness.client.actions if a.verb == "create"]


def test_rollback_revision_moves_old_revision_into_history() -> None:
    d = deployment()
    rs = rs_for(d, 0, 1)
    assert du.set_new_replica_set_annotations(d, rs, "4", True)
    ann = rs["metadata"]["annotations"]
    assert ann[du.REVISION_ANNOTATION] == "4" and ann[du.REVISION_HISTORY_ANNOTATION] == "1"
