"""`minik up` builds a working one-node cluster from nothing; `minik down` leaves nothing behind.

This is `make up` as a learner meets it: the host is the only node, and the lab pod runs for real,
answers `minictl logs` and `minictl exec`, and the memory-limit lab shows OOMKilled then
CrashLoopBackOff. Runs the real commands in subprocesses (see labcluster.py).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from labcluster import LabCluster, running
from util import wait_for

from minik.cluster.components import all_components
from minik.cluster.config import load_saved
from minik.cluster.process import find_strays, read_cmdline

pytestmark = [pytest.mark.root, pytest.mark.etcd]

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"


@pytest.fixture
def cluster() -> Iterator[LabCluster]:
    lab = LabCluster(nodes=0)
    try:
        yield lab
    finally:
        lab.remove()


def status_rows(lab: LabCluster) -> dict[str, list[str]]:
    status = lab.minik("status", "--state-dir", str(lab.state), check=False)
    return {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:]}


def test_one_node_cluster_runs_lab_pods_and_down_removes_everything(cluster: LabCluster) -> None:
    up = cluster.up()
    assert "minictl get nodes" in up.stdout and "master" in up.stdout
    config = yaml.safe_load((Path(cluster.env["HOME"]) / ".kube" / "config").read_text())
    assert config["current-context"] == "minik"

    # the lab pod: Pending -> Running with an IP; logs and exec through the apiserver
    cluster.minictl("apply", "-f", str(MANIFESTS / "app-pod.yaml"))
    pod = cluster.wait_pod("app", running, "the lab pod Running")
    assert pod["status"]["podIP"].startswith("10.244.") and pod["spec"]["nodeName"] == "master"
    assert "Running" in cluster.minictl("get", "pod", "app").stdout
    assert "listening on port 8080" in cluster.minictl("logs", "app").stdout
    assert cluster.minictl("exec", "app", "--", "hostname").stdout.strip() == "app"
    assert "You've hit app (v1)" in cluster.minictl("exec", "app", "--", "wget", "-qO-", "localhost:8080").stdout
    resolv = cluster.minictl("exec", "app", "--", "cat", "/etc/resolv.conf").stdout
    assert "nameserver 10.96.0.10" in resolv and "search default.svc.cluster.local" in resolv

    # the memory-limit lab: OOMKilled, then CrashLoopBackOff with a growing restart count
    cluster.minictl("apply", "-f", str(MANIFESTS / "memory-request-limit.yaml"))

    def crash_looping(pod: dict) -> bool:
        statuses = pod["status"].get("containerStatuses") or [{}]
        last = (statuses[0].get("lastState") or {}).get("terminated") or {}
        waiting = (statuses[0].get("state") or {}).get("waiting") or {}
        return last.get("reason") == "OOMKilled" and last.get("exitCode") == 137 and \
            waiting.get("reason") == "CrashLoopBackOff"

    cluster.wait_pod("memory-demo-2", crash_looping, "OOMKilled then CrashLoopBackOff", namespace="mem-example")
    described = cluster.minictl("describe", "pod", "memory-demo-2", "-n", "mem-example").stdout
    assert "OOMKilled" in described and "CrashLoopBackOff" in described and "BackOff" in described

    # supervision: a crashed component comes back, with its restart in the supervisor's log
    rows = status_rows(cluster)
    assert all(row[1] == "running" for row in rows.values()), rows
    scheduler = int(rows["scheduler"][2])
    os.kill(scheduler, signal.SIGKILL)
    wait_for(lambda: status_rows(cluster)["scheduler"][1] == "running"
             and int(status_rows(cluster)["scheduler"][2]) != scheduler, timeout=30, interval=0.5,
             message="the supervisor restarts the killed scheduler")
    assert "started scheduler" in cluster.minik("logs", "supervise", "--state-dir", str(cluster.state)).stdout

    again = cluster.up()
    assert "already running" in again.stdout

    # a power cut of the whole host: kill -9 of every process; `minik up` sweeps and comes back,
    # with etcd's data, so the lab pod runs again
    old_container = cluster.pod("app")["status"]["containerStatuses"][0]["containerID"]  # type: ignore[index]
    before = status_rows(cluster)
    for row in before.values():
        os.kill(int(row[2]), signal.SIGKILL)
    revived = cluster.up()
    assert "creating cluster" in revived.stdout, revived.stdout
    assert all(row[1] == "running" for row in status_rows(cluster).values())

    def restarted(pod: dict) -> bool:  # the status in etcd still says Running: wait for the new container
        statuses = pod["status"].get("containerStatuses") or [{}]
        return running(pod) and statuses[0].get("containerID") not in (None, old_container)

    cluster.wait_pod("app", restarted, "the lab pod running in a new container after the restart")
    assert cluster.minictl("exec", "app", "--", "hostname").stdout.strip() == "app"

    cfg = load_saved(cluster.state)
    assert cfg is not None
    alive = {int(row[2]): read_cmdline(int(row[2])) for row in status_rows(cluster).values()}
    names = [c.name.split("/")[-1] for c in all_components(cfg)]
    down = cluster.down()
    assert down.returncode == 0, down.stdout + down.stderr
    assert not cluster.state.exists()
    assert find_strays(cluster.state, names) == []
    for pid, argv in alive.items():
        assert read_cmdline(pid) != argv, f"pid {pid} still runs {argv}"
    config = yaml.safe_load((Path(cluster.env["HOME"]) / ".kube" / "config").read_text())
    assert "minik" not in {c["name"] for c in config.get("contexts") or []}
    assert cluster.down().returncode == 0  # twice is fine
