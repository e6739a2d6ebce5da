"""Garbage collector: expected actions for dangling, solid, foreground and orphan owners."""

from __future__ import annotations

from ctrlfake import Harness, pod, replica_set

from minik.api.resources import require
from minik.controllers.garbagecollector import GarbageCollector

RS, PODS = require("replicasets"), require("pods")


def make(h: Harness) -> GarbageCollector:
    return GarbageCollector(h.client, h.factory, workers=1)


def drain(gc: GarbageCollector) -> None:
    while gc.process_attempt_to_delete(timeout=0.05) or gc.process_attempt_to_orphan(timeout=0.01):
        pass


def writes(h: Harness) -> list[str]:
    return h.client.verbs("get")


def test_dependents_of_a_missing_owner_are_deleted_in_the_background(harness: Harness) -> None:
    gc = make(harness)
    owner = replica_set("web", 1)  # never stored: deleted while nobody watched
    p = harness.client.add(PODS, pod("web-1", {"app": "web"}, owner=owner))
    gc.on_upsert(PODS, None, p)
    drain(gc)
    assert writes(harness) == ["delete pods default/web-1"]
    (delete,) = harness.client.writes()
    assert delete.options == {"propagationPolicy": "Background", "gracePeriodSeconds": None,
                              "preconditions": {"uid": p["metadata"]["uid"]}}


def test_dependents_of_a_live_owner_stay(harness: Harness) -> None:
    gc = make(harness)
    owner = harness.client.add(RS, replica_set("web", 1))
    p = harness.client.add(PODS, pod("web-1", {"app": "web"}, owner=owner))
    gc.on_upsert(PODS, None, p)
    gc.on_upsert(RS, None, owner)
    drain(gc)
    assert writes(harness) == []


def test_deleting_the_owner_deletes_its_dependents(harness: Harness) -> None:
    gc = make(harness)
    owner = harness.client.add(RS, replica_set("web", 1))
    pods = [harness.client.add(PODS, pod(f"web-{i}", {"app": "web"}, owner=owner)) for i in range(2)]
    gc.on_upsert(RS, None, owner)
    for p in pods:
        gc.on_upsert(PODS, None, p)
    drain(gc)
    assert writes(harness) == []
    harness.client.objects.pop(("replicasets", "default", "web"))
    gc.on_delete(RS, owner)
    drain(gc)
    assert sorted(writes(harness)) == ["delete pods default/web-0", "delete pods default/web-1"]


def test_only_the_dangling_reference_is_removed_when_another_owner_lives(harness: Harness) -> None:
    gc = make(harness)
    live = harness.client.add(RS, replica_set("live", 1))
    gone = replica_set("gone", 1)
    p = pod("shared", {"app": "x"}, owner=live)
    p["metadata"]["ownerReferences"].append({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "gone",
                                             "uid": gone["metadata"]["uid"]})
    p = harness.client.add(PODS, p)
    gc.on_upsert(RS, None, live)
    gc.on_upsert(PODS, None, p)
    drain(gc)
    assert writes(harness) == ["patch pods default/shared"]
    refs = harness.client.objects[("pods", "default", "shared")]["metadata"]["ownerReferences"]
    assert [r["name"] for r in refs] == ["live"]


def test_foreground_deletes_blocking_dependents_then_removes_the_finalizer(harness: Harness) -> None:
    gc = make(harness)
    owner = replica_set("web", 1)
    owner["metadata"].update({"deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["foregroundDeletion"]})
    owner = harness.client.add(RS, owner)
    p = harness.client.add(PODS, pod("web-1", {"app": "web"}, owner=owner))
    gc.on_upsert(PODS, None, p)
    gc.on_upsert(RS, None, owner)
    drain(gc)
    assert writes(harness) == ["delete pods default/web-1"]
    gc.on_delete(PODS, p)  # the pod is gone: the owner may go now
    drain(gc)
    assert writes(harness)[-1] == "update replicasets default/web"
    assert ("replicasets", "default", "web") not in harness.client.objects  # last finalizer removed


def test_orphan_removes_owner_references_then_the_finalizer(harness: Harness) -> None:
    gc = make(harness)
    owner = replica_set("web", 1)
    owner["metadata"].update({"deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["orphan"]})
    owner = harness.client.add(RS, owner)
    p = harness.client.add(PODS, pod("web-1", {"app": "web"}, owner=owner))
    gc.on_upsert(PODS, None, p)
    gc.on_upsert(RS, None, owner)
    drain(gc)
    assert writes(harness) == ["patch pods default/web-1", "update replicasets default/web"]
    assert not harness.client.objects[("pods", "default", "web-1")]["metadata"]["ownerReferences"]


def test_a_recreated_owner_with_the_same_name_does_not_keep_old_dependents(harness: Harness) -> None:
    gc = make(harness)
    old_owner = replica_set("web", 1)
    harness.client.add(RS, {**replica_set("web", 1), "metadata": {**replica_set("web", 1)["metadata"],
                                                                    "uid": "a-new-uid"}})
    p = harness.client.add(PODS, pod("web-1", {"app": "web"}, owner=old_owner))
    gc.on_upsert(PODS, None, p)
    drain(gc)
    assert writes(harness) == ["delete pods default/web-1"]
