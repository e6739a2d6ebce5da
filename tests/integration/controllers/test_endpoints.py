"""Endpoints controller: addresses follow pod readiness, ports resolve by name, the Service's
deletion takes its Endpoints along."""

from __future__ import annotations

from typing import Any

from ctrltest import EP, PODS, RS, SVC, replica_set, wait_pods
from util import wait_for

from minik.api.errors import NotFoundError
from minik.client.rest import Client


def endpoints(client: Client, ns: str, name: str) -> dict[str, Any] | None:
    try:
        return client.get(EP, name, ns)
    except NotFoundError:
        return None


def test_ready_and_not_ready_addresses_with_named_ports(client: Client, ns: str, cluster: Any,
                                                       start_manager: Any) -> None:
    node = cluster.add_node("a")
    start_manager(["replicaset", "endpoint"])
    client.create(SVC, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"tier": "x"}},
                        "spec": {"selector": {"app": "web"},
                                 "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                                           {"name": "metrics", "port": 9090, "targetPort": 9100}]}}, ns)
    ep = wait_for(lambda: endpoints(client, ns, "web"), message="endpoints created for the service")
    assert not ep.get("subsets") and ep["metadata"]["labels"] == {"tier": "x"}

    client.create(RS, replica_set("web", 2), ns)
    pods = wait_pods(client, ns, 2, ready=True)
    by_ip = {p["status"]["podIP"]: p for p in pods}

    def ready_ips() -> set[str]:
        ep = endpoints(client, ns, "web") or {}
        return {a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []}

    wait_for(lambda: ready_ips() == set(by_ip), message="both pods ready in the endpoints")
    (subset,) = client.get(EP, "web", ns)["subsets"]
    assert sorted((p["name"], p["port"], p["protocol"]) for p in subset["ports"]) == [
        ("http", 8080, "TCP"), ("metrics", 9100, "TCP")]
    address = subset["addresses"][0]
    pod = by_ip[address["ip"]]
    assert address["nodeName"] == node
    assert address["targetRef"] == {"kind": "Pod", "namespace": ns, "name": pod["metadata"]["name"],
                                    "uid": pod["metadata"]["uid"]}

    # a pod that stops being ready moves to notReadyAddresses (the test's kubelet keeps it unready)
    victim = pods[0]
    cluster.hold_ready = lambda p: p["metadata"]["name"] == victim["metadata"]["name"]
    fresh = client.get(PODS, victim["metadata"]["name"], ns)
    fresh["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    client.update_status(PODS, fresh)

    def not_ready() -> list[str]:
        ep = endpoints(client, ns, "web") or {}
        return [a["ip"] for s in ep.get("subsets") or [] for a in s.get("notReadyAddresses") or []]

    assert wait_for(not_ready, message="not ready address") == [victim["status"]["podIP"]]
    assert ready_ips() == {pods[1]["status"]["podIP"]}

    # a terminating pod is left out; its replacement comes in once ready
    cluster.hold_ready = lambda p: False
    client.delete(PODS, victim["metadata"]["name"], ns)
    wait_for(lambda: not not_ready() and len(ready_ips()) == 2 and victim["status"]["podIP"] not in ready_ips(),
             message="replacement in the endpoints")

    client.delete(SVC, "web", ns)
    wait_for(lambda: endpoints(client, ns, "web") is None, message="endpoints deleted with the service")


def test_pods_without_the_named_port_or_ip_are_left_out(client: Client, ns: str, cluster: Any,
                                                        start_manager: Any) -> None:
    start_manager(["endpoint"])
    client.create(SVC, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
                        "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432, "targetPort": "pg"}]}}, ns)
    for name, port_name, ip in (("has-port", "pg", "10.1.0.1"), ("other-port", "http", "10.1.0.2"),
                                ("no-ip", "pg", None)):
        pod = client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                   "metadata": {"name": name, "labels": {"app": "db"}},
                                   "spec": {"containers": [{"name": "c", "image": "minik/app:v1", "ports": [
                                       {"name": port_name, "containerPort": 5432}]}]}}, ns)
        if ip:
            pod["status"] = {"phase": "Running", "podIP": ip,
                             "conditions": [{"type": "Ready", "status": "True"}]}
            client.update_status(PODS, pod)

    def addresses() -> list[str]:
        ep = endpoints(client, ns, "db") or {}
        return [a["targetRef"]["name"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []]

    assert wait_for(addresses, message="endpoints of db") == ["has-port"]
