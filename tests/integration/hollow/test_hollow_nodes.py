"""`minik hollow-nodes` against a real apiserver: nodes register and heartbeat, a bound pod runs, and goes.

Hollow nodes are a benchmarking tool; this only checks the tool itself works, nothing else uses it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from util import wait_for

from minik.api.errors import NotFoundError
from minik.api.resources import require
from minik.client.rest import Client
from minik.hollow.addresses import node_ip, pod_cidr

REPO = Path(__file__).resolve().parents[3]
COUNT = 3




NODES, PODS, LEASES = require("nodes"), require("pods"), require("leases")


def _ready_node(client: Client, name: str) -> dict[str, Any] | None:
    node = client.get(NODES, name)
    conditions = (node.get("status") or {}).get("conditions") or []
    return node if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions) else None


def _running(client: Client, name: str, ns: str) -> dict[str, Any] | None:
    pod = client.get(PODS, name, ns)
    return pod if (pod.get("status") or {}).get("phase") == "Running" else None


def _gone(client: Client, name: str, ns: str) -> bool:
    try:
        client.get(PODS, name, ns)
    except NotFoundError:
        return True
    return False


def test_hollow_nodes_run_a_bound_pod_and_delete_it(apiserver: Any, ns: str, client: Client,
                                                    tmp_path: Path) -> None:
    prefix = f"{ns}-h"
    names = [f"{prefix}{i}" for i in range(COUNT)]
    log_path = tmp_path / "hollow.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "minik", "hollow-nodes", "--count", str(COUNT), "--kubeconfig",
         str(apiserver.kubeconfig), "--name-prefix", prefix, "--heartbeat", "1"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
    try:
        for name in names:
            node = wait_for(lambda n=name: _ready_node(client, n), timeout=60,
                            message=f"hollow node {name} registered and Ready")
            assert node["metadata"]["labels"]["kubernetes.io/hostname"] == name
        first = client.get(LEASES, names[1], "kube-node-lease")["spec"]["renewTime"]
        wait_for(lambda: client.get(LEASES, names[1], "kube-node-lease")["spec"]["renewTime"] != first,
                 timeout=30, message="the hollow node's Lease is renewed")

        client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": ns},
                             "spec": {"nodeName": names[1],
                                      "containers": [{"name": "app", "image": "minik/app:v1"}]}}, ns)
        pod = wait_for(lambda: _running(client, "app", ns), timeout=60, message="pod reported Running")
        status = pod["status"]
        assert status["hostIP"] == node_ip(1)
        assert ipaddress.ip_address(status["podIP"]) in pod_cidr(1)
        conditions = {c["type"]: c["status"] for c in status["conditions"]}
        assert conditions.items() >= {
            "Ready": "True", "ContainersReady": "True", "Initialized": "True", "PodScheduled": "True"}.items()
        (app,) = status["containerStatuses"]
        assert app["ready"] is True and "running" in app["state"]
        assert status["qosClass"] == "BestEffort" and status["startTime"]

        client.delete(PODS, "app", ns)  # graceful: only the (hollow) kubelet removes it
        wait_for(lambda: _gone(client, "app", ns), timeout=60, message="hollow kubelet deleted the pod")

        proc.terminate()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        for name in names:
            with contextlib.suppress(NotFoundError):
                client.delete(LEASES, name, "kube-node-lease")
            with contextlib.suppress(NotFoundError):
                client.delete(NODES, name)
    assert "Traceback" not in log_path.read_text()
