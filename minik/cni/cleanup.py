"""Remove everything the pod network put on a node (for `minik down`): bridge, pod veths, the
agent's routes and VXLAN device, the pod egress iptables chains, IPAM state and the CNI config.

Safe to run any number of times and on a node that never had a pod network.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pyroute2 import IPRoute

from minik.cni import bridge as links
from minik.cni import masq
from minik.cni.config import DEFAULT_BRIDGE, DEFAULT_DATA_DIR
from minik.cni.hostgw import HostGW, open_ipr
from minik.cni.network import DEFAULT_CONF_FILE
from minik.cni.vxlan import DEFAULT_DEVICE, VXLAN
from minik.proxy.iptables import IPTables


def remove_bridge(ipr: IPRoute, name: str) -> list[str]:
    """The bridge and our veths on it (pods still running lose their network: this is teardown)."""
    removed: list[str] = []
    index = links.link_index(ipr, name)
    if index is None:
        return removed
    for port in links.veth_ports(ipr, index):
        if links.remove_link(ipr, port):
            removed.append(port)
    if links.remove_link(ipr, name):
        removed.append(name)
    return removed


def cleanup(bridge: str = DEFAULT_BRIDGE, data_dir: Path = DEFAULT_DATA_DIR, conf_file: Path | None = DEFAULT_CONF_FILE,
            vxlan_device: str = DEFAULT_DEVICE, netns: str | None = None) -> list[str]:
    """Tear the node's pod network down; returns what was removed (for the log)."""
    with open_ipr(netns) as ipr:
        removed = remove_bridge(ipr, bridge)
    HostGW(netns).cleanup()
    VXLAN(netns, device=vxlan_device).cleanup()
    masq.cleanup(IPTables(netns))
    if data_dir.is_dir():
        shutil.rmtree(data_dir, ignore_errors=True)
        removed.append(str(data_dir))
    if conf_file is not None and conf_file.exists():
        conf_file.unlink()
        removed.append(str(conf_file))
    return removed
