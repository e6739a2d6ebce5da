"""What a local cluster is made of on disk, and the knobs `minik up` takes.

Every command (up, down, status, logs) and every component finds its files from the state
directory alone, so a cluster is fully described by `--state-dir`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path

from minik.cluster.etcd import DEFAULT_CLIENT_PORT, DEFAULT_PEER_PORT
from minik.cluster.pki import DEFAULT_SERVICE_CIDR, PkiPaths

DEFAULT_STATE_DIR = "/var/lib/minik"
DEFAULT_PORT = 6443
DEFAULT_NODE_PORT_RANGE = "30000-32767"
DEFAULT_POD_CIDR = "10.244.0.0/16"
# The lab bridge: the host is .1 on it, worker N is .(10+N), like VMs on one L2 segment.
DEFAULT_LAB_CIDR = "10.77.0.0/24"
DEFAULT_REGISTRY_PORT = 5000
DEFAULT_KUBELET_PORT = 10250
BACKENDS = ("host-gw", "vxlan")
CONTEXT_NAME = "minik"
# Written by `minik up`; `minik down` deletes a state dir only when it finds this file in it.
MARKER_FILE = "minik-state"
SAVED_CONFIG = "cluster.json"


def default_state_dir() -> Path:
    """`$MINIK_STATE_DIR`, else /var/lib/minik."""
    return Path(os.environ.get("MINIK_STATE_DIR") or DEFAULT_STATE_DIR)


@dataclass(frozen=True)
class ClusterConfig:
    """One local cluster: its state directory plus the ports and ranges it serves."""

    state_dir: Path
    port: int = DEFAULT_PORT
    etcd_port: int = DEFAULT_CLIENT_PORT
    etcd_peer_port: int = DEFAULT_PEER_PORT
    nodes: int = 0
    bind_address: str = "0.0.0.0"
    service_cidr: str = DEFAULT_SERVICE_CIDR
    node_port_range: str = DEFAULT_NODE_PORT_RANGE
    pod_cidr: str = DEFAULT_POD_CIDR
    lab_cidr: str = DEFAULT_LAB_CIDR
    backend: str = "host-gw"
    registry_port: int = DEFAULT_REGISTRY_PORT
    kubelet_port: int = DEFAULT_KUBELET_PORT
    # Set on a joined machine: the control plane's address (its registry, DNS and apiserver).
    control_plane_address: str = ""
    # Set by `minik join`: the one node this machine runs, and its address; no control plane here.
    node_name: str = ""
    node_ip: str = ""

    def __post_init__(self) -> None:
        # Absolute paths: they end up on component command lines, which the stray sweep matches.
        object.__setattr__(self, "state_dir", Path(os.path.abspath(self.state_dir)))

    @property
    def marker(self) -> Path:
        return self.state_dir / MARKER_FILE

    @property
    def pki(self) -> PkiPaths:
        return PkiPaths(self.state_dir / "pki")

    @property
    def token_file(self) -> Path:
        return self.state_dir / "tokens.csv"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.state_dir / "admin.kubeconfig"

    @property
    def etcd_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.etcd_port}"

    @property
    def server(self) -> str:
        """The URL clients on this host use (the certificate names 127.0.0.1)."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def lab_ip(self) -> str:
        """The host's address on the lab bridge: nodes reach the apiserver, registry and DNS there."""
        return self.control_plane_address or str(ipaddress.ip_network(self.lab_cidr, strict=False)[1])

    @property
    def node_server(self) -> str:
        """The apiserver URL for kubelets and proxies, reachable from every node's namespace."""
        return f"https://{self.lab_ip}:{self.port}"

    @property
    def registry(self) -> str:
        """host:port of the cluster registry, as nodes name it in image references."""
        return f"{self.lab_ip}:{self.registry_port}"

    @property
    def cluster_dns(self) -> str:
        """The kube-dns Service's ClusterIP: the tenth address of the service range, as in kubeadm."""
        return str(ipaddress.ip_network(self.service_cidr, strict=False)[10])

    @property
    def joined(self) -> bool:
        """This state dir is a machine that joined a cluster (`minik join`), not one `minik up` made."""
        return bool(self.node_name)

    @property
    def saved_path(self) -> Path:
        return self.state_dir / SAVED_CONFIG

    def up_flags(self) -> list[str]:
        """The `minik up` flags that build this cluster (tests and benchmarks start theirs this way)."""
        return [
            "--state-dir", str(self.state_dir),
            "--port", str(self.port),
            "--etcd-port", str(self.etcd_port),
            "--etcd-peer-port", str(self.etcd_peer_port),
            "--registry-port", str(self.registry_port),
            "--kubelet-port", str(self.kubelet_port),
            "--lab-cidr", self.lab_cidr,
            "--pod-cidr", self.pod_cidr,
            "--service-cidr", self.service_cidr,
            "--backend", self.backend,
            "--nodes", str(self.nodes),
        ]  # fmt: skip

    def save(self) -> None:
        """Remember the ports and ranges, so a later `minik up` can recognise the running cluster."""
        fields = dataclasses.asdict(self)
        fields["state_dir"] = str(self.state_dir)
        self.saved_path.write_text(json.dumps(fields, indent=2) + "\n")


def load_saved(state_dir: Path) -> ClusterConfig | None:
    """The config the cluster in `state_dir` was started with, if `minik up` recorded one."""
    try:
        fields = json.loads((state_dir / SAVED_CONFIG).read_text())
        fields["state_dir"] = Path(fields["state_dir"])
        return ClusterConfig(**fields)
    except (OSError, ValueError, TypeError, KeyError):
        return None
