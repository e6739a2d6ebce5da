"""Node lifecycle, taint eviction and pod GC: a node that stops heartbeating is marked Unknown and
tainted, its pods are evicted after their tolerationSeconds and replaced elsewhere; it recovers
cleanly; pods of a deleted node are force-deleted. Node IPAM hands out distinct pod CIDRs."""

from __future__ import annotations

import ipaddress
from typing import Any

from ctrltest import EVENTS, NODES, PODS, RS, active, is_ready, replica_set
from util import wait_for

from minik.client.rest import Client

FAST = {"node_monitor_grace_period": 2.0, "node_monitor_period": 0.25, "pod_gc_period": 1.0}
LIFECYCLE = ["replicaset", "nodelifecycle", "taint-eviction-controller", "podgc", "garbagecollector"]


def ready_condition(client: Client, name: str) -> dict[str, Any]:
    node = client.get(NODES, name)
    return next(c for c in node["status"]["conditions"] if c["type"] == "Ready")


def taints(client: Client, name: str) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in client.get(NODES, name)["spec"].get("taints") or []}


def tolerant_rs(name: str, replicas: int, seconds: int) -> dict[str, Any]:
    rs = replica_set(name, replicas)
    rs["spec"]["template"]["spec"]["tolerations"] = [
        {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}
        for key in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")]
    return rs


def test_unreachable_node_pods_are_evicted_and_replaced(client: Client, ns: str, cluster: Any,
                                                        start_manager: Any) -> None:
    a = cluster.add_node("a")
    b = cluster.add_node("b")
    start_manager(LIFECYCLE, **FAST)
    client.create(RS, tolerant_rs("web", 2, 1), ns)
    pods = wait_for(lambda: len(ps := [p for p in active(cluster.pods()) if is_ready(p)]) == 2 and ps,
                    message="2 ready pods")
    if not any(p["spec"]["nodeName"] == a for p in pods):  # make sure node a runs one
        client.delete(PODS, next(p for p in pods if p["spec"]["nodeName"] == b)["metadata"]["name"], ns)
        wait_for(lambda: any(p["spec"]["nodeName"] == a for p in active(cluster.pods())), message="a pod on a")
    wait_for(lambda: len([p for p in active(cluster.pods()) if is_ready(p)]) == 2, message="2 ready")
    victim = next(p for p in active(cluster.pods()) if p["spec"]["nodeName"] == a)

    cluster.stop_node(a)
    cond = wait_for(lambda: (c := ready_condition(client, a))["status"] == "Unknown" and c, message="Ready=Unknown")
    assert (cond["reason"], cond["message"]) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
    # two passes of the controller add them, as in Kubernetes (NoSchedule by condition, NoExecute to evict)
    both = {("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/unreachable", "NoSchedule")}
    wait_for(lambda: both <= taints(client, a), message="unreachable NoExecute and NoSchedule taints")

    # evicted after its 1s toleration: Terminating (nobody on a finishes it), replaced on b
    def replaced() -> bool:
        pods = cluster.pods()
        live = [p for p in active(pods) if is_ready(p)]
        going = [p for p in pods if p["metadata"]["name"] == victim["metadata"]["name"]]
        return len(live) == 2 and all(p["spec"]["nodeName"] == b for p in live) and bool(going) and bool(
            going[0]["metadata"].get("deletionTimestamp"))

    wait_for(replaced, timeout=30, message="victim terminating, replacement ready on b")
    messages = [e["message"] for e in client.list(EVENTS, ns)["items"]]
    assert f"Marking for deletion Pod {ns}/{victim['metadata']['name']}" in messages

    # heartbeats return: Ready, taints gone, and the kubelet finishes the deletion
    cluster.restart_node(a)
    wait_for(lambda: ready_condition(client, a)["status"] == "True" and not {
        t for t in taints(client, a) if t[0].startswith("node.kubernetes.io/")}, message="a recovered")
    wait_for(lambda: victim["metadata"]["name"] not in {p["metadata"]["name"] for p in cluster.pods()},
             message="victim gone after recovery")


def test_not_ready_kubelet_gets_the_not_ready_taint(client: Client, ns: str, cluster: Any,
                                                   start_manager: Any) -> None:
    a = cluster.add_node("a")
    start_manager(["nodelifecycle"], **FAST)
    cluster.report_ready(a, False)
    wait_for(lambda: {("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/not-ready", "NoSchedule")}
             <= taints(client, a), message="not-ready taints")
    cluster.report_ready(a, True)
    wait_for(lambda: not taints(client, a), message="taints removed")


def test_pods_of_a_deleted_node_are_force_deleted(client: Client, ns: str, cluster: Any,
                                                  start_manager: Any) -> None:
    a = cluster.add_node("a")
    start_manager(LIFECYCLE, **FAST)
    client.create(RS, replica_set("web", 1), ns)
    (pod,) = wait_for(lambda: len(ps := [p for p in active(cluster.pods()) if is_ready(p)]) == 1 and ps,
                      message="pod on a")
    cluster.stop_node(a)  # no kubelet left to finish anything
    b = cluster.add_node("b")
    cluster.remove_node(a)
    wait_for(lambda: pod["metadata"]["name"] not in {p["metadata"]["name"] for p in cluster.pods()},
             message="pod of the deleted node force-deleted")
    wait_for(lambda: [p["spec"].get("nodeName") for p in active(cluster.pods()) if is_ready(p)] == [b],
             message="replacement on b")


def test_node_ipam_gives_each_node_its_own_cidr(client: Client, ns: str, cluster: Any, start_manager: Any) -> None:
    opts = {"cluster_cidr": "10.123.0.0/16", "node_cidr_mask_size": 24}
    names = [cluster.add_node(x) for x in ("a", "b")]
    manager = start_manager(["nodeipam"], **opts)

    def cidrs() -> dict[str, str]:
        found = {n: client.get(NODES, n)["spec"].get("podCIDR") for n in cluster.nodes}
        return found if all(found.values()) else {}

    got = wait_for(cidrs, message="pod CIDRs")
    assert len(set(got.values())) == len(got)
    for name, cidr in got.items():
        net = ipaddress.ip_network(cidr)
        assert net.prefixlen == 24 and net.subnet_of(ipaddress.ip_network("10.123.0.0/16"))
        assert client.get(NODES, name)["spec"]["podCIDRs"] == [cidr]
    # a restarted allocator knows what is taken
    manager.stop()
    start_manager(["nodeipam"], **opts)
    c = cluster.add_node("c")
    got = wait_for(cidrs, message="pod CIDR of c")
    assert got[c] not in {got[n] for n in names}
