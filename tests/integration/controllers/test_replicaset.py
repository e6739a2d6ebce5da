"""ReplicaSet controller against the real apiserver: replace, scale, adopt/release, no fighting."""

from __future__ import annotations

from typing import Any

from ctrltest import PODS, RS, active, events_for, replica_set, wait_pods
from util import wait_for

from minik.client.rest import Client


def test_killed_pod_is_replaced_and_scale_3_10_2(client: Client, ns: str, cluster: Any, start_manager: Any) -> None:
    cluster.add_node("a")
    cluster.add_node("b")
    start_manager(["replicaset"])
    client.create(RS, replica_set("web", 3), ns)
    pods = wait_pods(client, ns, 3, ready=True)
    assert all(p["metadata"]["name"].startswith("web-") and len(p["metadata"]["name"]) == len("web-") + 5
               for p in pods)
    ref = pods[0]["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"], ref["blockOwnerDeletion"]) == ("ReplicaSet", "web", True, True)

    victim = pods[0]["metadata"]["name"]
    client.delete(PODS, victim, ns)
    after = wait_for(lambda: (names := {p["metadata"]["name"] for p in active(cluster.pods())})
                     and victim not in names and len(names) == 3 and names, message="replacement pod")
    assert victim not in after

    client.patch(RS, "web", {"spec": {"replicas": 10}}, ns)
    wait_pods(client, ns, 10, ready=True)
    client.patch(RS, "web", {"spec": {"replicas": 2}}, ns)
    wait_pods(client, ns, 2, ready=True)
    status = wait_for(lambda: (s := client.get(RS, "web", ns)["status"]).get("availableReplicas") == 2
                      and s.get("replicas") == 2 and s, message="status 2/2")
    assert status["readyReplicas"] == 2 and status["fullyLabeledReplicas"] == 2
    assert status["observedGeneration"] == client.get(RS, "web", ns)["metadata"]["generation"]
    reasons = wait_for(lambda: {e["reason"] for e in events_for(client, ns, "web")} >= {"SuccessfulCreate",
                                                                                         "SuccessfulDelete"}
                       and events_for(client, ns, "web"), message="events")
    assert any(e["message"].startswith("Created pod: web-") for e in reasons)
