"""`minik up` builds a working cluster from nothing; `minik down` leaves nothing behind.

Runs the real commands in subprocesses, with a temporary HOME so the user's kubeconfig is never
touched, and free ports so a learner's running cluster does not collide with the test's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from util import free_port, wait_for

from minik.api.resources import lookup
from minik.client.rest import Client
from minik.cluster.process import find_strays, read_cmdline

pytestmark = [pytest.mark.root, pytest.mark.etcd]

MINIK = [sys.executable, "-m", "minik"]
MINICTL = [sys.executable, "-c", "import sys; from minik.ctl.main import main; sys.exit(main())"]


def _run(argv: list[str], env: dict[str, str], timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def _explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"$ {' '.join(result.args)}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"


@pytest.fixture
def sandbox() -> Iterator[tuple[Path, dict[str, str]]]:
    """A temp dir holding the state dir and a fake HOME; the cluster is always torn down after."""
    root = Path(tempfile.mkdtemp(prefix="minik-test-e2e-"))
    home = root / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "MINIK_STATE_DIR")}
    env["HOME"] = str(home)
    state = root / "state"
    try:
        yield state, env
    finally:
        _run([*MINIK, "down", "--state-dir", str(state)], env)
        shutil.rmtree(root, ignore_errors=True)


COMPONENTS = ("etcd", "apiserver", "scheduler", "controller-manager")


def assert_control_plane_works(kubeconfig_path: Path) -> None:
    """The controllers turn a Deployment into a pod and the scheduler binds it to the one node that fits."""
    client = Client.from_kubeconfig(kubeconfig_path, "minik")
    nodes, deployments, pods = (lookup("nodes"), lookup("deployments"), lookup("pods"))
    assert nodes and deployments and pods
    client.create(nodes, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "minik-test-up-node"}})
    # a patch, not a PUT: node IPAM may already have written the podCIDR (a newer resourceVersion)
    client.patch(nodes, "minik-test-up-node", {"status": {
        "capacity": {"cpu": "2", "memory": "4Gi", "pods": "10"},
        "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "10"},
        "conditions": [{"type": "Ready", "status": "True"}]}}, subresource="status")
    client.create(deployments, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}, "default")

    def bound() -> bool:
        items = client.list(pods, "default", label_selector="app=web")["items"]
        return bool(items) and all(p["spec"].get("nodeName") == "minik-test-up-node" for p in items)

    wait_for(bound, timeout=60, message="a Deployment's pod created and bound by the control plane")
    client.close()


def test_up_serves_the_api_and_down_removes_everything(sandbox: tuple[Path, dict[str, str]]) -> None:
    state, env = sandbox
    flags = [
        "--state-dir",
        str(state),
        "--port",
        str(free_port()),
        "--etcd-port",
        str(free_port()),
        "--etcd-peer-port",
        str(free_port()),
    ]
    up = _run([*MINIK, "up", *flags], env)
    logs = "\n".join(f"--- {p}\n{p.read_text()[-3000:]}" for p in sorted((state / "logs").glob("*.log")))
    assert up.returncode == 0, _explain(up) + logs
    assert "minictl get nodes" in up.stdout

    user_kubeconfig = Path(env["HOME"]) / ".kube" / "config"
    config = yaml.safe_load(user_kubeconfig.read_text())
    assert config["current-context"] == "minik"
    assert (state / "admin.kubeconfig").is_file()

    namespaces = _run([*MINICTL, "get", "ns"], env, timeout=60)
    assert namespaces.returncode == 0, _explain(namespaces)
    names = {line.split()[0] for line in namespaces.stdout.splitlines()[1:] if line.strip()}
    assert {"default", "kube-system", "kube-node-lease"} <= names, namespaces.stdout

    assert_control_plane_works(user_kubeconfig)

    status = _run([*MINIK, "status", "--state-dir", str(state)], env, timeout=60)
    assert status.returncode == 0, _explain(status)
    rows = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:]}
    running: dict[int, list[str] | None] = {}
    for component in COMPONENTS:
        assert rows[component][1] == "running", status.stdout
        pid = int(rows[component][2])
        running[pid] = read_cmdline(pid)
        assert running[pid] is not None and str(state) in " ".join(running[pid] or [])

    again = _run([*MINIK, "up", *flags], env)
    assert again.returncode == 0 and "already running" in again.stdout, _explain(again)

    down = _run([*MINIK, "down", "--state-dir", str(state)], env)
    assert down.returncode == 0, _explain(down)
    assert not state.exists()
    assert find_strays(state, list(COMPONENTS)) == []
    for pid, argv in running.items():
        assert read_cmdline(pid) != argv, f"pid {pid} still runs {argv}"
    config = yaml.safe_load(user_kubeconfig.read_text())
    assert "minik" not in {c["name"] for c in config.get("contexts") or []}

    twice = _run([*MINIK, "down", "--state-dir", str(state)], env)
    assert twice.returncode == 0, _explain(twice)
