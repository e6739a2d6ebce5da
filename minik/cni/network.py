"""`CNINetwork`: the runtime's NetworkPlugin hook backed by the minik bridge CNI plugin.

The runtime calls setup() with the pause process' network namespace when a sandbox starts and
gets the pod IP back (it lands in the sandbox status, which the kubelet reports as podIP);
teardown() when it stops. The network configuration is either fixed from flags
(`--network cni --pod-cidr 10.244.1.0/24`) or read from a file at each call, which the network
agent writes once the node controller gave this node its spec.podCIDR (like flannel's
subnet.env): until then pods fail with "network not ready" and the kubelet retries.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
from pathlib import Path
from typing import Any

from minik.cni.config import DEFAULT_BRIDGE, DEFAULT_DATA_DIR, PLUGIN_TYPE
from minik.cni.invoke import CNIInvokeError, cni_args, exec_plugin
from minik.runtime.network import LoopbackOnly, NetworkPlugin
from minik.runtime.state import CRIError

log = logging.getLogger(__name__)

CNI_VERSION = "1.1.0"
NETWORK_NAME = "minik"
DEFAULT_CONF_FILE = Path("/run/minik/cni/minik.conf")


def build_conf(pod_cidr: str, *, bridge: str = DEFAULT_BRIDGE, cluster_cidr: str | None = "10.244.0.0/16",
               mtu: int = 1500, data_dir: Path = DEFAULT_DATA_DIR, name: str = NETWORK_NAME,
               ip_masq: bool = True) -> dict[str, Any]:
    """The plugin's network configuration for a node whose pods live in `pod_cidr`."""
    subnet = ipaddress.IPv4Network(pod_cidr, strict=False)
    conf: dict[str, Any] = {
        "cniVersion": CNI_VERSION,
        "name": name,
        "type": PLUGIN_TYPE,
        "bridge": bridge,
        "mtu": mtu,
        "hairpinMode": True,
        "ipMasq": ip_masq,
        "ipam": {"type": "host-local", "subnet": str(subnet), "gateway": str(subnet.network_address + 1),
                 "dataDir": str(data_dir)},
    }
    if cluster_cidr:
        conf["clusterCIDR"] = cluster_cidr
    return conf


class CNINetwork:
    """Wires sandboxes in through the CNI contract (ADD on setup, DEL on teardown)."""

    def __init__(self, conf: dict[str, Any] | None = None, conf_file: Path | None = None, ifname: str = "eth0",
                 node_netns: str | None = None) -> None:
        if (conf is None) == (conf_file is None):
            raise ValueError("give exactly one of conf and conf_file")
        self.conf = conf
        self.conf_file = conf_file
        self.ifname = ifname
        self.node_netns = node_netns

    def network_conf(self) -> dict[str, Any]:
        if self.conf is not None:
            return self.conf
        assert self.conf_file is not None
        try:
            conf = json.loads(self.conf_file.read_text())
        except FileNotFoundError:
            raise CRIError(f"network not ready: no CNI configuration at {self.conf_file} yet "
                           "(the network agent writes it once this node has a podCIDR)") from None
        except (OSError, ValueError) as error:
            raise CRIError(f"network not ready: cannot read {self.conf_file}: {error}") from None
        if not isinstance(conf, dict):
            raise CRIError(f"network not ready: {self.conf_file} is not a JSON object")
        return conf

    def _exec(self, command: str, sandbox_id: str, netns: str, metadata: dict[str, Any]) -> dict[str, Any] | None:
        return exec_plugin(command, self.network_conf(), container_id=sandbox_id, netns=netns, ifname=self.ifname,
                           args=cni_args(metadata, sandbox_id), node_netns=self.node_netns)

    def setup(self, sandbox_id: str, netns: str, config: dict[str, Any]) -> str | None:
        metadata = config.get("metadata") or {}
        try:
            result = self._exec("ADD", sandbox_id, netns, metadata) or {}
        except CNIInvokeError as error:
            try:  # like containerd: a failed ADD is followed by a DEL, so nothing leaks
                self._exec("DEL", sandbox_id, netns, metadata)
            except CNIInvokeError as cleanup_error:
                log.warning("DEL after failed ADD of %s: %s", sandbox_id, cleanup_error)
            raise CRIError(f"failed to set up network for sandbox {sandbox_id[:12]}: {error}") from None
        ips = result.get("ips") or []
        if not ips:
            return None
        return str(ips[0].get("address", "")).split("/")[0] or None

    def teardown(self, sandbox_id: str, netns: str | None, config: dict[str, Any]) -> None:
        try:
            self._exec("DEL", sandbox_id, netns or "", config.get("metadata") or {})
        except CNIInvokeError as error:
            raise CRIError(f"failed to tear down network of sandbox {sandbox_id[:12]}: {error}") from None

    def gc(self, live_sandbox_ids: list[str]) -> None:
        """Free addresses and veths of sandboxes that no longer exist (call after a runtime restart)."""
        conf = dict(self.network_conf())
        conf["cni.dev/valid-attachments"] = [{"containerID": s, "ifname": self.ifname} for s in live_sandbox_ids]
        try:
            exec_plugin("GC", conf, node_netns=self.node_netns)
        except CNIInvokeError as error:
            raise CRIError(f"CNI GC failed: {error}") from None


def add_network_flags(parser: argparse.ArgumentParser) -> None:
    """The runtime's network flags (`minik runtime --network cni ...`)."""
    group = parser.add_argument_group("pod network")
    group.add_argument("--network", choices=("none", "cni"), default="none",
                       help="none: loopback only; cni: the minik bridge CNI plugin")
    group.add_argument("--pod-cidr", help="this node's pod CIDR (else read --cni-conf-file at each pod start)")
    group.add_argument("--cni-conf-file", type=Path, default=DEFAULT_CONF_FILE,
                       help="CNI network configuration written by the network agent")
    group.add_argument("--cni-bridge", default=DEFAULT_BRIDGE, help="the node bridge (default minik0)")
    group.add_argument("--cluster-cidr", default="10.244.0.0/16", help="pod CIDR of the whole cluster")
    group.add_argument("--cni-mtu", type=int, default=1500, help="MTU of the bridge and the pod interfaces")
    group.add_argument("--cni-data-dir", type=Path, default=DEFAULT_DATA_DIR, help="host-local IPAM state")


def network_from_args(args: argparse.Namespace) -> NetworkPlugin:
    """The NetworkPlugin the flags ask for."""
    if args.network == "none":
        return LoopbackOnly()
    if args.pod_cidr:
        return CNINetwork(build_conf(args.pod_cidr, bridge=args.cni_bridge, cluster_cidr=args.cluster_cidr,
                                     mtu=args.cni_mtu, data_dir=args.cni_data_dir))
    return CNINetwork(conf_file=args.cni_conf_file)
