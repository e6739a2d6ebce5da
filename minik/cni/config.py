"""The plugin's inputs: CNI_* environment variables and the network configuration on stdin.

Configuration (type "minik-bridge"; field names follow the reference bridge + host-local plugins):

    {"cniVersion": "1.0.0", "name": "minik", "type": "minik-bridge",
     "bridge": "minik0", "mtu": 1500, "hairpinMode": true, "ipMasq": true,
     "clusterCIDR": "10.244.0.0/16",
     "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "rangeStart": "...", "rangeEnd": "...",
              "gateway": "10.244.1.1", "dataDir": "/var/lib/minik/cni/networks"}}

Everything is validated up front, so a bad config fails with a clear CNI error before anything
is created.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minik.cni.errors import (
    DECODING_FAILURE,
    INCOMPATIBLE_VERSION,
    INVALID_ENVIRONMENT,
    INVALID_NETWORK_CONFIG,
    CNIError,
)

SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
PLUGIN_TYPE = "minik-bridge"
DEFAULT_BRIDGE = "minik0"
DEFAULT_DATA_DIR = Path("/var/lib/minik/cni/networks")
COMMANDS = ("ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS")
IFNAME_MAX = 15
_CONTAINER_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")
_NETWORK_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")


def version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (0,)


@dataclass(frozen=True)
class IPAMConfig:
    subnet: ipaddress.IPv4Network
    range_start: ipaddress.IPv4Address
    range_end: ipaddress.IPv4Address
    gateway: ipaddress.IPv4Address
    data_dir: Path
    routes: tuple[ipaddress.IPv4Network, ...]


@dataclass(frozen=True)
class NetConf:
    cni_version: str
    name: str
    bridge: str
    mtu: int
    hairpin_mode: bool
    ip_masq: bool
    cluster_cidr: ipaddress.IPv4Network | None
    ipam: IPAMConfig
    prev_result: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def gateway_interface(self) -> ipaddress.IPv4Interface:
        """The bridge's address: the gateway with the subnet's prefix."""
        return ipaddress.IPv4Interface(f"{self.ipam.gateway}/{self.ipam.subnet.prefixlen}")


def valid_ifname(name: str) -> bool:
    return 0 < len(name) <= IFNAME_MAX and name not in (".", "..") and not re.search(r"[/:\s]", name)


def _bad(msg: str, details: str = "") -> CNIError:
    return CNIError(INVALID_NETWORK_CONFIG, msg, details)


def _address(value: Any, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(str(value))
    except ValueError:
        raise _bad(f"invalid {what}", f"{value!r} is not an IPv4 address") from None


def parse_ipam(raw: Any) -> IPAMConfig:
    if not isinstance(raw, dict):
        raise _bad("ipam must be an object")
    if raw.get("type", "host-local") != "host-local":
        raise _bad("unsupported ipam type", f"{raw.get('type')!r}: only host-local is built in")
    try:
        subnet = ipaddress.IPv4Network(str(raw.get("subnet")), strict=False)
    except ValueError:
        raise _bad("invalid ipam subnet", f"{raw.get('subnet')!r} is not an IPv4 CIDR") from None
    if subnet.num_addresses < 4:
        raise _bad("ipam subnet too small", f"{subnet} has no room for a gateway and a pod")
    gateway = _address(raw["gateway"], "ipam gateway") if raw.get("gateway") else subnet.network_address + 1
    start = _address(raw["rangeStart"], "ipam rangeStart") if raw.get("rangeStart") else subnet.network_address + 1
    end = _address(raw["rangeEnd"], "ipam rangeEnd") if raw.get("rangeEnd") else subnet.broadcast_address - 1
    for what, address in (("gateway", gateway), ("rangeStart", start), ("rangeEnd", end)):
        if address not in subnet or address in (subnet.network_address, subnet.broadcast_address):
            raise _bad(f"ipam {what} outside the subnet", f"{address} is not a host address of {subnet}")
    if start > end:
        raise _bad("ipam range is empty", f"rangeStart {start} is after rangeEnd {end}")
    routes = []
    for route in raw.get("routes") or []:
        try:
            routes.append(ipaddress.IPv4Network(str((route or {}).get("dst")), strict=False))
        except ValueError:
            raise _bad("invalid ipam route", f"{route!r}") from None
    data_dir = Path(str(raw.get("dataDir") or DEFAULT_DATA_DIR))
    return IPAMConfig(subnet, start, end, gateway, data_dir, tuple(routes))


def parse_netconf(data: bytes | str) -> NetConf:
    """Decode and validate the network configuration from stdin."""
    try:
        raw = json.loads(data)
    except ValueError as error:
        raise CNIError(DECODING_FAILURE, "failed to decode network configuration", str(error)) from None
    if not isinstance(raw, dict):
        raise CNIError(DECODING_FAILURE, "network configuration must be a JSON object")
    version = str(raw.get("cniVersion") or "")
    if version not in SUPPORTED_VERSIONS:
        raise CNIError(INCOMPATIBLE_VERSION, "incompatible CNI versions",
                       f"config is {version!r}, plugin supports {', '.join(SUPPORTED_VERSIONS)}")
    name = str(raw.get("name") or "")
    if not _NETWORK_NAME.match(name):
        raise _bad("invalid network name", f"{name!r}")
    if raw.get("type") not in (PLUGIN_TYPE, None):
        raise _bad("wrong plugin type", f"{raw.get('type')!r}, this plugin is {PLUGIN_TYPE}")
    bridge = str(raw.get("bridge") or DEFAULT_BRIDGE)
    if not valid_ifname(bridge):
        raise _bad("invalid bridge name", f"{bridge!r}: at most {IFNAME_MAX} characters, no / : or spaces")
    mtu = raw.get("mtu", 1500)
    if not isinstance(mtu, int) or not 576 <= mtu <= 65535:
        raise _bad("invalid mtu", f"{mtu!r}")
    cluster_cidr = None
    if raw.get("clusterCIDR"):
        try:
            cluster_cidr = ipaddress.IPv4Network(str(raw["clusterCIDR"]), strict=False)
        except ValueError:
            raise _bad("invalid clusterCIDR", f"{raw['clusterCIDR']!r}") from None
    prev = raw.get("prevResult")
    return NetConf(
        cni_version=version,
        name=name,
        bridge=bridge,
        mtu=mtu,
        hairpin_mode=bool(raw.get("hairpinMode", True)),
        ip_masq=bool(raw.get("ipMasq", False)),
        cluster_cidr=cluster_cidr,
        ipam=parse_ipam(raw.get("ipam")),
        prev_result=prev if isinstance(prev, dict) else None,
        raw=raw,
    )


@dataclass(frozen=True)
class CmdArgs:
    command: str
    container_id: str
    netns: str
    ifname: str
    path: str
    args: dict[str, str]


def parse_env(env: Mapping[str, str]) -> CmdArgs:
    """Read and check the CNI_* variables the command needs (like the reference skel package)."""
    command = env.get("CNI_COMMAND", "")
    if command not in COMMANDS:
        raise CNIError(INVALID_ENVIRONMENT, "invalid CNI_COMMAND",
                       f"{command!r}, expected one of {', '.join(COMMANDS)}")
    container_id, netns = env.get("CNI_CONTAINERID", ""), env.get("CNI_NETNS", "")
    ifname, path = env.get("CNI_IFNAME", ""), env.get("CNI_PATH", "")
    if command in ("ADD", "DEL", "CHECK"):
        missing = [n for n, v in (("CNI_CONTAINERID", container_id), ("CNI_IFNAME", ifname),
                                  ("CNI_PATH", path)) if not v]
        if command != "DEL" and not netns:
            missing.append("CNI_NETNS")
        if missing:
            raise CNIError(INVALID_ENVIRONMENT, "required environment variables missing", ", ".join(missing))
        if not _CONTAINER_ID.match(container_id):
            raise CNIError(INVALID_ENVIRONMENT, "invalid CNI_CONTAINERID", f"{container_id!r}")
        if not valid_ifname(ifname):
            raise CNIError(INVALID_ENVIRONMENT, "invalid CNI_IFNAME", f"{ifname!r}")
    args: dict[str, str] = {}
    for pair in filter(None, env.get("CNI_ARGS", "").split(";")):
        key, sep, value = pair.partition("=")
        if not sep:
            raise CNIError(INVALID_ENVIRONMENT, "invalid CNI_ARGS", f"{pair!r} is not KEY=VALUE")
        args[key] = value
    return CmdArgs(command, container_id, netns, ifname, path, args)
