"""The one list of processes a local cluster runs, in start order.

`minik up` starts them top to bottom (each must be ready before the next starts), `minik down`
stops them bottom to top, `minik status`, `minik logs` and the supervisor walk the same list.
Control-plane components run once on the host; node components (runtime, network-agent, kubelet,
proxy) run once per node, inside the node's network namespace, and are named `<node>/<component>`.
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from minik.cluster.config import ClusterConfig
from minik.cluster.etcd import etcd_command, etcd_env, etcd_healthy, prepare_data_dir
from minik.cluster.nodes import CONTROL_PLANE_LABEL, CONTROL_PLANE_TAINT, NodeSpec, cluster_nodes
from minik.cluster.process import ComponentProcess
from minik.cluster.registry import registry_command, registry_prepare, registry_ready
from minik.cluster.tokens import read_admin_token
from minik.runtime.client import RuntimeClient


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
    node: NodeSpec | None = None

    @property
    def netns(self) -> str | None:
        return self.node.netns if self.node is not None else None

    def process(self, cfg: ClusterConfig) -> ComponentProcess:
        return ComponentProcess(self.name, cfg.state_dir, self.netns)


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
        "--advertise-address", cfg.lab_ip,
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


def _dns_command(cfg: ClusterConfig) -> list[str]:
    return minik_command("dns", "--kubeconfig", str(cfg.admin_kubeconfig), "--listen", f"{cfg.lab_ip}:53")


CONTROL_PLANE: tuple[Component, ...] = (
    Component(
        "etcd",
        _etcd_command,
        _etcd_ready,
        lambda cfg: cfg.etcd_endpoint,
        env=etcd_env,
        ready_timeout=30.0,
        prepare=_etcd_prepare,
    ),
    Component("registry", registry_command, registry_ready, lambda cfg: cfg.registry, prepare=registry_prepare),
    Component("apiserver", _apiserver_command, apiserver_ready, lambda cfg: cfg.server),
    Component("scheduler", _control_plane_command("scheduler"), _running, lambda cfg: cfg.server),
    # --healthz-port 0: several clusters (tests) may share a host; nothing fixed to collide on
    Component("controller-manager", _control_plane_command("controller-manager", "--healthz-port", "0"),
              _running, lambda cfg: cfg.server),
    Component("dns", _dns_command, _running, lambda cfg: f"{cfg.lab_ip}:53"),
)


def _runtime_command(node: NodeSpec) -> Callable[[ClusterConfig], list[str]]:
    def command(cfg: ClusterConfig) -> list[str]:
        return minik_command(
            "runtime",
            "--root", str(node.runtime_root),
            "--listen", str(node.runtime_socket),
            "--cgroup-parent", node.cgroup_parent,
            "--registry", cfg.registry,
            "--insecure-registry", cfg.registry,
            "--network", "cni",
            "--cni-conf-file", str(node.cni_conf_file),
            "--cni-data-dir", str(node.cni_data_dir),
            "--cluster-cidr", cfg.pod_cidr,
        )  # fmt: skip

    return command


def _runtime_ready(node: NodeSpec) -> Callable[[ClusterConfig], bool]:
    def ready(cfg: ClusterConfig) -> bool:
        if not node.runtime_socket.exists():
            return False
        try:
            with RuntimeClient(str(node.runtime_socket), timeout=2.0) as client:
                client.version()
        except Exception:  # noqa: BLE001 - any failure means "not serving yet"
            return False
        return True

    return ready


def _network_agent_command(node: NodeSpec) -> Callable[[ClusterConfig], list[str]]:
    def command(cfg: ClusterConfig) -> list[str]:
        return minik_command(
            "network-agent",
            "--kubeconfig", str(node.kubeconfig),
            "--hostname-override", node.name,
            "--node-ip", node.ip,
            "--backend", cfg.backend,
            "--cluster-cidr", cfg.pod_cidr,
            "--cni-conf-file", str(node.cni_conf_file),
            "--cni-data-dir", str(node.cni_data_dir),
        )  # fmt: skip

    return command


def _kubelet_command(node: NodeSpec) -> Callable[[ClusterConfig], list[str]]:
    def command(cfg: ClusterConfig) -> list[str]:
        argv = minik_command(
            "kubelet",
            "--kubeconfig", str(node.kubeconfig),
            "--node-name", node.name,
            "--runtime-endpoint", str(node.runtime_socket),
            "--root-dir", str(node.kubelet_root),
            "--pod-manifest-path", str(node.manifests),
            "--node-ip", node.ip,
            "--address", node.ip,
            "--port", str(cfg.kubelet_port),
            "--cluster-dns", cfg.cluster_dns,
        )  # fmt: skip
        if node.control_plane:
            argv += ["--node-labels", CONTROL_PLANE_LABEL]
        if not node.schedulable:
            argv += ["--register-with-taints", CONTROL_PLANE_TAINT]
        return argv

    return command


def _proxy_command(node: NodeSpec) -> Callable[[ClusterConfig], list[str]]:
    def command(cfg: ClusterConfig) -> list[str]:
        return minik_command(
            "proxy",
            "--kubeconfig", str(node.kubeconfig),
            "--hostname-override", node.name,
            "--node-ip", node.ip,
            "--cluster-cidr", cfg.pod_cidr,
        )  # fmt: skip

    return command


def node_components(node: NodeSpec) -> list[Component]:
    """What runs on one node, in start order: the runtime first, the kubelet needs it."""

    def named(component: str) -> str:
        return f"{node.name}/{component}"

    def address(cfg: ClusterConfig) -> str:
        return node.ip if node.netns is None else f"{node.ip} (netns {node.netns})"

    return [
        Component(named("runtime"), _runtime_command(node), _runtime_ready(node), address, node=node),
        Component(named("network-agent"), _network_agent_command(node), _running, address, node=node),
        Component(named("kubelet"), _kubelet_command(node), _running, address, node=node),
        Component(named("proxy"), _proxy_command(node), _running, address, node=node),
    ]


def _supervise_command(cfg: ClusterConfig) -> list[str]:
    return minik_command("supervise", "--state-dir", str(cfg.state_dir))


SUPERVISOR = Component("supervise", _supervise_command, _running, lambda cfg: str(cfg.state_dir / "logs"))


def all_components(cfg: ClusterConfig) -> list[Component]:
    """Control plane, then every node's components, then the supervisor that keeps them running.

    A joined machine has no control plane: only its node's components and the supervisor.
    """
    components = [] if cfg.joined else list(CONTROL_PLANE)
    for node in cluster_nodes(cfg):
        components += node_components(node)
    return [*components, SUPERVISOR]


def component_names() -> list[str]:
    """The component kinds (what `minik <name>` runs), for recognising our processes."""
    return [c.name for c in CONTROL_PLANE] + ["runtime", "network-agent", "kubelet", "proxy", "supervise"]
