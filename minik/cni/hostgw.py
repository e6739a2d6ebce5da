"""host-gw backend (flannel's): a plain route to each peer's pod CIDR via that node's IP.

No encapsulation, so it needs the nodes on one L2 segment (the next hop must be directly
reachable). A peer whose IP is not directly reachable is skipped with a warning, not retried
forever: a route through a gateway would send pod traffic somewhere that cannot deliver it.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from minik.cni.backend import RTPROT_MINIK, Peer

log = logging.getLogger(__name__)
MAIN_TABLE = 254


@contextmanager
def open_ipr(netns: str | None) -> Iterator[IPRoute]:
    ipr = IPRoute(netns=netns, flags=0) if netns else IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def owned_routes(ipr: IPRoute, oif: int | None = None) -> dict[str, dict[str, object]]:
    """Our routes in the main table: {dst CIDR: {"gateway": ..., "oif": ...}}."""
    found: dict[str, dict[str, object]] = {}
    for route in ipr.get_routes(family=2, table=MAIN_TABLE):
        if route.get("proto") != RTPROT_MINIK or (oif is not None and route.get("RTA_OIF") != oif):
            continue
        dst = f"{route.get('RTA_DST') or '0.0.0.0'}/{route.get('dst_len')}"
        found[dst] = {"gateway": route.get("RTA_GATEWAY"), "oif": route.get("RTA_OIF")}
    return found


class HostGW:
    name = "host-gw"

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns

    def setup(self, own_cidr: ipaddress.IPv4Network, own_ip: ipaddress.IPv4Address) -> dict[str, str]:
        return {}

    def sync(self, peers: list[Peer]) -> None:
        want = {str(p.pod_cidr): str(p.ip) for p in peers}
        with open_ipr(self.netns) as ipr:
            have = owned_routes(ipr)
            for dst, route in have.items():
                if want.get(dst) != route["gateway"]:
                    self._delete(ipr, dst)
            for peer in peers:
                dst, gateway = str(peer.pod_cidr), str(peer.ip)
                if have.get(dst, {}).get("gateway") == gateway:
                    continue
                try:
                    ipr.route("replace", dst=dst, gateway=gateway, proto=RTPROT_MINIK)
                    log.info("route %s via %s (node %s)", dst, gateway, peer.name)
                except NetlinkError as error:
                    if error.code in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EINVAL):
                        log.warning("node %s: %s is not directly reachable; host-gw needs one L2 segment "
                                    "(use --backend vxlan): %s", peer.name, gateway, error)
                        continue
                    raise

    @staticmethod
    def _delete(ipr: IPRoute, dst: str) -> None:
        try:
            ipr.route("del", dst=dst, proto=RTPROT_MINIK, table=MAIN_TABLE)
            log.info("route %s removed", dst)
        except NetlinkError as error:
            if error.code != errno.ESRCH:
                raise

    def cleanup(self) -> None:
        with open_ipr(self.netns) as ipr:
            for dst in owned_routes(ipr):
                self._delete(ipr, dst)
