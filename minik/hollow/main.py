"""`minik hollow-nodes`: N fake kubelets in one process, for benchmarks only (Kubernetes' kubemark).

    minik hollow-nodes --count 1000 --kubeconfig /var/lib/minik/admin.kubeconfig

Registers nodes `<prefix>0` .. `<prefix>N-1`, renews their Leases and reports the pods bound to
them as Running without running anything, so the control plane can be measured at a scale this
host could never run for real. It authenticates with the given kubeconfig; admin credentials are
fine for a benchmarking tool (a real kubelet's node credential would only cover one node each).
It is never part of a functional test or of `minik up`.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from minik.client.kubeconfig import ConfigError
from minik.client.rest import Client
from minik.hollow.addresses import MAX_NODES, MAX_PODS_PER_NODE
from minik.hollow.heartbeat import Heartbeats
from minik.hollow.node import HollowNodeSpec
from minik.hollow.pods import HollowPods
from minik.logsetup import setup_logging

log = logging.getLogger("minik.hollow")

# The names must be valid DNS-1123 labels once the index is appended (a Lease carries the same name).
NAME_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*)?$")
SYNC_LOG_INTERVAL = 30.0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minik hollow-nodes",
                                description="benchmarking only: N fake kubelets in one process (kubemark)")
    p.add_argument("--count", type=int, required=True, help=f"how many hollow nodes (1..{MAX_NODES})")
    p.add_argument("--kubeconfig", type=Path, help="credentials (admin is fine; default: ~/.kube/config)")
    p.add_argument("--name-prefix", default="hollow-node-", help="node names are <prefix><index>")
    p.add_argument("--heartbeat", type=float, default=10.0, help="seconds between Lease renewals of a node")
    p.add_argument("--node-status-report-frequency", type=float, default=300.0,
                   help="seconds between Node status reports (the Lease is the heartbeat)")
    p.add_argument("--cpu", default="4", help="cpu capacity of each node")
    p.add_argument("--memory", default="8Gi", help="memory capacity of each node")
    p.add_argument("--max-pods", type=int, default=110, help=f"pods per node (at most {MAX_PODS_PER_NODE})")
    p.add_argument("--workers", type=int, default=8, help="threads writing pod statuses")
    p.add_argument("--heartbeat-workers", type=int, default=0,
                   help="threads renewing Leases (default: one per 40 nodes, 4 to 32)")
    p.add_argument("--v", "-v", dest="verbosity", type=int, default=0, help="log verbosity (2+ is debug)")
    return p


def check_args(args: argparse.Namespace) -> HollowNodeSpec:
    """Reject what would make every node fail at the apiserver, before trying N times."""
    if not 1 <= args.count <= MAX_NODES:
        raise ValueError(f"--count must be between 1 and {MAX_NODES}")
    if not 1 <= args.max_pods <= MAX_PODS_PER_NODE:
        raise ValueError(f"--max-pods must be between 1 and {MAX_PODS_PER_NODE} (one /24 of pod addresses)")
    if args.heartbeat <= 0 or args.node_status_report_frequency <= 0:
        raise ValueError("--heartbeat and --node-status-report-frequency must be positive")
    if args.workers < 1 or args.heartbeat_workers < 0:
        raise ValueError("--workers must be at least 1, --heartbeat-workers at least 0 (automatic)")
    longest = f"{args.name_prefix}{args.count - 1}"
    if not NAME_PREFIX.match(args.name_prefix) or len(longest) > 63:
        raise ValueError(f"--name-prefix {args.name_prefix!r}: node names like {longest!r} must be DNS-1123 "
                         "labels (lower-case letters, digits and '-', at most 63 characters)")
    spec = HollowNodeSpec(cpu=args.cpu, memory=args.memory, max_pods=args.max_pods)
    spec.check()
    return spec


def run(client: Client, args: argparse.Namespace, spec: HollowNodeSpec, stop: threading.Event) -> None:
    names = [f"{args.name_prefix}{i}" for i in range(args.count)]
    pods = HollowPods(client, names, workers=args.workers)
    # A renewal waits on the apiserver most of its time: at 1000 nodes every 10 s and 0.2 s per call
    # under load, 20 calls must be in flight for no node to miss its turn.
    workers = args.heartbeat_workers or min(32, max(4, len(names) // 40))
    beats = Heartbeats(client, names, spec, renew_interval=args.heartbeat,
                       status_interval=args.node_status_report_frequency, workers=workers)
    pods.informer.start()  # pods may be bound to our names before every node is registered

    def heartbeat() -> None:
        if beats.register_all(stop) == len(names):
            beats.run(stop)

    beater = threading.Thread(target=heartbeat, name="hollow-heartbeat", daemon=True)
    beater.start()
    try:
        waited = 0.0
        while not stop.is_set() and not pods.informer.wait_for_sync(1.0):
            waited += 1.0
            if waited % SYNC_LOG_INTERVAL == 0:
                log.warning("still waiting for the first list of pods after %.0fs", waited)
        if not stop.is_set():
            pods.start()
            log.info("%d hollow nodes %s..%s running", len(names), names[0], names[-1])
            stop.wait()
    finally:
        stop.set()
        pods.informer.stop()
        pods.stop()
        beater.join(30)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(logging.DEBUG if args.verbosity >= 2 else logging.INFO)
    try:
        spec = check_args(args)
        client = Client.from_kubeconfig(args.kubeconfig)
    except (ConfigError, ValueError) as error:
        print(f"minik hollow-nodes: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    try:
        run(client, args, spec, stop)
    finally:
        client.close()
    return 0
