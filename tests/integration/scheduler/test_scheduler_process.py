"""`minik scheduler` as its own process, the way `minik up` runs it: schedules, and stops on SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from schedcluster import NODES, PODS
from util import wait_for

from minik.client.rest import Client

REPO = Path(__file__).resolve().parents[3]


def test_scheduler_process_binds_and_stops_cleanly(apiserver: Any, ns: str, client: Client,
                                                   tmp_path: Path) -> None:
    # Its schedulerName is the default one, so keep other tests' leftover pending pods off our
    # node with a taint only our pod tolerates.
    node = f"{ns}-n1"
    taint = {"key": "minik-test", "value": ns, "effect": "NoSchedule"}
    client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node},
                          "spec": {"taints": [taint]}})
    log = (tmp_path / "scheduler.log").open("wb")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "minik", "scheduler", "--kubeconfig", str(apiserver.kubeconfig),
         "--pod-initial-backoff-seconds", "0.2", "--pod-max-backoff-seconds", "1"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        resources = {"cpu": "2", "memory": "2Gi", "pods": "10"}
        client.patch(NODES, node, {"status": {"capacity": resources, "allocatable": resources}},
                     subresource="status")
        client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": ns},
                             "spec": {"containers": [{"name": "app", "image": "minik/app:v1"}],
                                      "tolerations": [{**taint, "operator": "Equal"}]}}, ns)
        bound = wait_for(lambda: client.get(PODS, "app", ns)["spec"].get("nodeName"), timeout=30,
                         message="pod bound by the scheduler process")
        assert bound == node
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        client.delete(NODES, node)
    assert "Traceback" not in (tmp_path / "scheduler.log").read_text()
