"""ReplicaSet controller: expected actions for create/delete/adopt/release, expectations, status."""

from __future__ import annotations

import time

from ctrlfake import Harness, pod, replica_set

from minik.api.errors import ForbiddenError, InvalidError
from minik.controllers.replicaset import ReplicaSetController
from minik.controllers.timeutil import now_rfc3339


def make(h: Harness) -> ReplicaSetController:
    return ReplicaSetController(h.client, h.factory, h.recorder, workers=1)


def test_creates_missing_pods_from_the_template_with_a_controller_ref(harness: Harness) -> None:
    ctrl = make(harness)
    (rs,) = harness.cache("replicasets", replica_set("web", 3))
    ctrl.sync("default/web")
    creates = [a for a in harness.client.actions if a.verb == "create"]
    assert [a.resource for a in creates] == ["pods"] * 3
    body = creates[0].body
    assert body["metadata"]["generateName"] == "web-"
    assert body["metadata"]["labels"] == {"app": "web"}
    assert body["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                                    "uid": rs["metadata"]["uid"], "controller": True,
                                                    "blockOwnerDeletion": True}]
    assert body["spec"]["containers"][0]["image"] == "minik/app:v1"
    assert harness.recorder.reasons() == ["SuccessfulCreate"] * 3
    assert harness.recorder.messages()[0].startswith("Created pod: web-")
    assert harness.client.verbs("get")[-1] == "update replicasets/status default/web"


def test_a_slow_watch_never_causes_over_creation(harness: Harness) -> None:
    ctrl = make(harness)
    harness.cache("replicasets", replica_set("web", 2))
    ctrl.sync("default/web")
    harness.refresh("replicasets")  # the status write arrived, the pods did not
    harness.client.clear()
    ctrl.sync("default/web")
    assert not [a for a in harness.client.actions if a.verb == "create"]
    assert ctrl.expectations.pending("default/web") == (2, 0)
    for p in harness.stored("pods"):  # now the informer delivers them
        harness.factory.informer("pods").store.add(p)
        ctrl.add_pod(p)
    assert ctrl.expectations.satisfied_expectations("default/web")
    harness.client.clear()
    ctrl.sync("default/web")
    assert not [a for a in harness.client.actions if a.verb in ("create", "delete")]


def test_scale_down_deletes_the_least_valuable_pods_first(harness: Harness) -> None:
    ctrl = make(harness)
    (rs,) = harness.cache("replicasets", replica_set("web", 2))
    harness.cache("pods",
                  pod("ready-old", {"app": "web"}, owner=rs, node="n1", phase="Running", ready=True,
                      created="2024-01-01T00:00:01Z", ready_since="2024-01-01T00:00:05Z"),
                  pod("ready-new", {"app": "web"}, owner=rs, node="n2", phase="Running", ready=True,
                      created="2024-01-01T00:00:09Z", ready_since="2024-01-01T00:00:10Z"),
                  pod("unscheduled", {"app": "web"}, owner=rs),
                  pod("not-ready", {"app": "web"}, owner=rs, node="n1", phase="Running"),
                  pod("pending", {"app": "web"}, owner=rs, node="n2", phase="Pending"))
    ctrl.sync("default/web")
    deleted = [a.name for a in harness.client.actions if a.verb == "delete"]
    assert deleted == ["unscheduled", "pending", "not-ready"]
    assert harness.recorder.messages() == [f"Deleted pod: {n}" for n in deleted]
    harness.client.clear()
    ctrl.sync("default/web")  # deletions not observed yet: nothing more happens
    assert not [a for a in harness.client.actions if a.verb == "delete"]


def test_among_ready_pods_the_newest_goes_first(harness: Harness) -> None:
    ctrl = make(harness)
    (rs,) = harness.cache("replicasets", replica_set("web", 1))
    harness.cache("pods",
                  pod("older", {"app": "web"}, owner=rs, node="n1", phase="Running", ready=True,
                      created="2024-01-01T00:00:01Z", ready_since="2024-01-01T00:00:02Z"),
                  pod("newer", {"app": "web"}, owner=rs, node="n2", phase="Running", ready=True,
                      created="2024-01-01T00:00:03Z", ready_since="2024-01-01T00:00:04Z"))
    ctrl.sync("default/web")
    assert [a.name for a in harness.client.actions if a.verb == "delete"] == ["newer"]


def test_adopts_matching_orphans_and_ignores_pods_of_other_controllers(harness: Harness) -> None:
    ctrl = make(harness)
    (rs,) = harness.cache("replicasets", replica_set("web", 2))
    other = replica_set("other", 1, {"app": "web"})
    harness.cache("pods", pod("orphan", {"app": "web"}), pod("theirs", {"app": "web"}, owner=other),
                  pod("unrelated", {"app": "db"}))
    ctrl.sync("default/web")
    writes = harness.client.verbs("get")
    assert writes[0] == "patch pods default/orphan"
    patch = harness.client.actions[[repr(a) for a in harness.client.actions].index(writes[0])]
    assert patch.options == "strategic"
    assert patch.body["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    assert [a.name for a in harness.client.actions if a.verb == "create"] and \
        len([a for a in harness.client.actions if a.verb == "create"]) == 1  # 2 wanted, the orphan counts
    # can_adopt re-read the ReplicaSet from the apiserver before adopting
    assert "get replicasets default/web" in [repr(a) for a in harness.client.actions]


def test_does_not_adopt_when_the_live_replica_set_is_being_deleted(harness: Harness) -> None:
    ctrl = make(harness)
    harness.cache("replicasets", replica_set("web", 1))
    harness.client.objects[("replicasets", "default", "web")]["metadata"]["deletionTimestamp"] = now_rfc3339()
    harness.cache("pods", pod("orphan", {"app": "web"}))
    try:
        ctrl.sync("default/web")
    except Exception as e:
        assert "has just been deleted" in str(e)
    assert not [a for a in harness.client.actions if a.verb == "patch"]


def test_releases_pods_whose_labels_stopped_matching(harness: Harness) -> None:
    ctrl = make(harness)
    (rs,) = harness.cache("replicasets", replica_set("web", 1))
    harness.cache("pods", pod("kept", {"app": "web"}, owner=rs), pod("relabelled", {"app": "debug"}, owner=rs))
    ctrl.sync("default/web")
    patches = [a for a in harness.client.actions if a.verb == "patch"]
    assert [a.name for a in patches] == ["relabelled"]
    assert patches[0].body["metadata"]["ownerReferences"] == [{"$patch": "delete", "uid": rs["metadata"]["uid"]}]
    assert not harness.client.objects[("pods", "default", "relabelled")]["metadata"].get("ownerReferences")
    assert not [a for a in harness.client.actions if a.verb in ("create", "delete")]


def test_status_counts_ready_available_and_fully_labeled(harness: Harness) -> None:
    ctrl = make(harness)
    (rs,) = harness.cache("replicasets", replica_set("web", 3, {"app": "web"}, generation=4, minReadySeconds=60))
    rs_obj = harness.client.objects[("replicasets", "default", "web")]
    rs_obj["spec"]["template"]["metadata"]["labels"]["tier"] = "front"
    harness.factory.informer("replicasets").store.add(rs_obj)
    long_ago = now_rfc3339(time.time() - 600)
    harness.cache("pods",
                  pod("a", {"app": "web", "tier": "front"}, owner=rs, node="n", phase="Running", ready=True,
                      ready_since=long_ago),
                  pod("b", {"app": "web"}, owner=rs, node="n", phase="Running", ready=True,
                      ready_since=now_rfc3339()),
                  pod("c", {"app": "web", "tier": "front"}, owner=rs, node="n", phase="Running"))
    ctrl.sync("default/web")
    status = harness.client.objects[("replicasets", "default", "web")]["status"]
    assert status == {"replicas": 3, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 1,
                      "observedGeneration": 4}


def test_terminating_and_finished_pods_do_not_count(harness: Harness) -> None:
    ctrl = make(harness)
    (rs,) = harness.cache("replicasets", replica_set("web", 2))
    harness.cache("pods", pod("going", {"app": "web"}, owner=rs, node="n", deleting=True),
                  pod("done", {"app": "web"}, owner=rs, node="n", phase="Succeeded"),
                  pod("live", {"app": "web"}, owner=rs, node="n", phase="Running"))
    ctrl.sync("default/web")
    assert len([a for a in harness.client.actions if a.verb == "create"]) == 1


def test_failed_creation_sets_replica_failure_and_requeues(harness: Harness) -> None:
    ctrl = make(harness)
    harness.cache("replicasets", replica_set("web", 3))
    harness.client.fail("create", "pods", InvalidError('Pod "x" is invalid: spec.containers: Required value'))
    try:
        ctrl.sync("default/web")
        raise AssertionError("sync should fail")
    except InvalidError:
        pass
    # slow start: one failed create, the remaining two never attempted nor awaited
    assert len([a for a in harness.client.actions if a.verb == "create"]) == 1
    assert ctrl.expectations.satisfied_expectations("default/web")
    status = harness.client.objects[("replicasets", "default", "web")]["status"]
    (cond,) = status["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("ReplicaFailure", "True", "FailedCreate")
    assert harness.recorder.events[0][:3] == ("web", "Warning", "FailedCreate")
    assert harness.recorder.messages()[0].startswith("Error creating: ")


def test_namespace_terminating_is_not_an_error(harness: Harness) -> None:
    ctrl = make(harness)
    harness.cache("replicasets", replica_set("web", 1))
    harness.client.fail("create", "pods", ForbiddenError(
        'pods "web-x" is forbidden: unable to create new content in namespace default because it is being '
        "terminated"))
    ctrl.sync("default/web")
    assert harness.recorder.events == []


def test_a_pod_seen_terminating_then_deleted_counts_once(harness: Harness) -> None:
    ctrl = make(harness)
    (rs,) = harness.cache("replicasets", replica_set("web", 1))
    harness.cache("pods", pod("a", {"app": "web"}, owner=rs, node="n"), pod("b", {"app": "web"}, owner=rs, node="n"))
    ctrl.expectations.expect_deletions("default/web", ["default/a", "default/x"])
    a = harness.stored("pods")[0]
    going = {**a, "metadata": {**a["metadata"], "deletionTimestamp": now_rfc3339(), "resourceVersion": "999"}}
    ctrl.update_pod(a, going)
    ctrl.delete_pod(going)
    assert ctrl.expectations.pending("default/web") == (0, 1)


def test_deleted_replica_set_drops_its_expectations(harness: Harness) -> None:
    ctrl = make(harness)
    ctrl.expectations.expect_creations("default/gone", 3)
    ctrl.sync("default/gone")
    assert ctrl.expectations.pending("default/gone") is None
    assert harness.client.actions == []
