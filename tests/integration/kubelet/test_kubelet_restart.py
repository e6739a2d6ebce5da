"""A kubelet killed with SIGKILL and started again adopts the containers it left running."""

from __future__ import annotations

import os
import signal

import pytest
from kubelet_node import TestNode, condition, container_states

pytestmark = pytest.mark.root

SLEEPER = [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]}]


def _ready(node: TestNode, ns: str, name: str) -> dict:
    return node.wait_pod(ns, name, lambda p: condition(p, "Ready") == "True", f"{name} ready")


def test_kill_9_and_restart_keeps_the_same_containers(process_node: TestNode, ns: str) -> None:
    node = process_node
    steady = node.pod(ns, "steady", SLEEPER, terminationGracePeriodSeconds=2)
    flaky = node.pod(ns, "flaky", SLEEPER, terminationGracePeriodSeconds=2)
    steady_id = container_states(_ready(node, ns, "steady"))["app"]["containerID"].removeprefix("minik://")
    flaky_id = container_states(_ready(node, ns, "flaky"))["app"]["containerID"].removeprefix("minik://")

    node.kill_process()
    # the containers are not the kubelet's children: they run on without it
    for container_id in (steady_id, flaky_id):
        assert node.runtime.container_status(container_id)["status"]["state"] == "CONTAINER_RUNNING"

    node.start_process()
    node.wait_registered()
    # a container that dies now must be restarted by the new kubelet, counting on from the old one
    pid = node.runtime.container_status(flaky_id, verbose=True)["info"]["pid"]
    os.kill(pid, signal.SIGKILL)
    pod = node.wait_pod(ns, "flaky", lambda p: container_states(p)["app"]["restartCount"] == 1
                        and condition(p, "Ready") == "True", "flaky restarted by the new kubelet")
    assert container_states(pod)["app"]["containerID"].removeprefix("minik://") != flaky_id
    assert container_states(pod)["app"]["lastState"]["terminated"]["exitCode"] == 137
    flaky_containers = node.runtime_containers(flaky["metadata"]["uid"])
    assert sorted(c["state"] for c in flaky_containers) == ["CONTAINER_EXITED", "CONTAINER_RUNNING"]

    # the untouched pod: same container, no duplicate, status as before
    containers = node.runtime_containers(steady["metadata"]["uid"])
    assert [(c["id"], c["state"]) for c in containers] == [(steady_id, "CONTAINER_RUNNING")]
    sandboxes = node.runtime.list_pod_sandbox({"label_selector": {"io.kubernetes.pod.uid": steady["metadata"]["uid"]}})
    assert len(sandboxes) == 1
    pod = node.get(ns, "steady")
    status = container_states(pod)["app"]
    assert pod["status"]["phase"] == "Running" and condition(pod, "Ready") == "True"
    assert status["containerID"] == f"minik://{steady_id}" and status["restartCount"] == 0
    code, out, _ = node.minictl("get", "pods", "-n", ns)
    assert code == 0 and out.count("Running") == 2
