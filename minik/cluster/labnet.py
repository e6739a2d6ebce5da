"""The lab network: one bridge on the host (`minik-lab`) and a network namespace per worker node.

It plays the switch between the course's VMs: each worker namespace gets a veth pair (host end
`minik-<node>` on the bridge, `eth0` inside) with its own address, and a default route via the
host's address on the bridge. `minik node stop` takes the host end down, which is what unplugging
a VM's cable looks like to everyone else. The `ip` command is used on purpose: it is the same tool
a learner types to look at the result (`ip netns exec minik-worker1 ip addr`).
"""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

from minik.cluster.config import ClusterConfig
from minik.cluster.nodes import NodeSpec, cluster_nodes

LAB_BRIDGE = "minik-lab"
NETNS_DIR = Path("/run/netns")


class LabNetError(RuntimeError):
    """An `ip` command failed; the message carries the command and its error."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise LabNetError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def _link_exists(name: str) -> bool:
    return _ip("link", "show", "dev", name, check=False).returncode == 0


def _sysctl(path: str, value: str, netns: str | None = None) -> None:
    """Write a sysctl, in `netns` when given (/proc/sys/net is per network namespace)."""
    if netns is None:
        Path("/proc/sys", path).write_text(value)
    else:
        _ip("netns", "exec", netns, "sysctl", "-q", "-w", f"{path.replace('/', '.')}={value}")


def host_link(node: NodeSpec) -> str:
    """The host end of a node's cable (interface names stop at 15 characters)."""
    return f"minik-{node.name}"[:15]


def ensure_bridge(cfg: ClusterConfig) -> None:
    prefix = ipaddress.ip_network(cfg.lab_cidr, strict=False).prefixlen
    if not _link_exists(LAB_BRIDGE):
        _ip("link", "add", LAB_BRIDGE, "type", "bridge")
    _ip("addr", "replace", f"{cfg.lab_ip}/{prefix}", "dev", LAB_BRIDGE)
    _ip("link", "set", LAB_BRIDGE, "up")
    _sysctl("net/ipv4/ip_forward", "1")


def ensure_node_netns(cfg: ClusterConfig, node: NodeSpec) -> None:
    """Create the node's namespace and plug it into the lab bridge; idempotent."""
    assert node.netns is not None
    prefix = ipaddress.ip_network(cfg.lab_cidr, strict=False).prefixlen
    if not (NETNS_DIR / node.netns).exists():
        _ip("netns", "add", node.netns)
    link = host_link(node)
    if not _link_exists(link):
        _ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", node.netns)
    _ip("link", "set", link, "master", LAB_BRIDGE, "up")
    inside = ("netns", "exec", node.netns, "ip")
    _ip(*inside, "link", "set", "lo", "up")
    _ip(*inside, "addr", "replace", f"{node.ip}/{prefix}", "dev", "eth0")
    _ip(*inside, "link", "set", "eth0", "up")
    _ip(*inside, "route", "replace", "default", "via", cfg.lab_ip)
    _sysctl("net/ipv4/ip_forward", "1", node.netns)


def ensure_lab(cfg: ClusterConfig) -> None:
    ensure_bridge(cfg)
    for node in cluster_nodes(cfg):
        if node.netns is not None:
            ensure_node_netns(cfg, node)


def set_cable(node: NodeSpec, up: bool) -> None:
    """Plug or unplug the node's cable (its host-side veth)."""
    if _link_exists(host_link(node)):
        _ip("link", "set", host_link(node), "up" if up else "down")


def remove_node_netns(node: NodeSpec) -> bool:
    """Delete the namespace (its links, routes and iptables go with it); True if it existed."""
    assert node.netns is not None
    existed = (NETNS_DIR / node.netns).exists()
    if existed:
        _ip("netns", "del", node.netns, check=False)
    if _link_exists(host_link(node)):
        _ip("link", "del", host_link(node), check=False)
    return existed


def remove_lab(cfg: ClusterConfig) -> list[str]:
    """Remove every worker namespace and the bridge; returns what was removed."""
    removed = [node.netns for node in cluster_nodes(cfg) if node.netns and remove_node_netns(node)]
    if _link_exists(LAB_BRIDGE):
        _ip("link", "del", LAB_BRIDGE, check=False)
        removed.append(LAB_BRIDGE)
    return [name for name in removed if name]


def stale_worker_namespaces() -> list[str]:
    """`minik-worker*` namespaces on this host, e.g. from a cluster killed with more nodes than now."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith("minik-worker"))
