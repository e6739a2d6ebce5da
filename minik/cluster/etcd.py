"""A real etcd server for a cluster or a test: command line, health check, start and stop.

`minik up` and the test fixtures both use this, so the etcd the tests talk to is started exactly
like the one a learner runs.
"""

from __future__ import annotations

import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

import httpx

from minik.cluster.process import ComponentProcess, StartError

ETCD_NAME = "minik-etcd"
DEFAULT_CLIENT_PORT = 2379
DEFAULT_PEER_PORT = 2380


class EtcdError(RuntimeError):
    """etcd is missing, would not start, or never became healthy."""


def etcd_binary() -> str:
    """Path of the etcd executable (Debian's etcd-server package, installed by `make deps`)."""
    found = shutil.which("etcd") or ("/usr/bin/etcd" if Path("/usr/bin/etcd").exists() else None)
    if found is None:
        raise EtcdError("etcd is not installed (run `make deps`, which installs Debian's etcd-server)")
    return found


def etcd_command(data_dir: Path, client_port: int, peer_port: int, host: str = "127.0.0.1") -> list[str]:
    """The etcd command line for a single-member cluster named minik-etcd."""
    client = f"http://{host}:{client_port}"
    peer = f"http://{host}:{peer_port}"
    return [
        etcd_binary(),
        "--name", ETCD_NAME,
        "--data-dir", str(data_dir),
        "--listen-client-urls", client,
        "--advertise-client-urls", client,
        "--listen-peer-urls", peer,
        "--initial-advertise-peer-urls", peer,
        "--initial-cluster", f"{ETCD_NAME}={peer}",
        "--initial-cluster-token", ETCD_NAME,
        "--initial-cluster-state", "new",
    ]  # fmt: skip


def etcd_env() -> dict[str, str]:
    """The environment etcd needs: Debian's 3.4 refuses non-amd64 CPUs unless told otherwise."""
    env = dict(os.environ)
    machine = platform.machine()
    if machine not in ("x86_64", "amd64"):
        env["ETCD_UNSUPPORTED_ARCH"] = {"aarch64": "arm64"}.get(machine, machine)
    return env


def etcd_healthy(endpoint: str) -> bool:
    """True when etcd's /health says the member has a leader and serves requests."""
    try:
        response = httpx.get(f"{endpoint}/health", timeout=2.0, trust_env=False)
        return response.status_code == 200 and response.json().get("health") == "true"
    except (httpx.HTTPError, ValueError):
        return False


@dataclass
class Etcd:
    """A started etcd: where it listens, its pid, and how to stop it."""

    process: ComponentProcess
    endpoint: str
    pid: int
    data_dir: Path

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate etcd (SIGKILL after `timeout`); safe to call twice."""
        self.process.stop(timeout)

    def running(self) -> bool:
        return self.process.pid() == self.pid


def prepare_data_dir(data_dir: Path) -> None:
    """Create the data dir owner-only: etcd 3.4 warns about looser permissions and 3.5 refuses."""
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)


def start_etcd(
    state_dir: Path,
    client_port: int = DEFAULT_CLIENT_PORT,
    peer_port: int = DEFAULT_PEER_PORT,
    timeout: float = 30.0,
) -> Etcd:
    """Start etcd with data in `state_dir/etcd` and wait until it is healthy.

    Logs go to `state_dir/logs/etcd.log`. On failure etcd is stopped again and EtcdError carries the
    log tail, so the caller can show why.
    """
    data_dir = state_dir / "etcd"
    prepare_data_dir(data_dir)
    process = ComponentProcess("etcd", state_dir)
    endpoint = f"http://127.0.0.1:{client_port}"
    try:
        pid = process.start_and_wait(
            etcd_command(data_dir, client_port, peer_port),
            lambda: etcd_healthy(endpoint),
            timeout,
            env=etcd_env(),
        )
    except StartError as error:
        raise EtcdError(str(error)) from error
    return Etcd(process, endpoint, pid, data_dir)
