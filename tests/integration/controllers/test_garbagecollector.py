"""Cascading deletion through the garbage collector: Background, Foreground, Orphan, and dangling
dependents found after a controller-manager restart."""

from __future__ import annotations

from typing import Any

import pytest
from ctrltest import DEPLOY, PODS, RS, active, deployment, replica_set, wait_pods
from util import wait_for

from minik.api.errors import NotFoundError
from minik.client.rest import Client


def gone(client: Client, r: Any, name: str, ns: str) -> bool:
    try:
        client.get(r, name, ns)
    except NotFoundError:
        return True
    return False


def rolled_out(client: Client, ns: str, name: str, replicas: int) -> bool:
    s = client.get(DEPLOY, name, ns).get("status") or {}
    return s.get("availableReplicas") == replicas and s.get("updatedReplicas") == replicas


@pytest.fixture
def web(client: Client, ns: str, cluster: Any, start_manager: Any) -> dict[str, Any]:
    """A rolled-out Deployment web (3 replicas) with its ReplicaSet."""
    cluster.add_node("a")
    start_manager(["replicaset", "deployment", "garbagecollector"])
    client.create(DEPLOY, deployment("web", 3), ns)
    wait_for(lambda: rolled_out(client, ns, "web", 3), message="web rolled out")
    (rs,) = client.list(RS, ns)["items"]
    return rs


def test_background_deletes_dependents_after_the_owner(client: Client, ns: str, web: dict[str, Any]) -> None:
    client.delete(DEPLOY, "web", ns, propagation_policy="Background")
    assert gone(client, DEPLOY, "web", ns)  # the owner goes at once
    wait_for(lambda: gone(client, RS, web["metadata"]["name"], ns), message="replica set collected")
    wait_pods(client, ns, 0)


def test_foreground_deletes_dependents_first_and_the_owner_last(client: Client, ns: str,
                                                                web: dict[str, Any]) -> None:
    rv = client.list(PODS, ns)["metadata"]["resourceVersion"]
    deleted_at: dict[str, int] = {}
    with client.watch(PODS, ns, resource_version=rv, timeout_seconds=60) as pw, \
            client.watch(DEPLOY, ns, resource_version=rv, timeout_seconds=60) as dw:
        client.delete(DEPLOY, "web", ns, propagation_policy="Foreground")
        d = client.get(DEPLOY, "web", ns)
        assert d["metadata"]["deletionTimestamp"] and "foregroundDeletion" in d["metadata"]["finalizers"]
        for event in pw:
            if event.type == "DELETED":
                deleted_at[event.object["metadata"]["name"]] = int(event.object["metadata"]["resourceVersion"])
                if len(deleted_at) == 3:
                    break
        owner_deleted = next(int(e.object["metadata"]["resourceVersion"]) for e in dw if e.type == "DELETED")
    # the Deployment (and its ReplicaSet) waited with their finalizer until every pod was gone
    assert owner_deleted > max(deleted_at.values())
    assert gone(client, RS, web["metadata"]["name"], ns)
    assert client.list(PODS, ns)["items"] == []


def test_orphan_keeps_dependents_without_the_owner_reference(client: Client, ns: str, web: dict[str, Any]) -> None:
    client.delete(DEPLOY, "web", ns, propagation_policy="Orphan")
    wait_for(lambda: gone(client, DEPLOY, "web", ns), message="deployment deleted")
    rs = wait_for(lambda: (rs := client.get(RS, web["metadata"]["name"], ns))
                  and not rs["metadata"].get("ownerReferences") and rs, message="replica set orphaned")
    assert rs["spec"]["replicas"] == 3
    pods = wait_pods(client, ns, 3, ready=True)
    assert all(p["metadata"]["ownerReferences"][0]["name"] == rs["metadata"]["name"] for p in pods)


def test_dangling_dependents_are_collected_after_a_restart(client: Client, ns: str, cluster: Any,
                                                           start_manager: Any) -> None:
    cluster.add_node("a")
    first = start_manager(["replicaset"])
    client.create(RS, replica_set("web", 2), ns)
    wait_pods(client, ns, 2, ready=True)
    first.stop()  # nobody collects garbage while the RS goes
    client.delete(RS, "web", ns)
    assert len(active(cluster.pods())) == 2
    start_manager(["garbagecollector"])
    wait_pods(client, ns, 0)
