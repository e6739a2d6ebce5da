"""The minik bridge CNI plugin: the CNI commands over bridge + veth + host-local IPAM.

Run as an executable the way containerd runs a plugin (`python -m minik.cni`): CNI_COMMAND and
friends in the environment, the network configuration on stdin, a result or an error as JSON on
stdout (exit status 0 or 1). ADD wires a pod in and prints its IPs; DEL undoes it and succeeds
when there is nothing left to undo; CHECK compares the kernel with the previous result; VERSION
lists the spec versions; GC (CNI 1.1) frees what no valid attachment owns; STATUS says whether
ADD can succeed.

Every command holds the network's IPAM lock while it touches what pods share: the address
store, the bridge, sysctls and the iptables rules. ADD then creates and configures its own veth
pair outside it (a host end named after its attachment, the pod end in its own namespace), so
a node's pod setups overlap instead of queueing behind each other's netlink and namespace work.

The plugin is a fresh process per call (`python -S -m minik.cni`): it imports only what the
command needs (pyroute2 and iptables not at all for VERSION), when it needs it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from collections.abc import Mapping
from typing import IO, Any

from minik.cni.config import SUPPORTED_VERSIONS, CmdArgs, NetConf, parse_env, parse_netconf, version_tuple
from minik.cni.errors import (
    CHECK_FAILED,
    INCOMPATIBLE_VERSION,
    INVALID_NETWORK_CONFIG,
    IO_FAILURE,
    PLUGIN_NOT_AVAILABLE,
    CNIError,
)
from minik.cni.ipam import HostLocal

LATEST = SUPPORTED_VERSIONS[-1]
Result = dict[str, Any] | None


def _warn(message: str) -> None:
    print(f"minik-cni: {message}", file=sys.stderr)


def _interface(name: str, link: Any, sandbox: str | None = None, mtu: int | None = None,
               version: str = LATEST) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "mac": str(link.get("IFLA_ADDRESS") if not isinstance(link, str) else link)}
    if mtu is not None and version_tuple(version) >= (1, 1, 0):
        entry["mtu"] = mtu
    if sandbox:
        entry["sandbox"] = sandbox
    return entry


def cmd_add(args: CmdArgs, conf: NetConf) -> Result:
    from minik.cni import bridge, masq
    from minik.cni.sysctl import ensure_forwarding
    from minik.proxy.iptables import IPTables

    ipam = HostLocal(conf.name, conf.ipam)
    host_name = bridge.host_veth_name(args.container_id, args.ifname)
    routes = conf.ipam.routes
    with bridge.IPRoute() as ipr:
        with ipam.locked():  # what every pod of the node shares
            for warning in ensure_forwarding():
                _warn(warning)
            br = bridge.ensure_bridge(ipr, conf.bridge, conf.gateway_interface, conf.mtu)
            address = ipam.allocate(args.container_id, args.ifname)
            try:
                if conf.ip_masq:
                    masq.ensure_pod_egress(IPTables(), conf.ipam.subnet, conf.cluster_cidr or conf.ipam.subnet)
            except BaseException:
                ipam.release(args.container_id, args.ifname)
                raise
        pod_ip = ipaddress.IPv4Interface(f"{address}/{conf.ipam.subnet.prefixlen}")
        try:  # this attachment's own links: no lock
            host = bridge.add_veth(ipr, br["index"], host_name, args.netns, args.ifname, conf.mtu,
                                   conf.hairpin_mode)
            pod_mac = bridge.configure_pod(args.netns, args.ifname, pod_ip, conf.ipam.gateway, routes, conf.mtu)
        except BaseException:
            bridge.remove_link(ipr, host_name)
            with ipam.locked():
                ipam.release(args.container_id, args.ifname)
            raise
    ip_entry: dict[str, Any] = {"address": str(pod_ip), "gateway": str(conf.ipam.gateway), "interface": 2}
    if version_tuple(conf.cni_version) < (1, 0, 0):
        ip_entry["version"] = "4"
    return {
        "cniVersion": conf.cni_version,
        "interfaces": [
            _interface(conf.bridge, br, version=conf.cni_version),
            _interface(host_name, host, version=conf.cni_version),
            _interface(args.ifname, pod_mac, sandbox=args.netns, mtu=conf.mtu, version=conf.cni_version),
        ],
        "ips": [ip_entry],
        "routes": [{"dst": str(dst), "gw": str(conf.ipam.gateway)} for dst in routes or ["0.0.0.0/0"]],
        "dns": {},
    }


def cmd_del(args: CmdArgs, conf: NetConf) -> Result:
    from minik.cni import bridge

    ipam = HostLocal(conf.name, conf.ipam)
    with ipam.locked():
        with bridge.IPRoute() as ipr:
            removed = bridge.remove_link(ipr, bridge.host_veth_name(args.container_id, args.ifname))
        if not removed and args.netns and os.path.exists(args.netns):
            try:  # the host end is gone but the pod still has its end (e.g. renamed): remove that
                with bridge.netns_ipr(args.netns) as pod:
                    bridge.remove_link(pod, args.ifname)
            except CNIError as error:
                _warn(f"DEL: {error}")
        ipam.release(args.container_id, args.ifname)
    return None


def cmd_check(args: CmdArgs, conf: NetConf) -> Result:
    from minik.cni import bridge

    if version_tuple(conf.cni_version) < (0, 4, 0):
        raise CNIError(INCOMPATIBLE_VERSION, "CHECK needs cniVersion 0.4.0 or later", conf.cni_version)
    prev = conf.prev_result
    if not prev or not prev.get("ips"):
        raise CNIError(INVALID_NETWORK_CONFIG, "CHECK needs prevResult with ips")
    want = ipaddress.IPv4Interface(str(prev["ips"][0].get("address")))
    owned = HostLocal(conf.name, conf.ipam).get(args.container_id, args.ifname)
    if owned != want.ip:
        raise CNIError(CHECK_FAILED, f"IPAM does not hold {want.ip} for this container", f"it holds {owned}")
    with bridge.IPRoute() as ipr:
        br_index = bridge.link_index(ipr, conf.bridge)
        if br_index is None:
            raise CNIError(CHECK_FAILED, f"bridge {conf.bridge} is missing")
        host_name = bridge.host_veth_name(args.container_id, args.ifname)
        host_index = bridge.link_index(ipr, host_name)
        if host_index is None or bridge.link_info(ipr, host_index).get("IFLA_MASTER") != br_index:
            raise CNIError(CHECK_FAILED, f"{host_name} is missing or not on {conf.bridge}")
    addrs, gateways = bridge.pod_addresses(args.netns, args.ifname)
    if want not in addrs:
        raise CNIError(CHECK_FAILED, f"{args.ifname} does not have {want}", f"it has {[str(a) for a in addrs]}")
    if str(conf.ipam.gateway) not in gateways:
        raise CNIError(CHECK_FAILED, f"no route via {conf.ipam.gateway} in the pod", f"gateways {gateways}")
    return None


def cmd_gc(args: CmdArgs, conf: NetConf) -> Result:
    from minik.cni import bridge

    valid = {(str(a.get("containerID")), str(a.get("ifname")))
             for a in conf.raw.get("cni.dev/valid-attachments") or [] if isinstance(a, dict)}
    ipam = HostLocal(conf.name, conf.ipam)
    with ipam.locked():
        freed = ipam.gc(valid)
        keep = {bridge.host_veth_name(cid, ifname) for cid, ifname in valid}
        with bridge.IPRoute() as ipr:
            br_index = bridge.link_index(ipr, conf.bridge)
            stale = [n for n in bridge.veth_ports(ipr, br_index) if n not in keep] if br_index is not None else []
            for name in stale:
                bridge.remove_link(ipr, name)
    if freed or stale:
        _warn(f"GC freed {len(freed)} addresses and {len(stale)} veths")
    return None


def cmd_status(args: CmdArgs, conf: NetConf) -> Result:
    ipam = HostLocal(conf.name, conf.ipam)
    with ipam.locked():
        free = ipam.free_count()
    if not free:
        raise CNIError(PLUGIN_NOT_AVAILABLE, "no free pod addresses", f"range of {conf.ipam.subnet} is full")
    return None


COMMANDS = {"ADD": cmd_add, "DEL": cmd_del, "CHECK": cmd_check, "GC": cmd_gc, "STATUS": cmd_status}


def run(env: Mapping[str, str], stdin: bytes) -> tuple[int, Result]:
    """One plugin invocation: (exit status, JSON to print)."""
    version = LATEST
    try:
        with_version = json.loads(stdin) if stdin.strip() else {}
        if isinstance(with_version, dict) and with_version.get("cniVersion") in SUPPORTED_VERSIONS:
            version = str(with_version["cniVersion"])
    except ValueError:
        pass
    try:
        if env.get("CNI_COMMAND") == "VERSION":
            return 0, {"cniVersion": version, "supportedVersions": list(SUPPORTED_VERSIONS)}
        args = parse_env(env)
        conf = parse_netconf(stdin)
        if args.command in ("GC", "STATUS") and version_tuple(conf.cni_version) < (1, 1, 0):
            raise CNIError(INCOMPATIBLE_VERSION, f"{args.command} needs cniVersion 1.1.0", conf.cni_version)
        return 0, COMMANDS[args.command](args, conf)
    except CNIError as error:
        return 1, error.to_json(version)
    except OSError as error:
        return 1, CNIError(IO_FAILURE, "I/O failure", str(error)).to_json(version)
    except Exception as error:
        iptables = sys.modules.get("minik.proxy.iptables")  # imported only by a command that ran iptables
        if iptables is None or not isinstance(error, iptables.IPTablesError):
            raise
        return 1, CNIError(IO_FAILURE, "iptables failed", str(error)).to_json(version)


def main(env: Mapping[str, str] | None = None, stdin: IO[bytes] | None = None, stdout: IO[str] | None = None) -> int:
    data = (stdin or sys.stdin.buffer).read()
    code, result = run(os.environ if env is None else env, data)
    if result is not None:
        json.dump(result, stdout or sys.stdout)
        (stdout or sys.stdout).write("\n")
    return code

