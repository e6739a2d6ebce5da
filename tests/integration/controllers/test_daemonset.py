"""DaemonSet controller: a pod per eligible node as nodes come, go, get labels and taints; rolling
update through ControllerRevisions; rollout status/history/undo for daemon sets."""

from __future__ import annotations

from typing import Any

from ctrltest import CR, DS, NODES, PODS, active, is_ready, minictl
from util import wait_for

from minik.client.rest import Client


def daemon_set(ns: str, image: str = "minik/app:v1") -> dict[str, Any]:
    labels = {"app": "agent"}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
            "spec": {"selector": {"matchLabels": labels},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"nodeSelector": {"minik-ds": ns},
                                           "containers": [{"name": "agent", "image": image}]}}}}


def pods_by_node(client: Client, ns: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for p in active(client.list(PODS, ns)["items"]):
        out.setdefault(p["spec"].get("nodeName") or "?", []).append(p)
    return out


def on_nodes(client: Client, ns: str, nodes: set[str]) -> bool:
    placed = pods_by_node(client, ns)
    return set(placed) == nodes and all(len(ps) == 1 and is_ready(ps[0]) for ps in placed.values())


def test_one_pod_per_eligible_node(apiserver: Any, client: Client, ns: str, cluster: Any,
                                   start_manager: Any) -> None:
    label = {"minik-ds": ns}
    a = cluster.add_node("a", labels=label)
    b = cluster.add_node("b", labels=label)
    cluster.add_node("other")  # no label: no daemon pod
    start_manager(["daemonset", "garbagecollector", "podgc"], pod_gc_period=1.0)
    client.create(DS, daemon_set(ns), ns)
    wait_for(lambda: on_nodes(client, ns, {a, b}), message="a pod on a and b")
    pod = pods_by_node(client, ns)[a][0]
    assert pod["metadata"]["generateName"] == "agent-"
    assert pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [a]}]}]}
    tolerated = {(t.get("key"), t.get("effect"), t.get("tolerationSeconds")) for t in pod["spec"]["tolerations"]}
    assert {("node.kubernetes.io/not-ready", "NoExecute", None), ("node.kubernetes.io/unreachable", "NoExecute", None),
            ("node.kubernetes.io/disk-pressure", "NoSchedule", None),
            ("node.kubernetes.io/memory-pressure", "NoSchedule", None),
            ("node.kubernetes.io/pid-pressure", "NoSchedule", None),
            ("node.kubernetes.io/unschedulable", "NoSchedule", None)} <= tolerated
    (revision,) = client.list(CR, ns)["items"]
    assert pod["metadata"]["labels"]["controller-revision-hash"] == revision["metadata"]["labels"][
        "controller-revision-hash"]
    assert revision["metadata"]["name"] == "agent-" + revision["metadata"]["labels"]["controller-revision-hash"]
    status = wait_for(lambda: (s := client.get(DS, "agent", ns)["status"]).get("numberAvailable") == 2 and s,
                      message="status")
    assert {k: status.get(k) for k in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                                       "updatedNumberScheduled", "numberMisscheduled")} == {
        "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 2, "updatedNumberScheduled": 2,
        "numberMisscheduled": 0}

    c = cluster.add_node("c", labels=label)  # a new node gets its pod
    wait_for(lambda: on_nodes(client, ns, {a, b, c}), message="a pod on c too")

    # NoSchedule keeps new pods off but leaves a running one; NoExecute evicts it
    client.patch(NODES, c, {"spec": {"taints": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]}})
    wait_for(lambda: client.get(DS, "agent", ns)["status"]["desiredNumberScheduled"] == 2, message="c not desired")
    assert on_nodes(client, ns, {a, b, c})
    client.patch(NODES, c, {"spec": {"taints": [{"key": "dedicated", "value": "x", "effect": "NoExecute"}]}})
    wait_for(lambda: on_nodes(client, ns, {a, b}), message="pod on c deleted by the NoExecute taint")
    client.patch(NODES, c, {"spec": {"taints": None}})
    wait_for(lambda: on_nodes(client, ns, {a, b, c}), message="pod back on c")

    # a node that loses the label loses its pod
    client.patch(NODES, b, {"metadata": {"labels": {"minik-ds": None}}})
    wait_for(lambda: on_nodes(client, ns, {a, c}), message="pod on b deleted")
    wait_for(lambda: client.get(DS, "agent", ns)["status"].get("numberMisscheduled") == 0
             and client.get(DS, "agent", ns)["status"]["desiredNumberScheduled"] == 2, message="status after b")

    # a deleted node's pod goes with it (the pod garbage collector force-deletes it)
    cluster.stop_node(c)
    cluster.remove_node(c)
    wait_for(lambda: set(pods_by_node(client, ns)) == {a} and len(client.list(PODS, ns)["items"]) == 1,
             message="only a's pod left")
    wait_for(lambda: client.get(DS, "agent", ns)["status"]["desiredNumberScheduled"] == 1, message="desired 1")


def test_rolling_update_history_and_undo(apiserver: Any, client: Client, ns: str, cluster: Any,
                                         start_manager: Any) -> None:
    label = {"minik-ds": ns}
    nodes = {cluster.add_node(n, labels=label) for n in ("a", "b", "c")}
    start_manager(["daemonset", "garbagecollector"])
    client.create(DS, daemon_set(ns), ns)
    code, out, _ = minictl(apiserver, ns, "rollout", "status", "daemonset/agent", "--timeout=60s")
    assert code == 0 and out.splitlines()[-1] == 'daemon set "agent" successfully rolled out'

    before = client.list(PODS, ns)
    rv = before["metadata"]["resourceVersion"]
    client.patch(DS, "agent", {"spec": {"template": {"spec": {"containers": [
        {"name": "agent", "image": "minik/app:v2"}]}}}}, ns, patch_type="strategic")
    code, out, _ = minictl(apiserver, ns, "rollout", "status", "ds/agent", "--timeout=60s")
    assert code == 0 and out.splitlines()[-1] == 'daemon set "agent" successfully rolled out'
    wait_for(lambda: on_nodes(client, ns, nodes), message="one pod per node after the update")
    assert {p["spec"]["containers"][0]["image"] for ps in pods_by_node(client, ns).values() for p in ps} == {
        "minik/app:v2"}
    # maxUnavailable 1: never two nodes without a ready pod at once
    final = {p["metadata"]["name"] for ps in pods_by_node(client, ns).values() for p in ps}
    pods = {p["metadata"]["name"]: p for p in before["items"]}
    with client.watch(PODS, ns, resource_version=rv, timeout_seconds=30) as w:  # replay the whole update
        for event in w:
            name = event.object["metadata"]["name"]
            if event.type == "DELETED":
                pods.pop(name, None)
            else:
                pods[name] = event.object
            ready_nodes = {p["spec"].get("nodeName") for p in active(list(pods.values())) if is_ready(p)}
            assert len(nodes - ready_nodes) <= 1, f"nodes without a ready pod: {nodes - ready_nodes}"
            if set(pods) == final and all(is_ready(p) for p in pods.values()):
                break

    code, out, _ = minictl(apiserver, ns, "rollout", "history", "daemonset/agent")
    assert out == "daemonset.apps/agent \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    code, out, _ = minictl(apiserver, ns, "rollout", "undo", "daemonset/agent")
    assert (code, out) == (0, "daemonset.apps/agent rolled back\n")
    minictl(apiserver, ns, "rollout", "status", "daemonset/agent", "--timeout=60s")
    wait_for(lambda: on_nodes(client, ns, nodes) and {
        p["spec"]["containers"][0]["image"] for ps in pods_by_node(client, ns).values() for p in ps} == {
        "minik/app:v1"}, message="back on v1")
    revisions = sorted(int(cr["revision"]) for cr in client.list(CR, ns)["items"])
    assert revisions == [2, 3]  # revision 1 came back as 3
