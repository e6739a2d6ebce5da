"""`minik controller-manager` as its own process: flags, /healthz, work done, clean exit on SIGTERM;
and two ReplicaSets with overlapping selectors never fighting over pods."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from ctrltest import PODS, RS, active, replica_set, wait_pods
from util import free_port, wait_for

from minik.client.rest import Client

REPO = Path(__file__).resolve().parents[3]


def test_controller_manager_process(apiserver: Any, client: Client, ns: str, cluster: Any, tmp_path: Path) -> None:
    cluster.add_node("a")
    port = free_port()
    log = (tmp_path / "cm.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "minik", "controller-manager", "--kubeconfig", str(apiserver.kubeconfig),
         "--controllers", "replicaset,garbagecollector", "--healthz-port", str(port)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).text == "ok", timeout=60,
                 message="/healthz ok")
        client.create(RS, replica_set("web", 2), ns)
        wait_pods(client, ns, 2, ready=True)
    finally:
        proc.terminate()
        code = proc.wait(timeout=30)
        log.close()
    assert code == 0, (tmp_path / "cm.log").read_text()


def test_unknown_controller_is_a_usage_error(apiserver: Any) -> None:
    proc = subprocess.run([sys.executable, "-m", "minik", "controller-manager", "--kubeconfig",
                           str(apiserver.kubeconfig), "--controllers", "replicaset,nope"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert '"nope" is not in the list of known controllers' in proc.stdout


def test_two_replica_sets_with_overlapping_selectors_do_not_fight(client: Client, ns: str, cluster: Any,
                                                                  start_manager: Any) -> None:
    cluster.add_node("a")
    start_manager(["replicaset"])
    one = replica_set("one", 2, {"app": "shared"})
    two = replica_set("two", 3, {"app": "shared"})
    client.create(RS, one, ns)
    wait_pods(client, ns, 2, ready=True)
    client.create(RS, two, ns)
    pods = wait_pods(client, ns, 5, ready=True)
    owners = sorted(p["metadata"]["ownerReferences"][0]["name"] for p in pods)
    assert owners == ["one", "one", "two", "two", "two"]
    # an orphan matching both is adopted by exactly one of them, which then has one too many
    orphan = client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                  "metadata": {"name": "orphan", "labels": {"app": "shared"}},
                                  "spec": {"containers": [{"name": "app", "image": "minik/app:v1"}]}}, ns)
    del orphan
    wait_pods(client, ns, 5, ready=True)
    for name, want in (("one", 2), ("two", 3)):
        wait_for(lambda name=name, want=want: client.get(RS, name, ns)["status"].get("replicas") == want,
                 message=f"{name} has {want}")
    owned = [p for p in active(cluster.pods()) if p["metadata"].get("ownerReferences")]
    assert len(owned) == 5 and sorted(p["metadata"]["ownerReferences"][0]["name"] for p in owned) == owners
