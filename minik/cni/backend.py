"""What the network agent knows about other nodes, and what a cross-node backend must do.

A peer is another node with a pod CIDR: reaching its pods means a route to that CIDR (host-gw:
via the node's InternalIP, for nodes on one L2 segment; vxlan: through a VXLAN tunnel to its
public IP, for nodes across L3). Routes the agent installs carry their own routing protocol
number, so after a restart it recognises (and removes) the stale ones it made and no others.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

RTPROT_MINIK = 77  # routing protocol id marking routes the agent owns (see /etc/iproute2/rt_protos)
ANNOTATION_PUBLIC_IP = "minik.io/public-ip"
ANNOTATION_VTEP_MAC = "minik.io/vtep-mac"
ANNOTATION_BACKEND = "minik.io/backend-type"

Obj = dict[str, Any]


@dataclass(frozen=True, order=True)
class Peer:
    name: str
    pod_cidr: ipaddress.IPv4Network
    ip: ipaddress.IPv4Address  # InternalIP, or the public IP it announced
    vtep_mac: str = ""


def node_ip(node: Obj) -> ipaddress.IPv4Address | None:
    """The node's announced public IP, else its InternalIP."""
    annotations = (node.get("metadata") or {}).get("annotations") or {}
    candidates = [annotations.get(ANNOTATION_PUBLIC_IP)]
    candidates += [a.get("address") for a in (node.get("status") or {}).get("addresses") or []
                   if isinstance(a, dict) and a.get("type") == "InternalIP"]
    for value in candidates:
        try:
            return ipaddress.IPv4Address(str(value))
        except ValueError:
            continue
    return None


def pod_cidr(node: Obj) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(str((node.get("spec") or {}).get("podCIDR")), strict=False)
    except ValueError:
        return None


def peers_from_nodes(nodes: Iterable[Obj], self_name: str) -> list[Peer]:
    """Every other node that has a pod CIDR and an address, sorted by name."""
    peers = []
    for node in nodes:
        meta = node.get("metadata") or {}
        name = str(meta.get("name") or "")
        cidr, ip = pod_cidr(node), node_ip(node)
        if not name or name == self_name or cidr is None or ip is None:
            continue
        mac = str((meta.get("annotations") or {}).get(ANNOTATION_VTEP_MAC) or "")
        peers.append(Peer(name, cidr, ip, mac))
    return sorted(peers)


class Backend(Protocol):
    name: str

    def setup(self, own_cidr: ipaddress.IPv4Network, own_ip: ipaddress.IPv4Address) -> dict[str, str]:
        """Prepare this node (devices); returns the annotations to publish on its Node."""
        ...

    def sync(self, peers: list[Peer]) -> None:
        """Make the kernel state match `peers` exactly: add what is missing, remove the rest."""
        ...

    def cleanup(self) -> None:
        """Remove everything the backend created (minik down)."""
        ...
