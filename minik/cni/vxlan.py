"""vxlan backend (flannel's, without its learning daemon): pod traffic tunnelled across L3.

Each node has one VXLAN device (`minikvx0`, VNI 1, UDP 8472, learning off) whose address is the
network address of its pod CIDR (x.y.z.0/32) and announces on its Node the device's MAC and the
IP the tunnel ends on. For every peer the agent programs, statically:
  route  <peer pod CIDR> via <peer x.y.z.0> dev minikvx0 onlink
  neigh  <peer x.y.z.0> lladdr <peer VTEP MAC> dev minikvx0 permanent   (no ARP across the tunnel)
  fdb    <peer VTEP MAC> dev minikvx0 dst <peer public IP> self permanent  (which host to send it to)
"""

from __future__ import annotations

import errno
import ipaddress
import logging

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.ndmsg import NUD_PERMANENT

from minik.cni.backend import ANNOTATION_BACKEND, ANNOTATION_PUBLIC_IP, ANNOTATION_VTEP_MAC, RTPROT_MINIK, Peer
from minik.cni.hostgw import MAIN_TABLE, open_ipr, owned_routes

log = logging.getLogger(__name__)

DEFAULT_DEVICE = "minikvx0"
DEFAULT_VNI = 1
DEFAULT_PORT = 8472  # the Linux kernel's and flannel's VXLAN port
OVERHEAD = 50  # outer Ethernet + IP + UDP + VXLAN headers
RTNH_F_ONLINK = 4
PERMANENT = NUD_PERMANENT


class VXLAN:
    name = "vxlan"

    def __init__(self, netns: str | None = None, device: str = DEFAULT_DEVICE, vni: int = DEFAULT_VNI,
                 port: int = DEFAULT_PORT, mtu: int = 1500 - OVERHEAD) -> None:
        self.netns = netns
        self.device = device
        self.vni = vni
        self.port = port
        self.mtu = mtu

    def _index(self, ipr: IPRoute) -> int | None:
        found = ipr.link_lookup(ifname=self.device)
        return int(found[0]) if found else None

    def setup(self, own_cidr: ipaddress.IPv4Network, own_ip: ipaddress.IPv4Address) -> dict[str, str]:
        with open_ipr(self.netns) as ipr:
            index = self._index(ipr)
            if index is not None:
                data = ipr.get_links(index)[0].get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA")
                current = (data.get("IFLA_VXLAN_ID"), data.get("IFLA_VXLAN_LOCAL"), data.get("IFLA_VXLAN_PORT")) \
                    if data is not None else None
                if current != (self.vni, str(own_ip), self.port):  # settings changed: start over
                    ipr.link("del", index=index)
                    index = None
            if index is None:
                ipr.link("add", ifname=self.device, kind="vxlan", vxlan_id=self.vni, vxlan_local=str(own_ip),
                         vxlan_port=self.port, vxlan_learning=0)
                index = self._index(ipr)
                assert index is not None
            address = str(own_cidr.network_address)
            present = {a.get("IFA_ADDRESS") for a in ipr.get_addr(index=index, family=2)}
            for stale in present - {address}:
                ipr.addr("del", index=index, address=stale, prefixlen=32)
            if address not in present:
                ipr.addr("add", index=index, address=address, prefixlen=32)
            ipr.link("set", index=index, mtu=self.mtu, state="up")
            mac = str(ipr.get_links(index)[0].get("IFLA_ADDRESS"))
        return {ANNOTATION_BACKEND: self.name, ANNOTATION_VTEP_MAC: mac, ANNOTATION_PUBLIC_IP: str(own_ip)}

    def sync(self, peers: list[Peer]) -> None:
        usable = [p for p in peers if p.vtep_mac]
        for peer in peers:
            if not peer.vtep_mac:
                log.info("node %s has not announced its VTEP yet", peer.name)
        with open_ipr(self.netns) as ipr:
            index = self._index(ipr)
            if index is None:
                raise RuntimeError(f"VXLAN device {self.device} missing: setup() first")
            self._sync_fdb(ipr, index, {p.vtep_mac: str(p.ip) for p in usable})
            self._sync_neigh(ipr, index, {str(p.pod_cidr.network_address): p.vtep_mac for p in usable})
            self._sync_routes(ipr, index, {str(p.pod_cidr): str(p.pod_cidr.network_address) for p in usable})

    def _sync_fdb(self, ipr: IPRoute, index: int, want: dict[str, str]) -> None:
        have: dict[str, set[str]] = {}
        for entry in ipr.fdb("dump", ifindex=index):
            if entry.get("ifindex") == index and entry.get("NDA_DST"):
                have.setdefault(str(entry.get("NDA_LLADDR")), set()).add(str(entry.get("NDA_DST")))
        for mac, dsts in have.items():
            for dst in dsts:
                if want.get(mac) != dst:
                    ipr.fdb("del", ifindex=index, lladdr=mac, dst=dst)
        for mac, dst in want.items():
            if dst not in have.get(mac, set()):
                ipr.fdb("append", ifindex=index, lladdr=mac, dst=dst)

    def _sync_neigh(self, ipr: IPRoute, index: int, want: dict[str, str]) -> None:
        for entry in ipr.get_neighbours(ifindex=index, family=2):
            dst, mac = str(entry.get("NDA_DST")), str(entry.get("NDA_LLADDR"))
            if want.get(dst) != mac:
                try:
                    ipr.neigh("del", ifindex=index, dst=dst)
                except NetlinkError as error:
                    if error.code != errno.ENOENT:
                        raise
        for dst, mac in want.items():
            ipr.neigh("replace", ifindex=index, dst=dst, lladdr=mac, state=PERMANENT)

    def _sync_routes(self, ipr: IPRoute, index: int, want: dict[str, str]) -> None:
        have = owned_routes(ipr, oif=index)
        for dst, route in have.items():
            if want.get(dst) != route["gateway"]:
                ipr.route("del", dst=dst, proto=RTPROT_MINIK, table=MAIN_TABLE)
        for dst, gateway in want.items():
            if have.get(dst, {}).get("gateway") != gateway:
                ipr.route("replace", dst=dst, gateway=gateway, oif=index, flags=RTNH_F_ONLINK, proto=RTPROT_MINIK)
                log.info("route %s via %s dev %s", dst, gateway, self.device)

    def cleanup(self) -> None:
        with open_ipr(self.netns) as ipr:
            index = self._index(ipr)
            if index is not None:
                ipr.link("del", index=index)  # its routes, neighbours and fdb entries go with it
