"""A real cluster built by `minik up` for the end-to-end tests, driven through the user's commands.

Free ports and a test-only lab subnet keep it apart from a learner's cluster on the same host; a
temporary HOME keeps the user's kubeconfig untouched. `minik down` always runs at the end, and a
killed earlier run is swept by `minik up` itself (that is part of what is tested).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from util import free_port, wait_for

from minik.api.errors import NotFoundError
from minik.api.resources import require
from minik.client.rest import Client
from minik.cluster.config import ClusterConfig

MINIK = [sys.executable, "-m", "minik"]
MINICTL = [sys.executable, "-c", "import sys; from minik.ctl.main import main; sys.exit(main())"]
TEST_LAB_CIDR = "10.79.0.0/24"
# One local cluster per host (the lab bridge, the host node's bridge and chains have fixed names):
# test clusters and benchmark clusters queue on this lock instead of tearing each other's network down.
HOST_LOCK = Path("/tmp/minik-e2e.lock")

Obj = dict[str, Any]




PODS, NODES, EVENTS, DEPLOYMENTS = require("pods"), require("nodes"), require("events"), require("deployments")


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"$ {' '.join(map(str, result.args))}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"


class LabCluster:
    """One `minik up` cluster in a temp dir; `up()` and `down()` run the real commands."""

    def __init__(self, nodes: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="minik-test-e2e-"))
        self.state = self.root / "state"
        home = self.root / "home"
        home.mkdir()
        self.env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "MINIK_STATE_DIR")}
        self.env["HOME"] = str(home)
        self.config = ClusterConfig(state_dir=self.state, port=free_port(), etcd_port=free_port(),
                                    etcd_peer_port=free_port(), registry_port=free_port(), kubelet_port=free_port(),
                                    lab_cidr=TEST_LAB_CIDR, nodes=nodes)
        self.flags = self.config.up_flags()
        self._client: Client | None = None
        self._lock: IO[bytes] | None = None

    # ------------------------------------------------------------------ commands

    def run(self, argv: list[str], timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        if check:
            assert result.returncode == 0, explain(result) + self.logs_tail()
        return result

    def minik(self, *args: str, timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run([*MINIK, *args], timeout, check)

    def minictl(self, *args: str, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run([*MINICTL, *args], timeout, check)

    def up(self) -> subprocess.CompletedProcess[str]:
        if self._lock is None:
            self._lock = HOST_LOCK.open("ab")
            fcntl.flock(self._lock, fcntl.LOCK_EX)  # waits for another cluster on this host to go
        return self.minik("up", *self.flags, timeout=300)

    def down(self) -> subprocess.CompletedProcess[str]:
        if self._client is not None:
            self._client.close()
            self._client = None
        return self.minik("down", "--state-dir", str(self.state), timeout=180, check=False)

    def remove(self) -> None:
        self.down()
        shutil.rmtree(self.root, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()  # releases the host lock
            self._lock = None

    def logs_tail(self, chars: int = 2500) -> str:
        logs = sorted((self.state / "logs").rglob("*.log")) if (self.state / "logs").is_dir() else []
        return "".join(f"\n--- {p}\n{p.read_text(errors='replace')[-chars:]}" for p in logs)

    # ------------------------------------------------------------------ API

    @property
    def kubeconfig(self) -> Path:
        return self.state / "admin.kubeconfig"

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client.from_kubeconfig(self.kubeconfig, "minik")
        return self._client

    def pod(self, name: str, namespace: str = "default") -> Obj | None:
        try:
            return self.client.get(PODS, name, namespace)
        except NotFoundError:
            return None

    def pods(self, namespace: str = "default", selector: str | None = None) -> list[Obj]:
        items: list[Obj] = self.client.list(PODS, namespace, label_selector=selector)["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def wait_pod(self, name: str, predicate: Callable[[Obj], Any], message: str, namespace: str = "default",
                 timeout: float = 90.0) -> Obj:
        last: dict[str, Obj | None] = {}

        def check() -> Obj | None:
            pod = last["pod"] = self.pod(name, namespace)
            return pod if pod is not None and predicate(pod) else None

        try:
            return wait_for(check, timeout=timeout, interval=0.5, message=message)
        except AssertionError as error:
            raise AssertionError(f"{error}; last status: {(last.get('pod') or {}).get('status')}") from None

    def events_for(self, name: str, namespace: str = "default") -> list[Obj]:
        items: list[Obj] = self.client.list(EVENTS, namespace)["items"]
        return [e for e in items if (e.get("involvedObject") or {}).get("name") == name]


def running(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and all(
        c.get("ready") for c in (pod.get("status") or {}).get("containerStatuses") or [{}]
    )


def node_ready(node: Obj) -> str:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("status"))
    return "Unknown"
