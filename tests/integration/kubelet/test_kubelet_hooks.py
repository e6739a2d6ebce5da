"""Lifecycle hooks and Service variables on a real node: postStart gates the start, preStop runs before
the stop signal (deletion, liveness kill) and holds the deletion, failures are events."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubelet_node import PODS, TestNode, condition, container_states
from util import wait_for

from minik.api.resources import require

pytestmark = pytest.mark.root

SERVICES = require("services")
# a main process that ends at once on SIGTERM (PID 1 has no default handlers: sh needs the trap)
TERM_AWARE = "trap 'echo TERM >> /host/log; exit 0' TERM; while true; do sleep 0.2; done"


def _host_dir(node: TestNode) -> Path:
    path = node.workdir / "host"
    path.mkdir(exist_ok=True)
    return path


def _host_volume(node: TestNode) -> dict:
    return {"name": "host", "hostPath": {"path": str(_host_dir(node)), "type": "Directory"}}


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _event(node: TestNode, ns: str, name: str, reason: str) -> dict | None:
    return next((e for e in node.events(ns, name) if e["reason"] == reason), None)


def test_post_start_hook_gates_the_start_and_services_are_in_the_env(node: TestNode, ns: str) -> None:
    node.client.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-svc"},
                                  "spec": {"selector": {"app": "x"},
                                           "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}, ns)
    svc_ip = node.client.get(SERVICES, "web-svc", ns)["spec"]["clusterIP"]
    kubernetes_ip = node.client.get(SERVICES, "kubernetes", "default")["spec"]["clusterIP"]
    hook = "while [ ! -f /tmp/go ]; do sleep 0.1; done; echo hooked > /tmp/hook"
    pod = node.pod(ns, "hooked", [{"name": "app", "image": "busybox", "command": ["sh", "-c", TERM_AWARE],
                                   "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", hook]}}}}],
                   terminationGracePeriodSeconds=5)
    uid = pod["metadata"]["uid"]
    (container,) = wait_for(lambda: [c for c in node.runtime_containers(uid) if c["state"] == "CONTAINER_RUNNING"],
                            message="the container running in the runtime")
    # the hook waits for /tmp/go: the container runs, but the pod does not count it as started
    status = container_states(node.get(ns, "hooked")).get("app") or {}
    assert status.get("started") is not True and "running" not in (status.get("state") or {})
    assert node.runtime.exec_sync(container["id"], ["touch", "/tmp/go"], 30)["exit_code"] == 0
    node.wait_pod(ns, "hooked", lambda p: condition(p, "Ready") == "True", "hooked Ready after its hook")

    code, out, err = node.minictl("exec", "hooked", "-n", ns, "--", "cat", "/tmp/hook")
    assert (code, out) == (0, "hooked\n"), err
    code, out, err = node.minictl("exec", "hooked", "-n", ns, "--", "env")
    assert code == 0, err
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert env["KUBERNETES_SERVICE_HOST"] == kubernetes_ip and env["KUBERNETES_SERVICE_PORT"] == "443"
    assert env["WEB_SVC_SERVICE_HOST"] == svc_ip and env["WEB_SVC_SERVICE_PORT_HTTP"] == "80"
    assert env["WEB_SVC_PORT_80_TCP"] == f"tcp://{svc_ip}:80"


def test_failed_post_start_hook_kills_the_container(node: TestNode, ns: str) -> None:
    node.pod(ns, "badhook", [{"name": "app", "image": "busybox", "command": ["sh", "-c", "sleep 3600"],
                              "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "exit 3"]}}}}],
             restartPolicy="Never", terminationGracePeriodSeconds=2)
    pod = node.wait_pod(ns, "badhook", lambda p: p["status"].get("phase") == "Failed", "badhook Failed")
    terminated = container_states(pod)["app"]["state"]["terminated"]
    assert terminated["exitCode"] != 0 and terminated["reason"] == "Error"
    failed = wait_for(lambda: _event(node, ns, "badhook", "FailedPostStartHook"), message="FailedPostStartHook")
    assert failed["type"] == "Warning" and failed["message"] == "PostStartHook failed"
    killing = wait_for(lambda: _event(node, ns, "badhook", "Killing"), message="the Killing event")
    assert killing["message"] == "FailedPostStartHook"


def test_pre_stop_hook_runs_before_sigterm_and_holds_the_deletion(node: TestNode, ns: str) -> None:
    host = _host_dir(node)
    hook = "echo preStop >> /host/log; while [ ! -f /host/release ]; do sleep 0.1; done"
    pod = node.pod(ns, "graceful", [{"name": "app", "image": "busybox", "command": ["sh", "-c", TERM_AWARE],
                                     "volumeMounts": [{"name": "host", "mountPath": "/host"}],
                                     "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", hook]}}}}],
                   volumes=[_host_volume(node)], terminationGracePeriodSeconds=60)
    uid = pod["metadata"]["uid"]
    node.wait_pod(ns, "graceful", lambda p: condition(p, "Ready") == "True", "graceful Ready")
    node.client.delete(PODS, "graceful", ns)
    wait_for(lambda: _lines(host / "log") == ["preStop"], message="the preStop hook started")
    # the hook waits for /host/release: no SIGTERM yet, the pod is Terminating with its container running
    assert node.get(ns, "graceful")["metadata"].get("deletionTimestamp")
    assert [c["state"] for c in node.runtime_containers(uid)] == ["CONTAINER_RUNNING"]
    assert _lines(host / "log") == ["preStop"]
    (host / "release").touch()
    wait_for(lambda: node.gone(ns, "graceful"), timeout=60, message="the pod removed after its preStop hook")
    assert _lines(host / "log") == ["preStop", "TERM"]  # the hook, then the stop signal
    assert _event(node, ns, "graceful", "FailedPreStopHook") is None


def test_pre_stop_hook_runs_on_a_liveness_kill_and_a_failed_one_is_an_event(node: TestNode, ns: str) -> None:
    host = _host_dir(node)
    live = {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1, "failureThreshold": 1}
    containers = [
        {"name": "app", "image": "busybox", "command": ["sh", "-c", f"touch /tmp/healthy; {TERM_AWARE}"],
         "volumeMounts": [{"name": "host", "mountPath": "/host"}], "livenessProbe": live,
         "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "echo preStop >> /host/log"]}}}},
        {"name": "broken", "image": "busybox", "command": ["sleep", "3600"],
         "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "exit 1"]}}}},
        {"name": "sleepy", "image": "busybox", "command": ["sleep", "3600"],
         "lifecycle": {"preStop": {"sleep": {"seconds": 1}}}},
    ]
    node.pod(ns, "probed", containers, volumes=[_host_volume(node)], terminationGracePeriodSeconds=3)
    pod = node.wait_pod(ns, "probed", lambda p: condition(p, "Ready") == "True", "probed Ready")
    first = container_states(pod)["app"]["containerID"].removeprefix("minik://")
    node.runtime.exec_sync(first, ["rm", "/tmp/healthy"], 30)
    node.wait_pod(ns, "probed", lambda p: container_states(p)["app"]["restartCount"] >= 1,
                  "app restarted after its liveness failure", timeout=60)
    assert _lines(host / "log")[:2] == ["preStop", "TERM"]
    assert _event(node, ns, "probed", "FailedPreStopHook") is None

    node.client.delete(PODS, "probed", ns)
    wait_for(lambda: node.gone(ns, "probed"), timeout=60, message="the pod removed despite a failed preStop hook")
    failed = wait_for(lambda: _event(node, ns, "probed", "FailedPreStopHook"), message="FailedPreStopHook")
    assert failed["type"] == "Warning" and failed["message"] == "PreStopHook failed"
