"""`minik proxy`: program Services into this node's iptables (kube-proxy's iptables mode).

    minik proxy --kubeconfig KUBECONFIG --hostname-override worker1 --cluster-cidr 10.244.0.0/16
    minik proxy --cleanup            # remove every MINIK- chain and jump the proxy made, then exit

Watches Services, Endpoints and this node's Node; every change requests a sync, syncs run at
most once per --min-sync-period and at least once per --sync-period (a full resync).
--iptables-netns NAME runs every iptables command inside that network namespace (tests, and
nodes that are network namespaces of one host).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import socket
import sys
import threading
from pathlib import Path

from minik.api.resources import Resource, lookup
from minik.client.informer import Informer
from minik.client.kubeconfig import ConfigError
from minik.client.rest import Client
from minik.logsetup import setup_logging
from minik.proxy.cleanup import cleanup
from minik.proxy.conntrack import Conntrack
from minik.proxy.iptables import IPTables, IPTablesError
from minik.proxy.proxier import Proxier, ProxyServer
from minik.proxy.rules import ProxyConfig

log = logging.getLogger("minik.proxy")


def _resource(name: str) -> Resource:
    r = lookup(name)
    assert r is not None, name
    return r


def _log_level(text: str) -> int:
    """`--v` takes klog verbosity (0-10; 4 and up is debug) or a level name."""
    if text.isdigit():
        return logging.DEBUG if int(text) >= 4 else logging.INFO
    level = logging.getLevelName(text.upper())
    if not isinstance(level, int):
        raise argparse.ArgumentTypeError(f"invalid verbosity {text!r}: use 0-10 or a level name")
    return level


def _cidr(text: str) -> str:
    try:
        return str(ipaddress.IPv4Network(text, strict=False))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"invalid CIDR {text!r}: {error}") from None


def _ip(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"invalid IPv4 address {text!r}: {error}") from None


def _seconds(text: str) -> float:
    value = float(text[:-1] if text.endswith("s") else text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="minik proxy", description="Program Services into iptables on this node.")
    p.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context to use")
    p.add_argument("--hostname-override", default=socket.gethostname(), help="this node's name")
    p.add_argument("--node-ip", type=_ip, help="this node's primary IP (logged; NodePorts open on every local IP)")
    p.add_argument("--cluster-cidr", type=_cidr,
                   help="pod CIDR of the cluster; traffic from outside it to a ClusterIP is masqueraded "
                        "(default: this node's spec.podCIDR)")
    p.add_argument("--masquerade-all", action="store_true", help="SNAT all traffic sent to a ClusterIP")
    p.add_argument("--masquerade-bit", type=int, default=14, help="fwmark bit marking packets to SNAT (0-31)")
    p.add_argument("--min-sync-period", type=_seconds, default=1.0, help="least time between syncs (seconds)")
    p.add_argument("--sync-period", type=_seconds, default=30.0, help="time between full resyncs (seconds)")
    p.add_argument("--iptables-netns", help="run iptables inside this network namespace (name or path)")
    p.add_argument("--cleanup", action="store_true", help="remove the proxy's chains and rules, then exit")
    p.add_argument("--v", dest="log_level", type=_log_level, default=logging.INFO,
                   help="log verbosity: 0-10 like klog (>=4 is debug) or a level name")
    args = p.parse_args(argv)
    if not 0 <= args.masquerade_bit <= 31:
        p.error("--masquerade-bit must be between 0 and 31")
    if args.sync_period < args.min_sync_period:
        p.error("--sync-period must be at least --min-sync-period")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(args.log_level)
    iptables = IPTables(args.iptables_netns)
    if not iptables.exists():
        print(f"minik proxy: iptables does not work{' in netns ' + args.iptables_netns if args.iptables_netns else ''}",
              file=sys.stderr)
        return 1
    if args.cleanup:
        try:
            removed = cleanup(iptables)
        except IPTablesError as error:
            print(f"minik proxy: cleanup failed: {error}", file=sys.stderr)
            return 1
        log.info("removed %d chains and their jumps", removed)
        return 0
    try:
        client = Client.from_kubeconfig(args.kubeconfig, args.context)
    except (ConfigError, OSError) as error:
        print(f"minik proxy: {error}", file=sys.stderr)
        return 1
    services = Informer(client, _resource("services"))
    endpoints = Informer(client, _resource("endpoints"))
    nodes = Informer(client, _resource("nodes"), field_selector=f"metadata.name={args.hostname_override}")
    config = ProxyConfig(cluster_cidr=args.cluster_cidr, masquerade_all=args.masquerade_all,
                         masquerade_bit=args.masquerade_bit)
    proxier = Proxier(iptables, config, services=services.store.list, endpoints=endpoints.store.list,
                      node=lambda: nodes.store.get_by_key(args.hostname_override),
                      conntrack=Conntrack(args.iptables_netns))
    server = ProxyServer(proxier, args.min_sync_period, args.sync_period)
    informers = (services, endpoints, nodes)
    for informer in informers:
        informer.add_event_handler(server.request_sync, lambda _old, _new: server.request_sync(),
                                   server.request_sync)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s: stopping (rules stay in place)", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("starting on node %s (node IP %s, cluster CIDR %s, iptables%s)", args.hostname_override,
             args.node_ip or "unset", args.cluster_cidr or "from node podCIDR",
             f" in netns {args.iptables_netns}" if args.iptables_netns else "")
    try:
        for informer in informers:
            informer.start()
        # Syncing before the caches are filled would briefly drop every Service: wait for them.
        while not stop.is_set() and not all(i.has_synced() for i in informers):
            stop.wait(0.1)
        if not stop.is_set():
            server.start()
            stop.wait()
    finally:
        server.stop()
        for informer in informers:
            informer.stop()
        client.close()
    return 0
