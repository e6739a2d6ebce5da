"""`minik.cni.agent`: the per-node network agent (flannel's job): routes to every other node's pods.

    python -m minik network-agent --kubeconfig K --hostname-override worker1 --backend host-gw

It watches Nodes. Once its own Node has a spec.podCIDR (from the node IPAM controller) it
prepares the backend, publishes what peers need on its Node (vxlan: VTEP MAC and public IP), and
writes the CNI configuration the runtime reads (so pods get addresses from that CIDR). Then on
every Node change, and every --resync-period, it makes the routes match the Nodes: a node that
joins gets a route, a node that leaves (or changes address) loses it. Syncs are level-based and
idempotent: the whole desired state is compared with the kernel each time.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any, Protocol

from minik.api.errors import StatusError
from minik.api.resources import Resource, lookup
from minik.client.informer import Informer, ListerWatcher
from minik.client.kubeconfig import ConfigError
from minik.client.rest import Client
from minik.cni.backend import Backend, node_ip, peers_from_nodes, pod_cidr
from minik.cni.config import DEFAULT_BRIDGE, DEFAULT_DATA_DIR
from minik.cni.hostgw import HostGW
from minik.cni.network import DEFAULT_CONF_FILE, build_conf
from minik.cni.vxlan import DEFAULT_DEVICE, DEFAULT_PORT, DEFAULT_VNI, OVERHEAD, VXLAN
from minik.logsetup import setup_logging

log = logging.getLogger("minik.cni.agent")

Obj = dict[str, Any]


def _nodes() -> Resource:
    r = lookup("nodes")
    assert r is not None
    return r


class NodePatcher(Protocol):
    def patch(self, r: Resource, name: str, body: Any, namespace: str | None = None, *,
              patch_type: Any = "merge", subresource: str | None = None) -> Obj: ...


class AgentClient(ListerWatcher, NodePatcher, Protocol):
    pass


def write_if_changed(path: Path, content: str) -> bool:
    """Atomic write (rename), skipped when the file already says the same."""
    try:
        if path.read_text() == content:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(content)
    os.replace(tmp, path)
    return True


class NetworkAgent:
    def __init__(self, client: AgentClient, node_name: str, backend: Backend, *,
                 own_ip: ipaddress.IPv4Address | None = None, cluster_cidr: str | None = "10.244.0.0/16",
                 conf_file: Path | None = None, bridge: str = DEFAULT_BRIDGE, mtu: int = 1500,
                 data_dir: Path = DEFAULT_DATA_DIR, resync_period: float = 30.0) -> None:
        self.client = client
        self.node_name = node_name
        self.backend = backend
        self.own_ip = own_ip
        self.cluster_cidr = cluster_cidr
        self.conf_file = conf_file
        self.bridge = bridge
        self.mtu = mtu
        self.data_dir = data_dir
        self.resync_period = resync_period
        self.informer = Informer(client, _nodes())
        self.informer.add_event_handler(lambda _o: self._wake.set(), lambda _o, _n: self._wake.set(),
                                        lambda _o: self._wake.set())
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._prepared: tuple[ipaddress.IPv4Network, ipaddress.IPv4Address] | None = None
        self.syncs = 0

    def start(self) -> None:
        self.informer.start()
        self._thread = threading.Thread(target=self._loop, name="minik-network-agent", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.informer.stop()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.is_set() and not self.informer.wait_for_sync(0.5):
            pass  # the informer retries an unreachable apiserver on its own
        self._wake.set()  # the first sync right after the cache is filled
        while not self._stop.is_set():
            self._wake.wait(self.resync_period)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.sync()
            except Exception:
                log.exception("sync failed; retrying at the next change or resync")
                self._stop.wait(1.0)
                self._wake.set()

    def sync(self) -> bool:
        """One level-based pass; False while this node has no pod CIDR yet."""
        own = self.informer.store.get_by_key(self.node_name)
        cidr = pod_cidr(own) if own else None
        ip = self.own_ip or (node_ip(own) if own else None)
        if own is None or cidr is None or ip is None:
            log.info("waiting for node %s to have a podCIDR and an address", self.node_name)
            return False
        if self._prepared != (cidr, ip):
            annotations = self.backend.setup(cidr, ip)
            current = (own.get("metadata") or {}).get("annotations") or {}
            if any(current.get(k) != v for k, v in annotations.items()):
                self._publish(annotations)
            if self.conf_file is not None:
                mtu = self.mtu - OVERHEAD if self.backend.name == "vxlan" else self.mtu
                conf = build_conf(str(cidr), bridge=self.bridge, cluster_cidr=self.cluster_cidr, mtu=mtu,
                                  data_dir=self.data_dir)
                if write_if_changed(self.conf_file, json.dumps(conf, indent=2) + "\n"):
                    log.info("wrote CNI configuration %s for pod CIDR %s", self.conf_file, cidr)
            self._prepared = (cidr, ip)
        peers = peers_from_nodes(self.informer.store.list(), self.node_name)
        self.backend.sync(peers)
        self.syncs += 1
        log.debug("synced %s routes to %d peers", self.backend.name, len(peers))
        return True

    def _publish(self, annotations: dict[str, str]) -> None:
        try:
            self.client.patch(_nodes(), self.node_name, {"metadata": {"annotations": annotations}})
        except StatusError as error:
            log.warning("cannot annotate node %s: %s", self.node_name, error)
            raise


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="minik network-agent",
                                description="Route pod traffic between nodes (host-gw or vxlan).")
    p.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context to use")
    p.add_argument("--hostname-override", default=socket.gethostname(), help="this node's name")
    p.add_argument("--node-ip", type=ipaddress.IPv4Address,
                   help="IP other nodes reach this one on (default: the Node's InternalIP)")
    p.add_argument("--backend", choices=("host-gw", "vxlan"), default="host-gw",
                   help="host-gw: routes via node IPs (one L2); vxlan: tunnel (across L3)")
    p.add_argument("--cluster-cidr", default="10.244.0.0/16", help="pod CIDR of the whole cluster")
    p.add_argument("--cni-conf-file", type=Path, default=DEFAULT_CONF_FILE,
                   help="where to write the CNI configuration for the runtime")
    p.add_argument("--cni-bridge", default=DEFAULT_BRIDGE, help="the node bridge")
    p.add_argument("--cni-data-dir", type=Path, default=DEFAULT_DATA_DIR, help="host-local IPAM state")
    p.add_argument("--mtu", type=int, default=1500, help="underlay MTU (vxlan pods get 50 less)")
    p.add_argument("--vxlan-device", default=DEFAULT_DEVICE)
    p.add_argument("--vxlan-vni", type=int, default=DEFAULT_VNI)
    p.add_argument("--vxlan-port", type=int, default=DEFAULT_PORT)
    p.add_argument("--netns", help="program routes inside this network namespace (name or path)")
    p.add_argument("--resync-period", type=float, default=30.0, help="seconds between full resyncs")
    p.add_argument("--cleanup", action="store_true", help="remove the routes/devices of --backend, then exit")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def make_backend(args: argparse.Namespace) -> Backend:
    if args.backend == "vxlan":
        return VXLAN(args.netns, args.vxlan_device, args.vxlan_vni, args.vxlan_port, args.mtu - OVERHEAD)
    return HostGW(args.netns)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    backend = make_backend(args)
    if args.cleanup:
        backend.cleanup()
        return 0
    try:
        client = Client.from_kubeconfig(args.kubeconfig, args.context)
    except (ConfigError, OSError) as error:
        print(f"minik network-agent: {error}", file=sys.stderr)
        return 1
    agent = NetworkAgent(client, args.hostname_override, backend, own_ip=args.node_ip,
                         cluster_cidr=args.cluster_cidr, conf_file=args.cni_conf_file, bridge=args.cni_bridge,
                         mtu=args.mtu, data_dir=args.cni_data_dir, resync_period=args.resync_period)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("network agent for node %s, backend %s", args.hostname_override, backend.name)
    agent.start()
    try:
        stop.wait()
    finally:
        agent.stop()  # routes stay: pods keep talking while the agent restarts
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
