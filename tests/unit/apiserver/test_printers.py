"""Server-side Table printers: the columns and cells `kubectl get` shows for each kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from minik.api.resources import lookup
from minik.apiserver.printers import human_duration, to_table

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def table(plural: str, *items: dict[str, Any], include_object: str = "None") -> dict[str, Any]:
    r = lookup(plural)
    assert r is not None
    return to_table(r, list(items), now=NOW, include_object=include_object)


def row(plural: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Column name -> cell for one object (all columns, wide ones included)."""
    t = table(plural, obj)
    names = [c["name"] for c in t["columnDefinitions"]]
    return dict(zip(names, t["rows"][0]["cells"], strict=True))


def pod(status: dict[str, Any], spec: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "creationTimestamp": ago(90), **meta},
            "spec": spec or {"containers": [{"name": "c", "image": "busybox"}]}, "status": status}


RUNNING = {"running": {"startedAt": ago(60)}}


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (-1, "0s"), (-5, "<invalid>"), (5, "5s"), (119, "119s"), (120, "2m"), (182, "3m2s"),
    (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"), (3 * 3600 + 60 * 25, "3h25m"), (8 * 3600, "8h"),
    (47 * 3600, "47h"), (2 * 86400 + 3 * 3600, "2d3h"), (7 * 86400, "7d"), (30 * 86400, "30d"),
    (3 * 365 * 86400 + 86400, "3y1d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration_matches_apimachinery(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_pod_columns_and_wide_columns() -> None:
    t = table("pods", pod({"phase": "Pending"}))
    cols = [(c["name"], c["type"], c["priority"]) for c in t["columnDefinitions"]]
    assert cols == [("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0),
                    ("Restarts", "string", 0), ("Age", "string", 0), ("IP", "string", 1),
                    ("Node", "string", 1), ("Nominated Node", "string", 1), ("Readiness Gates", "string", 1)]
    assert t["columnDefinitions"][0]["format"] == "name"
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    assert t["rows"][0]["cells"] == ["p", "0/1", "Pending", "0", "90s", "<none>", "<none>", "<none>", "<none>"]


def test_running_ready_pod_with_ip_and_node() -> None:
    r = row("pods", pod({"phase": "Running", "podIPs": [{"ip": "10.244.1.5"}],
                         "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0, "state": RUNNING}]},
                        {"containers": [{"name": "c"}], "nodeName": "worker1"}))
    assert (r["Ready"], r["Status"], r["IP"], r["Node"]) == ("1/1", "Running", "10.244.1.5", "worker1")


INIT_SPEC = {"initContainers": [{"name": "install"}], "containers": [{"name": "nginx"}]}


def test_init_container_running_is_init_0_of_1() -> None:
    status = {"phase": "Pending",
              "initContainerStatuses": [{"name": "install", "state": RUNNING, "restartCount": 0}],
              "containerStatuses": [{"name": "nginx", "state": {"waiting": {"reason": "PodInitializing"}}}]}
    assert row("pods", pod(status, INIT_SPEC))["Status"] == "Init:0/1"


def test_init_done_then_pod_initializing() -> None:
    status = {"phase": "Pending", "conditions": [{"type": "Initialized", "status": "True"}],
              "initContainerStatuses": [{"name": "install", "state": {"terminated": {"exitCode": 0,
                                                                                     "reason": "Completed"}}}],
              "containerStatuses": [{"name": "nginx", "state": {"waiting": {"reason": "PodInitializing"}}}]}
    assert row("pods", pod(status, INIT_SPEC))["Status"] == "PodInitializing"


@pytest.mark.parametrize(("state", "expected"), [
    ({"waiting": {"reason": "CrashLoopBackOff"}}, "Init:CrashLoopBackOff"),
    ({"terminated": {"exitCode": 1, "reason": "Error"}}, "Init:Error"),
    ({"terminated": {"exitCode": 2}}, "Init:ExitCode:2"),
    ({"terminated": {"exitCode": 137, "signal": 9}}, "Init:Signal:9"),
])
def test_failing_init_container(state: dict[str, Any], expected: str) -> None:
    status = {"phase": "Pending", "initContainerStatuses": [{"name": "install", "state": state}]}
    assert row("pods", pod(status, INIT_SPEC))["Status"] == expected


def test_crashloop_after_oom_shows_restarts_with_last_restart_age() -> None:
    status = {"phase": "Running", "containerStatuses": [{
        "name": "c", "ready": False, "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": ago(125)}}}]}
    r = row("pods", pod(status))
    assert (r["Ready"], r["Status"], r["Restarts"]) == ("0/1", "CrashLoopBackOff", "4 (2m5s ago)")


def test_oom_killed_and_error_and_completed_terminations() -> None:
    def status_of(term: dict[str, Any], phase: str = "Running") -> str:
        s = {"phase": phase, "containerStatuses": [{"name": "c", "restartCount": 0, "state": {"terminated": term}}]}
        return str(row("pods", pod(s))["Status"])

    assert status_of({"exitCode": 137, "reason": "OOMKilled"}) == "OOMKilled"
    assert status_of({"exitCode": 1, "reason": "Error"}, "Failed") == "Error"
    assert status_of({"exitCode": 0, "reason": "Completed"}, "Succeeded") == "Completed"
    assert status_of({"exitCode": 3}, "Failed") == "ExitCode:3"


def test_completed_container_next_to_running_one_is_running_or_not_ready() -> None:
    spec = {"containers": [{"name": "a"}, {"name": "b"}]}
    statuses = [{"name": "a", "ready": False, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "b", "ready": True, "state": RUNNING}]
    ready = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": statuses}
    assert row("pods", pod(ready, spec))["Status"] == "Running"
    not_ready = {"phase": "Running", "containerStatuses": statuses}
    assert row("pods", pod(not_ready, spec))["Status"] == "NotReady"


def test_waiting_reason_container_creating() -> None:
    status = {"phase": "Pending", "containerStatuses": [{"name": "c", "state": {"waiting": {
        "reason": "ContainerCreating"}}}]}
    assert row("pods", pod(status))["Status"] == "ContainerCreating"


def test_deleting_pod_is_terminating_unless_node_lost() -> None:
    running = {"phase": "Running", "containerStatuses": [{"name": "c", "ready": True, "state": RUNNING}]}
    assert row("pods", pod(running, deletionTimestamp=ago(1)))["Status"] == "Terminating"
    lost = {**running, "reason": "NodeLost"}
    assert row("pods", pod(lost, deletionTimestamp=ago(1)))["Status"] == "Unknown"
    done = {"phase": "Succeeded", "containerStatuses": [{"name": "c", "state": {"terminated": {
        "exitCode": 0, "reason": "Completed"}}}]}
    assert row("pods", pod(done, deletionTimestamp=ago(1)))["Status"] == "Completed"


def test_finished_pods_carry_completed_row_condition() -> None:
    t = table("pods", pod({"phase": "Succeeded"}))
    assert t["rows"][0]["conditions"][0]["reason"] == "Succeeded"


def test_restartable_init_container_counts_as_a_ready_container() -> None:
    spec = {"initContainers": [{"name": "side", "restartPolicy": "Always"}], "containers": [{"name": "main"}]}
    status = {"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
              "initContainerStatuses": [{"name": "side", "ready": True, "started": True, "state": RUNNING}],
              "containerStatuses": [{"name": "main", "ready": True, "state": RUNNING}]}
    r = row("pods", pod(status, spec))
    assert (r["Ready"], r["Status"]) == ("2/2", "Running")


def test_readiness_gates_count_true_conditions() -> None:
    spec = {"containers": [{"name": "c"}], "readinessGates": [{"conditionType": "a"}, {"conditionType": "b"}]}
    status = {"phase": "Running", "conditions": [{"type": "a", "status": "True"}, {"type": "b", "status": "False"}]}
    assert row("pods", pod(status, spec))["Readiness Gates"] == "1/2"


def test_include_object_modes() -> None:
    obj = pod({"phase": "Pending"})
    assert "object" not in table("pods", obj)["rows"][0]
    assert table("pods", obj, include_object="Object")["rows"][0]["object"] is obj
    meta = table("pods", obj, include_object="Metadata")["rows"][0]["object"]
    assert meta == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def node(labels: dict[str, str], ready: str | None = "True", unschedulable: bool = False) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": ready}] if ready else []
    return {"metadata": {"name": "worker1", "labels": labels, "creationTimestamp": ago(3 * 86400)},
            "spec": {"unschedulable": unschedulable},
            "status": {"conditions": conditions, "addresses": [{"type": "InternalIP", "address": "10.0.0.11"}],
                       "nodeInfo": {"kubeletVersion": "v1.30.0", "osImage": "Ubuntu"}}}


def test_node_status_roles_and_wide_columns() -> None:
    r = row("nodes", node({"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": ""}))
    assert (r["Status"], r["Roles"], r["Age"], r["Version"]) == ("Ready", "control-plane,master", "3d", "v1.30.0")
    assert (r["Internal-IP"], r["External-IP"], r["OS-Image"], r["Kernel-Version"]) == \
        ("10.0.0.11", "<none>", "Ubuntu", "<unknown>")
    assert row("nodes", node({}, "False", unschedulable=True))["Status"] == "NotReady,SchedulingDisabled"
    assert row("nodes", node({"kubernetes.io/role": "worker"}, None))["Status"] == "Unknown"
    assert row("nodes", node({"kubernetes.io/role": "worker"}))["Roles"] == "worker"
    assert row("nodes", node({"disk": "ssd"}))["Roles"] == "<none>"


def test_service_ports_external_ip_and_selector() -> None:
    svc = {"metadata": {"name": "web", "creationTimestamp": ago(10)},
           "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                    "selector": {"app": "web", "tier": "a"},
                    "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}}
    r = row("services", svc)
    assert (r["Type"], r["Cluster-IP"], r["External-IP"], r["Port(s)"], r["Selector"]) == \
        ("NodePort", "10.96.0.10", "<none>", "80:30080/TCP,53/UDP", "app=web,tier=a")
    lb = {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": []}}
    assert (row("services", lb)["External-IP"], row("services", lb)["Port(s)"]) == ("<pending>", "<none>")


def test_endpoints_show_three_then_count_the_rest() -> None:
    ep = {"metadata": {"name": "web"}, "subsets": [{
        "addresses": [{"ip": f"10.244.1.{i}"} for i in range(1, 6)], "ports": [{"port": 8080}]}]}
    assert row("endpoints", ep)["Endpoints"] == "10.244.1.1:8080,10.244.1.2:8080,10.244.1.3:8080 + 2 more..."
    assert row("endpoints", {"metadata": {"name": "none"}})["Endpoints"] == "<none>"


TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "nodejs"}},
    "spec": {"containers": [{"name": "nodejs", "image": "minik/app:v1"}, {"name": "s", "image": "b"}]},
}


def test_deployment_ready_up_to_date_available_and_wide() -> None:
    d = {"metadata": {"name": "label-app01", "creationTimestamp": ago(30)},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "nodejs"}}, "template": TEMPLATE},
         "status": {"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1}}
    t = table("deployments", d)
    assert [c["name"] for c in t["columnDefinitions"]] == \
        ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"]
    assert t["rows"][0]["cells"] == ["label-app01", "1/1", 1, 1, "30s", "nodejs,s", "minik/app:v1,b", "app=nodejs"]
    assert row("deployments", {"metadata": {"name": "x"}, "spec": {"replicas": 3}})["Ready"] == "0/3"


def test_replicaset_and_daemonset_rows() -> None:
    selector = {"matchLabels": {"app": "nodejs", "pod-template-hash": "a1"}}
    rs = {"metadata": {"name": "rs"}, "spec": {"replicas": 2, "template": TEMPLATE, "selector": selector},
          "status": {"replicas": 2, "readyReplicas": 1}}
    assert table("replicasets", rs)["rows"][0]["cells"][:4] == ["rs", 2, 2, 1]
    assert row("replicasets", rs)["Selector"] == "app=nodejs,pod-template-hash=a1"
    ds = {"metadata": {"name": "ds"}, "spec": {"selector": {"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["b", "a"]}]},
        "template": {**TEMPLATE, "spec": {**TEMPLATE["spec"], "nodeSelector": {"disk": "ssd"}}}},
        "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                   "updatedNumberScheduled": 3, "numberAvailable": 2}}
    r = row("daemonsets", ds)
    assert [r[c] for c in ("Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Selector")] == \
        [3, 3, 2, 3, 2, "disk=ssd", "app in (a,b)"]
    assert row("daemonsets", {"metadata": {"name": "x"}})["Node Selector"] == "<none>"


def test_events_namespaces_and_leases() -> None:
    ev = {"metadata": {"name": "app.1"}, "type": "Warning", "reason": "BackOff", "count": 5,
          "firstTimestamp": ago(300), "lastTimestamp": ago(20), "message": "Back-off restarting failed container\n",
          "involvedObject": {"kind": "Pod", "name": "app", "fieldPath": "spec.containers{app}"},
          "source": {"component": "kubelet", "host": "worker1"}}
    r = row("events", ev)
    assert [r[c] for c in ("Last Seen", "Type", "Reason", "Object", "Message")] == \
        ["20s", "Warning", "BackOff", "pod/app", "Back-off restarting failed container"]
    assert [r[c] for c in ("Subobject", "Source", "First Seen", "Count", "Name")] == \
        ["spec.containers{app}", "kubelet, worker1", "5m", 5, "app.1"]
    assert row("namespaces", {"metadata": {"name": "cpu-example"}, "status": {"phase": "Active"}})["Status"] == "Active"
    lease = {"metadata": {"name": "worker1", "creationTimestamp": ago(4000)}, "spec": {"holderIdentity": "worker1"}}
    assert row("leases", lease) == {"Name": "worker1", "Holder": "worker1", "Age": "66m"}


def test_controller_revisions_name_their_controller() -> None:
    cr = {"metadata": {"name": "ds-7c9", "creationTimestamp": ago(60), "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "controller": True}]}, "revision": 2}
    assert table("controllerrevisions", cr)["rows"][0]["cells"] == ["ds-7c9", "daemonset.apps/ds", 2, "60s"]
    assert row("controllerrevisions", {"metadata": {"name": "x"}})["Controller"] == "<none>"
