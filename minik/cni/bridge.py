"""Links of the bridge network, with pyroute2: the node's bridge and one veth pair per pod.

The node side lives in the namespace the plugin runs in (the node's); the pod side is reached
through the CNI_NETNS path. The host end of a pod's veth is named from a hash of the container
id and ifname (`minikv<9 hex>`), so DEL finds it again without any state, even when the pod's
namespace is already gone.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import ipaddress
import os
from collections.abc import Iterator
from typing import Any

# the submodules, not `from pyroute2 import IPRoute`: the plugin's entry point skips the package's
# __init__ (which imports every pyroute2 API, ~1/3 of its import time) and these work either way
from pyroute2.iproute.linux import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from minik.cni.errors import INTERFACE_FAILURE, UNKNOWN_CONTAINER, CNIError

VETH_PREFIX = "minikv"


def host_veth_name(container_id: str, ifname: str) -> str:
    """Deterministic host-side name: `minikv` + 9 hex digits = 15 characters, the kernel's limit."""
    return VETH_PREFIX + hashlib.sha256(f"{container_id}/{ifname}".encode()).hexdigest()[:9]


def _fail(what: str, error: Exception) -> CNIError:
    return CNIError(INTERFACE_FAILURE, what, str(error))


@contextlib.contextmanager
def netns_ipr(netns: str) -> Iterator[IPRoute]:
    """A netlink socket inside the namespace at path `netns` (never creating one)."""
    if not os.path.exists(netns):
        raise CNIError(UNKNOWN_CONTAINER, "network namespace not found", netns)
    try:
        ipr = IPRoute(netns=netns, flags=0)
    except Exception as error:  # pyroute2 reports a failed setns from its helper in several ways
        raise CNIError(UNKNOWN_CONTAINER, f"cannot enter network namespace {netns}", str(error)) from None
    try:
        yield ipr
    finally:
        ipr.close()


def link_index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return int(found[0]) if found else None


def link_info(ipr: IPRoute, index: int) -> Any:
    return ipr.get_links(index)[0]


def link_kind(link: Any) -> str | None:
    info = link.get("IFLA_LINKINFO")
    return info.get("IFLA_INFO_KIND") if info is not None else None


def ensure_bridge(ipr: IPRoute, name: str, address: ipaddress.IPv4Interface, mtu: int) -> Any:
    """The node bridge, created if missing, holding the gateway address, up; returns its link."""
    index = link_index(ipr, name)
    if index is None:
        try:
            ipr.link("add", ifname=name, kind="bridge", br_nf_call_iptables=1)
        except NetlinkError as error:
            if error.code != errno.EEXIST:  # another ADD created it a moment ago
                raise _fail(f"cannot create bridge {name}", error) from None
        index = link_index(ipr, name)
        if index is None:
            raise CNIError(INTERFACE_FAILURE, f"bridge {name} vanished after creation")
    link = link_info(ipr, index)
    if link_kind(link) != "bridge":
        raise CNIError(INTERFACE_FAILURE, f"{name} exists but is not a bridge", f"kind {link_kind(link)!r}")
    try:
        present = {(a.get("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=index, family=2)}
        if (str(address.ip), address.network.prefixlen) not in present:
            ipr.addr("add", index=index, address=str(address.ip), prefixlen=address.network.prefixlen)
        ipr.link("set", index=index, state="up", mtu=mtu)
    except NetlinkError as error:
        if error.code != errno.EEXIST:
            raise _fail(f"cannot configure bridge {name}", error) from None
    return link_info(ipr, index)


def remove_link(ipr: IPRoute, name: str) -> bool:
    """Delete a link if present (a veth takes its peer with it); True if it was there."""
    index = link_index(ipr, name)
    if index is None:
        return False
    try:
        ipr.link("del", index=index)
    except NetlinkError as error:
        if error.code != errno.ENODEV:
            raise _fail(f"cannot delete {name}", error) from None
    return True


def add_veth(ipr: IPRoute, bridge_index: int, host_name: str, netns: str, ifname: str, mtu: int,
             hairpin: bool) -> Any:
    """A veth pair: `host_name` on the bridge here, `ifname` inside `netns`. Returns the host link."""
    remove_link(ipr, host_name)  # a leftover of an interrupted ADD for the same attachment
    fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        ipr.link("add", ifname=host_name, kind="veth", mtu=mtu, peer={"ifname": ifname, "net_ns_fd": fd})
    except NetlinkError as error:
        if error.code == errno.EEXIST:
            raise CNIError(INTERFACE_FAILURE, f"interface {ifname} already exists in {netns}") from None
        raise _fail(f"cannot create veth pair {host_name}/{ifname}", error) from None
    finally:
        os.close(fd)
    index = link_index(ipr, host_name)
    if index is None:
        raise CNIError(INTERFACE_FAILURE, f"veth {host_name} vanished after creation")
    try:
        ipr.link("set", index=index, master=bridge_index, state="up")
        if hairpin:  # lets a pod reach itself through a Service IP (the packet comes back the same port)
            ipr.brport("set", index=index, mode=1)
    except NetlinkError as error:
        remove_link(ipr, host_name)
        raise _fail(f"cannot attach {host_name} to the bridge", error) from None
    return link_info(ipr, index)


def configure_pod(netns: str, ifname: str, address: ipaddress.IPv4Interface, gateway: ipaddress.IPv4Address,
                  routes: tuple[ipaddress.IPv4Network, ...], mtu: int) -> str:
    """Address, MTU, up, loopback up, routes via the bridge inside the pod; returns the pod MAC."""
    with netns_ipr(netns) as ipr:
        try:
            lo = link_index(ipr, "lo")
            if lo is not None:
                ipr.link("set", index=lo, state="up")
            index = link_index(ipr, ifname)
            if index is None:
                raise CNIError(INTERFACE_FAILURE, f"{ifname} missing in {netns} after creation")
            ipr.link("set", index=index, mtu=mtu, state="up")
            ipr.addr("add", index=index, address=str(address.ip), prefixlen=address.network.prefixlen)
            for dst in routes or (ipaddress.IPv4Network("0.0.0.0/0"),):
                ipr.route("add", dst=str(dst), gateway=str(gateway), oif=index)
            return str(link_info(ipr, index).get("IFLA_ADDRESS"))
        except NetlinkError as error:
            raise _fail(f"cannot configure {ifname} in {netns}", error) from None


def pod_addresses(netns: str, ifname: str) -> tuple[list[ipaddress.IPv4Interface], list[str]]:
    """(IPv4 addresses, default-route gateways) of `ifname` inside the pod: what CHECK compares."""
    with netns_ipr(netns) as ipr:
        index = link_index(ipr, ifname)
        if index is None:
            raise CNIError(INTERFACE_FAILURE, f"{ifname} not found in {netns}")
        addrs = [ipaddress.IPv4Interface(f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}")
                 for a in ipr.get_addr(index=index, family=2)]
        gateways = [str(r.get("RTA_GATEWAY")) for r in ipr.get_routes(family=2, oif=index)
                    if r.get("RTA_GATEWAY")]
        return addrs, gateways


def veth_ports(ipr: IPRoute, bridge_index: int) -> list[str]:
    """Names of our pod veths attached to the bridge (GC compares them with the live attachments)."""
    names = []
    for link in ipr.get_links():
        name = str(link.get("IFLA_IFNAME"))
        if name.startswith(VETH_PREFIX) and link.get("IFLA_MASTER") == bridge_index:
            names.append(name)
    return names
