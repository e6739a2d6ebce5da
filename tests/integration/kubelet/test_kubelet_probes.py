"""Liveness, readiness and startup probes (exec, httpGet, tcpSocket) on real containers."""

from __future__ import annotations

import pytest
from kubelet_node import TestNode, condition, container_states

pytestmark = pytest.mark.root


def test_liveness_failure_restarts_the_container(node: TestNode, ns: str) -> None:
    probe = {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1, "failureThreshold": 1}
    node.pod(ns, "live", [{"name": "app", "image": "busybox",
                           "command": ["sh", "-c", "touch /tmp/healthy; sleep 3600"], "livenessProbe": probe}],
             terminationGracePeriodSeconds=2)
    pod = node.wait_pod(ns, "live", lambda p: p["status"].get("phase") == "Running", "live running")
    first = container_states(pod)["app"]["containerID"].removeprefix("minik://")
    node.runtime.exec_sync(first, ["rm", "/tmp/healthy"], 30)
    pod = node.wait_pod(ns, "live", lambda p: container_states(p)["app"]["restartCount"] >= 1
                        and "running" in container_states(p)["app"]["state"], "restarted after liveness failure")
    status = container_states(pod)["app"]
    assert status["containerID"].removeprefix("minik://") != first
    assert status["lastState"]["terminated"]["exitCode"] == 137  # sh ignores SIGTERM as PID 1: killed after 2 s
    events = node.events(ns, "live")
    unhealthy = [e for e in events if e["reason"] == "Unhealthy"]
    assert unhealthy and unhealthy[0]["type"] == "Warning"
    assert unhealthy[0]["message"].startswith("Liveness probe failed: cat: can't open '/tmp/healthy'")
    killing = [e["message"] for e in events if e["reason"] == "Killing"]
    assert "Container app failed liveness probe, will be restarted" in killing


def test_readiness_gates_the_ready_condition(node: TestNode, ns: str) -> None:
    probe = {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1}
    node.pod(ns, "gated", [{"name": "app", "image": "busybox", "command": ["sleep", "3600"],
                            "readinessProbe": probe}])
    pod = node.wait_pod(ns, "gated", lambda p: p["status"].get("phase") == "Running", "gated running")
    assert condition(pod, "Ready") == "False" and condition(pod, "ContainersReady") == "False"
    ready_cond = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert ready_cond["reason"] == "ContainersNotReady"
    assert ready_cond["message"] == "containers with unready status: [app]"
    code, out, _ = node.minictl("get", "pod", "gated", "-n", ns)
    assert code == 0 and "0/1" in out and "Running" in out
    container_id = container_states(pod)["app"]["containerID"].removeprefix("minik://")
    node.runtime.exec_sync(container_id, ["touch", "/tmp/ready"], 30)
    pod = node.wait_pod(ns, "gated", lambda p: condition(p, "Ready") == "True", "gated Ready")
    assert container_states(pod)["app"]["ready"] is True
    node.runtime.exec_sync(container_id, ["rm", "/tmp/ready"], 30)
    pod = node.wait_pod(ns, "gated", lambda p: condition(p, "Ready") == "False", "gated not Ready again")
    assert container_states(pod)["app"]["restartCount"] == 0  # readiness never restarts


def test_http_and_tcp_probes_reach_the_pod_through_its_network_namespace(node: TestNode, ns: str) -> None:
    node.pod(ns, "web", [{
        "name": "app", "image": "minik/app:v1", "ports": [{"name": "http", "containerPort": 8080}],
        "startupProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1, "failureThreshold": 30},
        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
        "livenessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1},
    }])
    pod = node.wait_pod(ns, "web", lambda p: condition(p, "Ready") == "True", "web ready through httpGet")
    status = container_states(pod)["app"]
    assert status["started"] is True and status["restartCount"] == 0
    assert not [e for e in node.events(ns, "web") if e["reason"] == "Unhealthy"]


def test_failing_http_readiness_probe_reports_the_status_code(node: TestNode, ns: str) -> None:
    node.pod(ns, "missing", [{
        "name": "app", "image": "minik/app:v1",
        "readinessProbe": {"httpGet": {"path": "/nothing-here", "port": 8080}, "periodSeconds": 1},
    }])

    def unhealthy() -> list[str]:
        return [e["message"] for e in node.events(ns, "missing") if e["reason"] == "Unhealthy"]

    from util import wait_for

    messages = wait_for(unhealthy, message="an Unhealthy event")
    assert messages[0] == "Readiness probe failed: HTTP probe failed with statuscode: 404"
    assert condition(node.get(ns, "missing"), "Ready") == "False"
