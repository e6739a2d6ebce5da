"""Pods on a real node: registration, Pending -> Running, init containers, restarts, completion."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from kubelet_node import EVENTS, LEASES, NODES, PODS, TestNode, condition, container_states
from util import wait_for

REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.root


def test_node_registers_with_capacity_conditions_and_lease(node: TestNode) -> None:
    registered = node.client.get(NODES, node.name)
    labels = registered["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == node.name
    assert labels["kubernetes.io/os"] == "linux" and labels["kubernetes.io/arch"]
    status = registered["status"]
    assert {"cpu", "memory", "pods"} <= set(status["capacity"]) and status["allocatable"]["pods"] == "110"
    assert {c["type"] for c in status["conditions"]} == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and ready["reason"] == "KubeletReady"
    assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
    assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == node.port
    assert status["nodeInfo"]["containerRuntimeVersion"].startswith("minik://")
    lease = node.client.get(LEASES, node.name, "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == node.name and lease["spec"]["renewTime"]
    code, out, _ = node.minictl("get", "nodes", node.name)
    assert code == 0 and "Ready" in out


def test_pod_goes_from_pending_to_running(node: TestNode, ns: str) -> None:
    created = node.pod(ns, "web", [{"name": "app", "image": "minik/app:v1"}])
    assert created["status"]["phase"] == "Pending"
    pod = node.wait_pod(ns, "web", lambda p: p["status"].get("phase") == "Running" and condition(p, "Ready") == "True",
                        "pod web Running and Ready")
    status = container_states(pod)["app"]
    assert status["ready"] is True and status["started"] is True and status["restartCount"] == 0
    assert status["containerID"].startswith("minik://") and status["imageID"]
    assert "running" in status["state"]
    assert pod["status"]["hostIP"] == "127.0.0.1" and pod["status"]["qosClass"] == "BestEffort"
    assert pod["status"]["startTime"]
    types = [c["type"] for c in pod["status"]["conditions"]]
    assert types == ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    reasons = node.event_reasons(ns, "web")
    assert {"Pulled", "Created", "Started"} <= set(reasons)
    code, out, _ = node.minictl("get", "pods", "-n", ns)
    assert code == 0 and "1/1" in out and "Running" in out


def _load(path: str) -> dict:
    docs = [d for d in yaml.safe_load_all((REPO / path).read_text()) if d and d.get("kind") == "Pod"]
    return docs[0]


def _apply(node: TestNode, ns: str, manifest: dict) -> dict:
    manifest = copy.deepcopy(manifest)
    manifest["metadata"]["namespace"] = ns
    manifest["spec"]["nodeName"] = node.name
    return node.client.create(PODS, manifest, ns)


def test_init_container_writes_the_page_the_app_serves(node: TestNode, ns: str) -> None:
    """The lab's init-containers.yaml: Init:0/1, then PodInitializing, then Running and serving."""
    _apply(node, ns, _load("manifests/init-containers.yaml"))
    pod = node.wait_pod(ns, "init-demo", lambda p: p["status"].get("phase") == "Running"
                        and condition(p, "Ready") == "True", "init-demo running", timeout=90)
    install = container_states(pod, init=True)["install"]
    assert install["state"]["terminated"]["exitCode"] == 0
    assert install["state"]["terminated"]["reason"] == "Completed"
    assert condition(pod, "Initialized") == "True"
    app_id = container_states(pod)["nginx"]["containerID"].removeprefix("minik://")
    result = node.runtime.exec_sync(app_id, ["wget", "-q", "-O", "-", "http://127.0.0.1:80/index.html"], 30)
    assert b"home of the first website" in result["stdout"]
    reasons = node.event_reasons(ns, "init-demo")
    assert reasons.count("Started") == 2


def test_init_containers_run_one_by_one_in_order(node: TestNode, ns: str) -> None:
    node.pod(ns, "ordered", [{"name": "app", "image": "busybox", "command": ["sh", "-c", "cat /w/log; sleep 3600"],
                             "volumeMounts": [{"name": "w", "mountPath": "/w"}]}],
             initContainers=[{"name": f"init{i}", "image": "busybox",
                              "command": ["sh", "-c", f"test $(wc -l < /w/log 2>/dev/null || echo 0) = {i} && "
                                                      f"echo init{i} >> /w/log"],
                              "volumeMounts": [{"name": "w", "mountPath": "/w"}]} for i in range(3)],
             volumes=[{"name": "w", "emptyDir": {}}])
    pod = node.wait_pod(ns, "ordered", lambda p: p["status"].get("phase") == "Running", "ordered running")
    inits = container_states(pod, init=True)
    assert [inits[f"init{i}"]["state"]["terminated"]["exitCode"] for i in range(3)] == [0, 0, 0]
    code, out, err = node.minictl("logs", "ordered", "-n", ns)
    assert code == 0, err
    assert out.splitlines() == ["init0", "init1", "init2"]


def test_finished_never_pod_is_completed_and_its_sandbox_stops(node: TestNode, ns: str) -> None:
    node.pod(ns, "once", [{"name": "job", "image": "busybox", "command": ["sh", "-c", "echo done"]}],
             restartPolicy="Never")
    pod = node.wait_pod(ns, "once", lambda p: p["status"].get("phase") == "Succeeded", "once Succeeded")
    state = container_states(pod)["job"]["state"]["terminated"]
    assert state["exitCode"] == 0 and state["reason"] == "Completed"
    assert condition(pod, "Ready") == "False"
    code, out, _ = node.minictl("get", "pod", "once", "-n", ns)
    assert code == 0 and "Completed" in out and "0/1" in out
    uid = pod["metadata"]["uid"]
    wait_for(lambda: not any(s["state"] == "SANDBOX_READY" for s in node.runtime.list_pod_sandbox(
        {"label_selector": {"io.kubernetes.pod.uid": uid}})), message="the finished pod's sandbox stopped")
    assert [c["state"] for c in node.runtime_containers(uid)] == ["CONTAINER_EXITED"]


def test_failed_never_pod_is_failed_with_error(node: TestNode, ns: str) -> None:
    node.pod(ns, "broken", [{"name": "job", "image": "busybox", "command": ["sh", "-c", "exit 3"]}],
             restartPolicy="Never")
    pod = node.wait_pod(ns, "broken", lambda p: p["status"].get("phase") == "Failed", "broken Failed")
    state = container_states(pod)["job"]["state"]["terminated"]
    assert state["exitCode"] == 3 and state["reason"] == "Error"
    code, out, _ = node.minictl("get", "pod", "broken", "-n", ns)
    assert code == 0 and "Error" in out


def test_crash_loop_back_off_with_growing_restart_count(node: TestNode, ns: str) -> None:
    node.pod(ns, "crasher", [{"name": "app", "image": "busybox", "command": ["sh", "-c", "echo boom; exit 1"]}])

    def backing_off(pod: dict) -> bool:
        status = container_states(pod).get("app") or {}
        waiting = (status.get("state") or {}).get("waiting") or {}
        return status.get("restartCount", 0) >= 2 and waiting.get("reason") == "CrashLoopBackOff"

    pod = node.wait_pod(ns, "crasher", backing_off, "crasher in CrashLoopBackOff after 2 restarts", timeout=60)
    status = container_states(pod)["app"]
    assert "back-off" in status["state"]["waiting"]["message"]
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["lastState"]["terminated"]["reason"] == "Error"
    assert pod["status"]["phase"] == "Running"
    first = status["restartCount"]
    node.wait_pod(ns, "crasher", lambda p: container_states(p)["app"]["restartCount"] > first,
                  "the restart count keeps growing", timeout=60)
    events = node.events(ns, "crasher")
    backoff = [e for e in events if e["reason"] == "BackOff"]
    assert backoff and backoff[0]["type"] == "Warning"
    assert backoff[0]["message"].startswith("Back-off restarting failed container app in pod crasher_")
    code, out, _ = node.minictl("get", "pod", "crasher", "-n", ns)
    assert code == 0 and ("CrashLoopBackOff" in out or "Error" in out)


def test_memory_limit_oom_kill_is_reported(node: TestNode, ns: str) -> None:
    """The lab's memory-request-limit.yaml: OOMKilled in lastState, then CrashLoopBackOff."""
    _apply(node, ns, _load("manifests/memory-request-limit.yaml"))

    def oom_seen(pod: dict) -> bool:
        status = container_states(pod).get("memory-demo-2-ctr") or {}
        last = (status.get("lastState") or {}).get("terminated") or {}
        return last.get("reason") == "OOMKilled"

    pod = node.wait_pod(ns, "memory-demo-2", oom_seen, "memory-demo-2 OOMKilled", timeout=90)
    status = container_states(pod)["memory-demo-2-ctr"]
    assert status["lastState"]["terminated"]["exitCode"] == 137
    assert status["restartCount"] >= 1
    assert pod["status"]["qosClass"] == "Burstable"
    code, out, _ = node.minictl("describe", "pod", "memory-demo-2", "-n", ns)
    assert code == 0 and "OOMKilled" in out


def test_graceful_deletion_honours_the_grace_period(node: TestNode, ns: str) -> None:
    script = "trap 'echo got TERM' TERM; echo started; while true; do sleep 1; done"
    pod = node.pod(ns, "slow", [{"name": "app", "image": "busybox", "command": ["sh", "-c", script]}],
                   terminationGracePeriodSeconds=30)
    node.wait_pod(ns, "slow", lambda p: p["status"].get("phase") == "Running", "slow running")
    uid = pod["metadata"]["uid"]
    node.client.delete(PODS, "slow", ns, grace_period_seconds=5)
    deleting = node.get(ns, "slow")
    assert deleting["metadata"]["deletionGracePeriodSeconds"] == 5
    code, out, _ = node.minictl("get", "pod", "slow", "-n", ns)
    assert code == 0 and "Terminating" in out

    def got_term() -> bool:
        path = node.runtime.container_status(node.runtime_containers(uid)[0]["id"])["status"]["log_path"]
        return "got TERM" in Path(path).read_text()

    wait_for(got_term, message="the container got SIGTERM")
    # the trap keeps it alive: the kubelet waits out the grace period before SIGKILL
    running = [c for c in node.runtime_containers(uid) if c["state"] == "CONTAINER_RUNNING"]
    assert running, "the container was killed right after SIGTERM instead of after the grace period"
    wait_for(lambda: node.gone(ns, "slow"), timeout=60, message="the pod object removed after the kill")
    wait_for(lambda: not node.runtime_containers(uid), message="the pod's containers removed")
    assert "Killing" in [e["reason"] for e in node.client.list(EVENTS, ns)["items"]
                         if e["involvedObject"]["name"] == "slow"]


def test_pod_beyond_allocatable_is_rejected_out_of_cpu(node: TestNode, ns: str) -> None:
    """The lab's cpu-demo-2 (100 cpu) sent straight to the node: OutOfcpu, like Kubernetes."""
    node.pod(ns, "cpu-demo-2", [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
                                 "resources": {"requests": {"cpu": "100"}, "limits": {"cpu": "100"}}}])
    pod = node.wait_pod(ns, "cpu-demo-2", lambda p: p["status"].get("phase") == "Failed", "cpu-demo-2 rejected")
    assert pod["status"]["reason"] == "OutOfcpu"
    assert pod["status"]["message"].startswith(
        "Pod was rejected: Node didn't have enough resource: cpu, requested: 100000, used: 0, capacity: ")
    assert not node.runtime_containers(pod["metadata"]["uid"])
    code, out, _ = node.minictl("get", "pod", "cpu-demo-2", "-n", ns)
    assert code == 0 and "OutOfcpu" in out


def test_missing_image_is_err_image_pull_then_image_pull_back_off(node: TestNode, ns: str) -> None:
    node.pod(ns, "noimage", [{"name": "app", "image": "minik/does-not-exist:v9", "imagePullPolicy": "IfNotPresent"}])

    def reason(pod: dict) -> str:
        return str(((container_states(pod).get("app") or {}).get("state") or {}).get("waiting", {}).get("reason"))

    pod = node.wait_pod(ns, "noimage", lambda p: reason(p) in ("ErrImagePull", "ImagePullBackOff"),
                        "an image pull error")
    node.wait_pod(ns, "noimage", lambda p: reason(p) == "ImagePullBackOff", "ImagePullBackOff", timeout=60)
    assert pod["status"]["phase"] == "Pending"
    messages = [e["message"] for e in node.events(ns, "noimage") if e["reason"] == "Failed"]
    assert any(m.startswith('Failed to pull image "minik/does-not-exist:v9": ') for m in messages)


def test_never_pull_policy_without_the_image(node: TestNode, ns: str) -> None:
    node.pod(ns, "never", [{"name": "app", "image": "minik/absent:v1", "imagePullPolicy": "Never"}])
    pod = node.wait_pod(ns, "never", lambda p: (container_states(p).get("app") or {}).get("state", {}).get(
        "waiting", {}).get("reason") == "ErrImageNeverPull", "ErrImageNeverPull")
    waiting = container_states(pod)["app"]["state"]["waiting"]
    assert waiting["message"] == 'Container image "minik/absent:v1" is not present with pull policy of Never'


def test_resources_become_cgroup_settings(node: TestNode, ns: str) -> None:
    resources = {"requests": {"cpu": "250m", "memory": "32Mi"}, "limits": {"cpu": "500m", "memory": "64Mi"}}
    node.pod(ns, "limited", [{"name": "app", "image": "busybox", "command": ["sleep", "3600"],
                              "resources": resources}], terminationGracePeriodSeconds=2)
    pod = node.wait_pod(ns, "limited", lambda p: condition(p, "Ready") == "True", "limited running")
    assert pod["status"]["qosClass"] == "Burstable"
    container_id = container_states(pod)["app"]["containerID"].removeprefix("minik://")
    cgroup = node.runtime.container_status(container_id, verbose=True)["info"]["cgroup"]
    limits = cgroup["limits"]
    if cgroup["version"] == "v1":
        assert limits["cpu.shares"] == "256"
        assert (limits["cpu.cfs_quota_us"], limits["cpu.cfs_period_us"]) == ("50000", "100000")
        assert limits["memory.limit_in_bytes"] == str(64 * 1024 * 1024)
    else:
        assert limits["cpu.max"] == "50000 100000"
        assert limits["memory.max"] == str(64 * 1024 * 1024)
    assert any("kubepods/burstable/pod" + pod["metadata"]["uid"] in d for d in cgroup["dirs"].values())
