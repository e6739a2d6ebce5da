"""`minik kubelet`: the node agent.

    minik kubelet --kubeconfig /etc/minik/kubelet.conf --node-name worker1 \
        --runtime-endpoint unix:///run/minik/runtime.sock --root-dir /var/lib/minik/kubelet \
        --pod-manifest-path /etc/minik/manifests --node-ip 10.0.0.11

The kubeconfig should carry the node's own credential (user `system:node:<name>` in group
`system:nodes` in the apiserver's token file); the same token authenticates the apiserver when it
proxies logs and exec to this kubelet.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from minik.client.kubeconfig import ConfigError as KubeconfigError
from minik.client.rest import Client
from minik.kubelet.config import (
    DEFAULT_MANIFEST_PATH,
    DEFAULT_PORT,
    DEFAULT_ROOT_DIR,
    ConfigError,
    KubeletConfig,
    parse_key_values,
    parse_reserved,
    parse_taints,
)
from minik.logsetup import setup_logging
from minik.runtime.client import DEFAULT_SOCKET, RuntimeClient


def parser() -> argparse.ArgumentParser:
    defaults = KubeletConfig()
    p = argparse.ArgumentParser(prog="minik kubelet", description="the node agent: run the pods bound to this node")
    p.add_argument("--kubeconfig", type=Path, help="kubeconfig with the node's credential (default: ~/.kube/config)")
    p.add_argument("--node-name", default=defaults.node_name, help="the Node's name (default: the hostname)")
    p.add_argument("--runtime-endpoint", default=DEFAULT_SOCKET, help="the container runtime's socket")
    p.add_argument("--root-dir", type=Path, default=DEFAULT_ROOT_DIR, help="pod volumes, logs and state")
    p.add_argument("--pod-manifest-path", default=str(DEFAULT_MANIFEST_PATH),
                   help="static pod directory ('' to disable)")
    p.add_argument("--node-ip", default="", help="the node's InternalIP (default: the default route's source)")
    p.add_argument("--node-labels", default="", help="extra labels: key=value,...")
    p.add_argument("--register-with-taints", default="", help="taints: key=value:Effect,...")
    p.add_argument("--cpu", help="cpu capacity to report (default: the machine's)")
    p.add_argument("--memory", help="memory capacity to report (default: the machine's)")
    p.add_argument("--max-pods", type=int, default=defaults.max_pods)
    p.add_argument("--system-reserved", default="", help="resources kept from pods: cpu=100m,memory=256Mi")
    p.add_argument("--node-status-update-frequency", type=float, default=defaults.node_status_update_frequency)
    p.add_argument("--node-lease-renew-interval", type=float, default=defaults.lease_renew_interval,
                   help="seconds between Lease renewals")
    p.add_argument("--node-lease-duration-seconds", type=int, default=defaults.node_lease_duration)
    p.add_argument("--crash-loop-backoff-initial", type=float, default=defaults.crash_loop_backoff_initial,
                   help="first restart back-off in seconds (doubles each crash)")
    p.add_argument("--crash-loop-backoff-max", type=float, default=defaults.crash_loop_backoff_max,
                   help="restart back-off cap in seconds (reset after twice this much quiet)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="the kubelet's HTTPS port (logs, exec)")
    p.add_argument("--address", default=defaults.address, help="address the kubelet server listens on")
    p.add_argument("--tls-cert-file", type=Path, help="serving certificate (default: self-signed in root-dir/pki)")
    p.add_argument("--tls-private-key-file", type=Path)
    p.add_argument("--sync-frequency", type=float, default=defaults.sync_frequency,
                   help="seconds between periodic resyncs of each pod")
    p.add_argument("--file-check-frequency", type=float, default=defaults.file_check_frequency,
                   help="seconds between reads of the static pod directory")
    p.add_argument("--pleg-relist-period", type=float, default=defaults.pleg_relist_period)
    p.add_argument("--cluster-dns", default="", help="DNS server IPs for ClusterFirst pods (comma separated)")
    p.add_argument("--cluster-domain", default="cluster.local", help="the cluster's DNS domain")
    p.add_argument("--v", "-v", dest="verbosity", type=int, default=0, help="log verbosity (2+ is debug)")
    return p


def build_config(args: argparse.Namespace) -> KubeletConfig:
    return KubeletConfig(
        kubeconfig=args.kubeconfig,
        node_name=str(args.node_name).lower(),
        runtime_endpoint=args.runtime_endpoint,
        root_dir=args.root_dir,
        pod_manifest_path=Path(args.pod_manifest_path) if args.pod_manifest_path else None,
        node_ip=args.node_ip,
        node_labels=parse_key_values(args.node_labels, "--node-labels"),
        register_with_taints=parse_taints(args.register_with_taints),
        cpu=args.cpu,
        memory=args.memory,
        max_pods=args.max_pods,
        system_reserved=parse_reserved(args.system_reserved),
        node_status_update_frequency=args.node_status_update_frequency,
        lease_renew_interval=args.node_lease_renew_interval,
        node_lease_duration=args.node_lease_duration_seconds,
        crash_loop_backoff_initial=args.crash_loop_backoff_initial,
        crash_loop_backoff_max=args.crash_loop_backoff_max,
        port=args.port,
        address=args.address,
        tls_cert_file=args.tls_cert_file,
        tls_private_key_file=args.tls_private_key_file,
        sync_frequency=args.sync_frequency,
        file_check_frequency=args.file_check_frequency,
        pleg_relist_period=args.pleg_relist_period,
        cluster_dns=[s.strip() for s in args.cluster_dns.split(",") if s.strip()],
        cluster_domain=args.cluster_domain,
        verbosity=args.verbosity,
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(logging.DEBUG if args.verbosity >= 2 else logging.INFO)
    try:
        cfg = build_config(args)
        client = Client.from_kubeconfig(cfg.kubeconfig)
    except (ConfigError, KubeconfigError, ValueError) as error:
        print(f"minik kubelet: {error}", file=sys.stderr)
        return 2
    from minik.kubelet.kubelet import Kubelet

    token = client.config.token if client.config is not None and client.config.token else ""
    runtime = RuntimeClient(cfg.runtime_endpoint, timeout=60)
    kubelet = Kubelet(cfg, client, runtime, token=token)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        kubelet.start()
    except OSError as error:
        print(f"minik kubelet: {error}", file=sys.stderr)
        kubelet.stop()
        return 1
    stop.wait()
    logging.getLogger("minik.kubelet").info("stopping (pods keep running)")
    kubelet.stop()
    runtime.close()
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
