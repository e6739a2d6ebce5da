"""`minik controller-manager`: flags (kube-controller-manager's names), logging, run until signalled."""

from __future__ import annotations

import argparse
import logging
import re
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from minik.client.kubeconfig import ConfigError
from minik.client.rest import Client, ConnectionFailed
from minik.controllers.manager import CONTROLLERS, ControllerManager, Options, enabled_controllers
from minik.logsetup import setup_logging

log = logging.getLogger(__name__)

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def duration(text: str) -> float:
    """A Go duration (`40s`, `1m30s`, `500ms`) or plain seconds, in seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
    return total


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "t"):
        return True
    if text.lower() in ("false", "0", "f"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    d = Options()
    p = argparse.ArgumentParser(prog="minik controller-manager",
                                description="Run the controllers: replicaset, deployment, daemonset, "
                                            "endpoints, garbage collector, node lifecycle, pod GC, node IPAM.")
    p.add_argument("--kubeconfig", help="kubeconfig file with the apiserver address and credentials")
    p.add_argument("--context", help="kubeconfig context to use")
    p.add_argument("--controllers", default="*",
                   help="comma list: '*' enables all, 'foo' enables foo, '-foo' disables foo. "
                        f"Known: {', '.join(CONTROLLERS)}")
    p.add_argument("--node-monitor-grace-period", type=duration, default=d.node_monitor_grace_period,
                   help="how long a node may stop heartbeating before it is marked Unknown (40s)")
    p.add_argument("--node-monitor-period", type=duration, default=d.node_monitor_period,
                   help="how often node health is checked (5s)")
    p.add_argument("--node-startup-grace-period", type=duration, default=d.node_startup_grace_period,
                   help="how long a new node may go without posting status (1m)")
    p.add_argument("--pod-eviction-timeout", type=duration, default=d.pod_eviction_timeout,
                   help="deprecated, no effect: pods are evicted after their NoExecute tolerationSeconds "
                        "(300s by default, added by the apiserver)")
    p.add_argument("--terminated-pod-gc-threshold", type=int, default=d.terminated_pod_gc_threshold)
    p.add_argument("--allocate-node-cidrs", type=_bool, nargs="?", const=True, default=d.allocate_node_cidrs,
                   help="assign each node a pod CIDR out of --cluster-cidr (true)")
    p.add_argument("--cluster-cidr", default=d.cluster_cidr)
    p.add_argument("--node-cidr-mask-size", type=int, default=d.node_cidr_mask_size)
    for name, default in (("replicaset", d.concurrent_replicaset_syncs),
                          ("deployment", d.concurrent_deployment_syncs),
                          ("daemonset", d.concurrent_daemonset_syncs),
                          ("endpoint", d.concurrent_endpoint_syncs),
                          ("gc", d.concurrent_gc_syncs)):
        p.add_argument(f"--concurrent-{name}-syncs", type=int, default=default,
                       help=f"workers for the {name} controller ({default})")
    p.add_argument("--healthz-bind-address", default="127.0.0.1",
                   help="address of the plain-HTTP /healthz endpoint")
    p.add_argument("--healthz-port", type=int, default=10257,
                   help="port of /healthz (200 once the caches synced and the controllers run); 0 disables it")
    p.add_argument("--v", type=int, default=0, help="log verbosity (4 and up: debug)")
    return p.parse_args(argv)


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        concurrent_replicaset_syncs=args.concurrent_replicaset_syncs,
        concurrent_deployment_syncs=args.concurrent_deployment_syncs,
        concurrent_daemonset_syncs=args.concurrent_daemonset_syncs,
        concurrent_endpoint_syncs=args.concurrent_endpoint_syncs,
        concurrent_gc_syncs=args.concurrent_gc_syncs,
        node_monitor_grace_period=args.node_monitor_grace_period,
        node_monitor_period=args.node_monitor_period,
        node_startup_grace_period=args.node_startup_grace_period,
        pod_eviction_timeout=args.pod_eviction_timeout,
        terminated_pod_gc_threshold=args.terminated_pod_gc_threshold,
        allocate_node_cidrs=args.allocate_node_cidrs,
        cluster_cidr=args.cluster_cidr,
        node_cidr_mask_size=args.node_cidr_mask_size,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(logging.DEBUG if args.v >= 4 else logging.INFO)
    try:
        names = enabled_controllers(args.controllers.split(","))
    except ValueError as e:
        print(f"minik controller-manager: {e}")
        return 2
    try:
        client = Client.from_kubeconfig(Path(args.kubeconfig) if args.kubeconfig else None, args.context)
    except ConfigError as e:
        print(f"minik controller-manager: {e}")
        return 1
    client.timeout = 30.0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.pod_eviction_timeout != Options().pod_eviction_timeout:
        log.warning("--pod-eviction-timeout is deprecated and has no effect: pods are evicted after the "
                    "tolerationSeconds of their NoExecute tolerations")
    manager = ControllerManager(client, options_from(args), names)
    try:
        healthz = serve_healthz(args.healthz_bind_address, args.healthz_port, manager) if args.healthz_port else None
    except OSError as e:
        print(f"minik controller-manager: cannot serve /healthz on {args.healthz_bind_address}:{args.healthz_port}: "
              f"{e.strerror or e}")
        client.close()
        return 1
    try:
        while not stop.is_set():
            try:
                manager.start()
                break
            except (ConnectionFailed, TimeoutError) as e:
                log.warning("waiting for the apiserver: %s", e)
                stop.wait(2.0)
        log.info("controller-manager running: %s", ", ".join(manager.names))
        stop.wait()
    finally:
        if healthz is not None:
            healthz.shutdown()
        manager.stop()
        client.close()
    return 0


def serve_healthz(host: str, port: int, manager: ControllerManager) -> ThreadingHTTPServer:
    """/healthz for `minik up` and monitoring: ok once the controllers run."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            if self.path.split("?")[0] not in ("/healthz", "/readyz", "/livez"):
                self.send_error(404)
                return
            ok = manager.running
            body = b"ok" if ok else b"controllers not started: waiting for the informer caches"
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep health probes out of the log
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="healthz", daemon=True).start()
    return server
