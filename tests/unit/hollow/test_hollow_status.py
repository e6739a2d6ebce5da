"""Hollow nodes' status builders and pod sync: what the control plane sees must look like a real kubelet's."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from minik.apiserver.printers import pod_status_reason
from minik.hollow.addresses import MAX_PODS_PER_NODE, PodAddresses, node_ip, pod_cidr
from minik.hollow.node import HOLLOW_LABEL, HollowNodeSpec, node_object, node_status
from minik.hollow.pods import HollowPods, MalformedPod, running_status
from minik.kubelet.status_manager import status_diff

NOW = "2024-05-01T10:00:00Z"
LATER = "2024-05-01T10:05:00Z"
Obj = dict[str, Any]


def pod(name: str = "app", node: str = "hollow-node-1", **spec: Any) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": "5"},
        "spec": {"nodeName": node, "restartPolicy": "Always",
                 "containers": [{"name": "app", "image": "minik/app:v1",
                                 "resources": {"requests": {"cpu": "100m"}}}], **spec},
        "status": {"phase": "Pending",
                   "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": NOW}]},
    }


def cond(status: Obj, type_: str) -> Obj:
    return next(c for c in status["conditions"] if c["type"] == type_)


# ---------------------------------------------------------------- node


def test_node_object_and_status_look_like_a_ready_kubelets() -> None:
    spec = HollowNodeSpec(cpu="4", memory="8Gi", max_pods=110)
    node = node_object("hollow-node-7", spec)
    labels = node["metadata"]["labels"]
    assert node["metadata"]["name"] == "hollow-node-7"
    assert labels["kubernetes.io/hostname"] == "hollow-node-7" and labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"] and labels[HOLLOW_LABEL] == "true"

    status = node_status("hollow-node-7", 7, spec, [], now=NOW)
    assert status["capacity"] == status["allocatable"] == {  # in Ki, as the kubelet writes them
        "cpu": "4", "ephemeral-storage": "104857600Ki", "memory": "8388608Ki", "pods": "110"}
    assert cond(status, "Ready")["status"] == "True" and cond(status, "Ready")["reason"] == "KubeletReady"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False", "Ready": "True"}
    assert status["addresses"] == [{"type": "InternalIP", "address": "198.18.0.8"},
                                   {"type": "Hostname", "address": "hollow-node-7"}]
    info = status["nodeInfo"]
    assert info["operatingSystem"] == "linux" and info["kubeletVersion"] and info["machineID"]
    assert node_status("hollow-node-7", 7, spec, [], now=NOW)["nodeInfo"] == info  # stable ids

    again = node_status("hollow-node-7", 7, spec, status["conditions"], now=LATER)
    assert cond(again, "Ready")["lastHeartbeatTime"] == LATER
    assert cond(again, "Ready")["lastTransitionTime"] == NOW


def test_bad_quantities_are_refused_before_registering() -> None:
    with pytest.raises(ValueError):
        HollowNodeSpec(cpu="lots").check()
    with pytest.raises(ValueError):
        HollowNodeSpec(max_pods=0).check()


# ---------------------------------------------------------------- addresses


def test_pod_addresses_come_from_the_nodes_range_and_are_reused() -> None:
    assert node_ip(0) == "198.18.0.1" and str(pod_cidr(0)) == "100.64.0.0/24"
    assert str(pod_cidr(300)) == "100.65.44.0/24"
    ips = PodAddresses()
    first = ips.assign("ns/a", "u1", 3)
    assert first == "100.64.3.1" and ips.assign("ns/a", "u1", 3) == first
    assert ips.assign("ns/b", "u2", 3) == "100.64.3.2"
    assert ips.assign("ns/c", "u3", 3, wanted="100.64.3.200") == "100.64.3.200"  # re-adopted
    assert ips.assign("ns/d", "u4", 3, wanted="100.64.3.2") == "100.64.3.3"  # taken: next free
    assert ips.assign("ns/e", "u5", 3, wanted=["junk"]) == "100.64.3.4"
    ips.release("ns/a")
    assert ips.assign("ns/f", "u6", 3) == first
    assert ips.assign("ns/f", "u7", 3) == first  # same name, new pod: the old one's address is freed first
    full = PodAddresses()
    for i in range(MAX_PODS_PER_NODE):
        assert full.assign(f"ns/p{i}", str(i), 0) is not None
    assert full.assign("ns/one-too-many", "x", 0) is None


# ---------------------------------------------------------------- pod status


def test_running_status_is_what_a_kubelet_reports_for_a_running_pod() -> None:
    status = running_status(pod(), "198.18.0.2", "100.64.1.9", now=NOW)
    assert status["phase"] == "Running"
    for type_ in ("Initialized", "Ready", "ContainersReady", "PodScheduled", "PodReadyToStartContainers"):
        assert cond(status, type_)["status"] == "True", type_
    (app,) = status["containerStatuses"]
    assert app["ready"] is True and app["started"] is True and app["restartCount"] == 0
    assert "running" in app["state"] and app["image"] == "minik/app:v1"
    assert status["podIP"] == "100.64.1.9" and status["podIPs"] == [{"ip": "100.64.1.9"}]
    assert status["hostIP"] == "198.18.0.2" and status["startTime"] == NOW
    assert status["qosClass"] == "Burstable"
    assert pod_status_reason({**pod(), "status": status}) == "Running"
    # written back, the next sync finds nothing to change: one write per pod
    assert status_diff(running_status({**pod(), "status": status}, "198.18.0.2", "100.64.1.9", now=LATER),
                       status) == {}


def test_init_containers_are_reported_completed() -> None:
    p = pod(initContainers=[{"name": "init", "image": "busybox"}])
    status = running_status(p, "198.18.0.2", "100.64.1.9", now=NOW)
    assert status["phase"] == "Running"
    (init,) = status["initContainerStatuses"]
    assert init["state"]["terminated"]["exitCode"] == 0
    assert pod_status_reason({**p, "status": status}) == "Running"


@pytest.mark.parametrize("bad", [
    {"containers": "nope"},
    {"containers": [{"name": "app", "image": 7}, "junk", {"image": "nameless"}]},
    {"initContainers": {"not": "a list"}},
])
def test_malformed_specs_never_raise_anything_but_malformed_pod(bad: Obj) -> None:
    p = pod()
    p["spec"].update(bad)
    p["status"] = {"containerStatuses": [{"name": "app", "restartCount": "many"}], "startTime": 12,
                   "conditions": "bad"}
    try:
        status = running_status(p, "198.18.0.2", "100.64.1.9", now=NOW)
    except MalformedPod:
        return
    assert isinstance(status, dict)


# ---------------------------------------------------------------- pod sync, against a recording client


class RecordingClient:
    """Just the calls HollowPods makes; the informer is never started."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def patch(self, r: Any, name: str, body: Any, namespace: str | None = None, **kw: Any) -> Obj:
        self.calls.append(("patch", f"{namespace}/{name}", body))
        return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": "99"}}

    def delete(self, r: Any, name: str, namespace: str | None = None, **kw: Any) -> Obj:
        self.calls.append(("delete", f"{namespace}/{name}", kw))
        return {}


def hollow_pods() -> tuple[HollowPods, RecordingClient]:
    client = RecordingClient()
    return HollowPods(client, ["hollow-node-0", "hollow-node-1"], workers=1), client  # type: ignore[arg-type]


def test_sync_reports_running_once_and_deletes_on_graceful_deletion() -> None:
    pods, client = hollow_pods()
    pods.informer.store.add(pod())
    pods.sync("ns/app")
    ((verb, key, body),) = client.calls
    assert (verb, key) == ("patch", "ns/app") and body["status"]["phase"] == "Running"
    assert ipaddress.ip_address(body["status"]["podIP"]) in pod_cidr(1)

    written = pod()
    written["metadata"]["resourceVersion"] = "99"
    pods._on_update(pod(), written)  # the echo of our own write is not even queued
    assert len(pods.queue) == 0

    deleting = pod()
    deleting["metadata"]["deletionTimestamp"] = NOW
    pods.informer.store.add(deleting)
    pods.sync("ns/app")
    assert client.calls[-1] == ("delete", "ns/app", {"grace_period_seconds": 0, "preconditions": {"uid": "uid-app"}})
    assert len(pods.addresses) == 0

    deleting["metadata"]["deletionGracePeriodSeconds"] = 0  # asked already; a finalizer holds it
    calls = len(client.calls)
    pods.sync("ns/app")
    assert len(client.calls) == calls


def test_sync_ignores_other_nodes_and_survives_garbage() -> None:
    pods, client = hollow_pods()
    pods.informer.store.add(pod("elsewhere", node="real-node"))
    pods.informer.store.add(pod("listy", node=["hollow-node-0"]))  # type: ignore[arg-type]
    broken = pod("broken")
    broken["spec"]["containers"] = [{"name": "app", "image": "x"}]
    broken["status"] = {"containerStatuses": [{"name": "app", "restartCount": "many"}]}
    pods.informer.store.add(broken)
    pods.informer.store.add({"metadata": {"name": "bare", "namespace": "ns"}, "spec": "no", "status": []})
    for key in ("ns/elsewhere", "ns/listy", "ns/broken", "ns/bare", "ns/gone"):
        pods.sync(key)
    assert all(key == "ns/broken" for _, key, _ in client.calls)
