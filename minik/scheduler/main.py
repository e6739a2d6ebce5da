"""`minik scheduler`: flags, logging, and the scheduler's life until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
import threading
from pathlib import Path

from minik.client.kubeconfig import ConfigError
from minik.client.rest import Client
from minik.logsetup import setup_logging
from minik.scheduler.queue import DEFAULT_POD_INITIAL_BACKOFF, DEFAULT_POD_MAX_BACKOFF
from minik.scheduler.scheduler import Scheduler

log = logging.getLogger("minik.scheduler")


def _log_level(text: str) -> int:
    """`--v` takes klog verbosity (0-10; 4 and up is debug) or a level name (info, debug, ...)."""
    if text.isdigit():
        return logging.DEBUG if int(text) >= 4 else logging.INFO
    level = logging.getLevelName(text.upper())
    if not isinstance(level, int):
        raise argparse.ArgumentTypeError(f"invalid verbosity {text!r}: use 0-10 or a level name")
    return level


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="minik scheduler", description="Bind pending pods to nodes.")
    p.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context to use")
    p.add_argument("--percentage-of-nodes-to-score", type=int, default=0, metavar="PERCENT",
                   help="stop filtering after finding this share of feasible nodes (0: adaptive, "
                        "50%% minus 1%% per 125 nodes, at least 5%%; never fewer than 100 nodes)")
    p.add_argument("--pod-initial-backoff-seconds", type=float, default=DEFAULT_POD_INITIAL_BACKOFF,
                   metavar="SECONDS", help="back-off after a pod's first failed attempt, doubled after each "
                                           "(default %(default)g)")
    p.add_argument("--pod-max-backoff-seconds", type=float, default=DEFAULT_POD_MAX_BACKOFF, metavar="SECONDS",
                   help="the longest back-off (default %(default)g)")
    p.add_argument("--v", dest="log_level", type=_log_level, default=logging.INFO,
                   help="log verbosity: 0-10 like klog (>=4 is debug) or a level name")
    args = p.parse_args(argv)
    if not 0 <= args.percentage_of_nodes_to_score <= 100:
        p.error("--percentage-of-nodes-to-score must be between 0 and 100")
    if not args.pod_initial_backoff_seconds > 0 or not math.isfinite(args.pod_max_backoff_seconds):
        p.error("--pod-initial-backoff-seconds must be greater than 0 and the back-offs finite")
    if args.pod_max_backoff_seconds < args.pod_initial_backoff_seconds:
        p.error("--pod-max-backoff-seconds must be at least --pod-initial-backoff-seconds")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level)
    try:
        client = Client.from_kubeconfig(args.kubeconfig, args.context)
    except (ConfigError, OSError) as e:
        print(f"minik scheduler: {e}", file=sys.stderr)
        return 1
    scheduler = Scheduler(client, percentage_of_nodes_to_score=args.percentage_of_nodes_to_score,
                          pod_initial_backoff=args.pod_initial_backoff_seconds,
                          pod_max_backoff=args.pod_max_backoff_seconds)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()
        scheduler.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        # Informers retry an unreachable apiserver on their own: wait for them as long as it takes.
        if scheduler.start(sync_timeout=None):
            while not stop.wait(3600):
                pass
    finally:
        scheduler.stop()
        client.close()
    return 0
