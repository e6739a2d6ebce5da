"""The nodes of a local cluster: the host itself plus N workers, each a network namespace.

A node is what a VM is in the course: a name, an address on a shared L2 segment (the lab bridge),
its own runtime state, cgroup parent, CNI configuration, kubelet, proxy and credential. Every path
and name is derived from the cluster config alone, so `up`, `down`, `status`, `node stop` and the
supervisor all agree on them without talking to each other.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from minik.cluster.config import ClusterConfig

CONTROL_PLANE_NODE = "master"
WORKER_PREFIX = "worker"
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane=:NoSchedule"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane="


@dataclass(frozen=True)
class NodeSpec:
    """One node of the local cluster and where its pieces live."""

    name: str
    ip: str
    state_dir: Path
    netns: str | None = None  # None: the host's own network namespace
    control_plane: bool = False
    schedulable: bool = True

    @property
    def root(self) -> Path:
        return self.state_dir / "nodes" / self.name

    @property
    def runtime_root(self) -> Path:
        return self.root / "runtime"

    @property
    def runtime_socket(self) -> Path:
        return self.root / "runtime.sock"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def manifests(self) -> Path:
        """The static-pod directory (the course's staticPodPath)."""
        return self.root / "manifests"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubelet.kubeconfig"

    @property
    def cni_conf_file(self) -> Path:
        return self.root / "cni" / "10-minik.conflist"

    @property
    def cni_data_dir(self) -> Path:
        return self.root / "cni-data"

    @property
    def cgroup_parent(self) -> str:
        return f"minik-{self.name}"

    @property
    def user(self) -> str:
        """The node's identity in the token file (the node authorizer's convention)."""
        return f"system:node:{self.name}"

    @property
    def stopped_marker(self) -> Path:
        """Present while `minik node stop` holds the node down: the supervisor leaves it alone."""
        return self.state_dir / "run" / self.name / "stopped"


def netns_name(node: str) -> str:
    return f"minik-{node}"


def cluster_nodes(cfg: ClusterConfig) -> list[NodeSpec]:
    """The host node first, then worker1..N; with workers the host is a tainted control plane.

    A machine that joined (`minik join`) runs just its own node, in its own network.
    """
    if cfg.joined:
        return [NodeSpec(cfg.node_name, cfg.node_ip, cfg.state_dir)]
    lab = ipaddress.ip_network(cfg.lab_cidr, strict=False)
    nodes = [
        NodeSpec(CONTROL_PLANE_NODE, cfg.lab_ip, cfg.state_dir, None, control_plane=True, schedulable=cfg.nodes == 0)
    ]
    for i in range(1, cfg.nodes + 1):
        name = f"{WORKER_PREFIX}{i}"
        nodes.append(NodeSpec(name, str(lab[10 + i]), cfg.state_dir, netns_name(name)))
    return nodes


def find_node(cfg: ClusterConfig, name: str) -> NodeSpec | None:
    return next((node for node in cluster_nodes(cfg) if node.name == name), None)
