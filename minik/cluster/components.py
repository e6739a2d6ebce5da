"""The one list of processes a local cluster runs, in start order.

`minik up` starts them top to bottom (each must be ready before the next starts), `minik down`
stops them bottom to top, `minik status` and `minik logs` show them. Adding the scheduler,
controller-manager, kubelet or proxy to the cluster means adding one entry here.
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from minik.cluster.config import ClusterConfig
from minik.cluster.etcd import etcd_command, etcd_env, etcd_healthy, prepare_data_dir
from minik.cluster.process import ComponentProcess
from minik.cluster.tokens import read_admin_token


@dataclass(frozen=True)
class Component:
    """How to run one cluster process and how to tell it is ready to serve."""

    name: str
    command: Callable[[ClusterConfig], list[str]]
    ready: Callable[[ClusterConfig], bool]
    address: Callable[[ClusterConfig], str]
    env: Callable[[], dict[str, str]] | None = None
    ready_timeout: float = 60.0
    prepare: Callable[[ClusterConfig], None] = field(default=lambda cfg: None)

    def process(self, cfg: ClusterConfig) -> ComponentProcess:
        return ComponentProcess(self.name, cfg.state_dir)


def minik_command(component: str, *args: str) -> list[str]:
    """Run a component through this interpreter, so a venv install works without PATH tricks."""
    return [sys.executable, "-m", "minik", component, *args]


def _etcd_prepare(cfg: ClusterConfig) -> None:
    prepare_data_dir(cfg.state_dir / "etcd")


def _etcd_command(cfg: ClusterConfig) -> list[str]:
    return etcd_command(cfg.state_dir / "etcd", cfg.etcd_port, cfg.etcd_peer_port)


def _etcd_ready(cfg: ClusterConfig) -> bool:
    return etcd_healthy(cfg.etcd_endpoint)


def _apiserver_command(cfg: ClusterConfig) -> list[str]:
    return minik_command(
        "apiserver",
        "--etcd-servers", cfg.etcd_endpoint,
        "--bind-address", cfg.bind_address,
        "--secure-port", str(cfg.port),
        "--tls-cert-file", str(cfg.pki.apiserver_cert),
        "--tls-private-key-file", str(cfg.pki.apiserver_key),
        "--token-auth-file", str(cfg.token_file),
        "--service-cluster-ip-range", cfg.service_cidr,
        "--service-node-port-range", cfg.node_port_range,
    )  # fmt: skip


def apiserver_ready(cfg: ClusterConfig) -> bool:
    """True once /readyz answers 200: etcd reachable and the default namespaces created."""
    token = read_admin_token(cfg.token_file)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        verify = ssl.create_default_context(cafile=str(cfg.pki.ca_cert))
        response = httpx.get(
            f"{cfg.server}/readyz", headers=headers, verify=verify, timeout=2.0, trust_env=False
        )
    except (httpx.HTTPError, OSError):
        return False
    return response.status_code == 200


def _control_plane_command(component: str, *extra: str) -> Callable[[ClusterConfig], list[str]]:
    def command(cfg: ClusterConfig) -> list[str]:
        return minik_command(component, "--kubeconfig", str(cfg.admin_kubeconfig), *extra)

    return command


def _running(cfg: ClusterConfig) -> bool:
    """Components without a health endpoint: alive is ready (start_and_wait catches an early exit)."""
    return True


COMPONENTS: tuple[Component, ...] = (
    Component(
        "etcd",
        _etcd_command,
        _etcd_ready,
        lambda cfg: cfg.etcd_endpoint,
        env=etcd_env,
        ready_timeout=30.0,
        prepare=_etcd_prepare,
    ),
    Component("apiserver", _apiserver_command, apiserver_ready, lambda cfg: cfg.server),
    Component("scheduler", _control_plane_command("scheduler"), _running, lambda cfg: cfg.server),
    # --healthz-port 0: several clusters (tests) may share a host; nothing fixed to collide on
    Component("controller-manager", _control_plane_command("controller-manager", "--healthz-port", "0"),
              _running, lambda cfg: cfg.server),
)


def component_names() -> list[str]:
    return [component.name for component in COMPONENTS]
