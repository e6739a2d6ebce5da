"""`minik up`: bring up a local cluster from nothing, or from what a killed earlier run left.

Steps, each with a progress line: sweep leftovers, state dir, certificates, token file, then every
entry of `components.COMPONENTS` in order (each must be ready before the next starts), then the
kubeconfigs. A failed step stops what was started and keeps the logs for `minik logs`.
"""

from __future__ import annotations

import argparse
import errno
import socket
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import TextIO

from minik.api.errors import StatusError
from minik.client import kubeconfig
from minik.client.rest import Client
from minik.cluster import labnet
from minik.cluster.addons import apply_dns_addon, nodes_ready, print_nodes
from minik.cluster.components import CONTROL_PLANE, SUPERVISOR, Component, all_components, node_components
from minik.cluster.config import (
    BACKENDS,
    CONTEXT_NAME,
    DEFAULT_KUBELET_PORT,
    DEFAULT_LAB_CIDR,
    DEFAULT_POD_CIDR,
    DEFAULT_PORT,
    DEFAULT_REGISTRY_PORT,
    ClusterConfig,
    default_state_dir,
    load_saved,
)
from minik.cluster.down import clean_nodes, stop_components
from minik.cluster.etcd import DEFAULT_CLIENT_PORT, DEFAULT_PEER_PORT, EtcdError
from minik.cluster.nodes import cluster_nodes
from minik.cluster.pki import DEFAULT_SERVICE_CIDR, ensure_pki
from minik.cluster.process import StartError
from minik.cluster.progress import Progress
from minik.cluster.registry import seed_lab_images
from minik.cluster.tokens import ensure_node_token, ensure_token_file
from minik.cluster.wait import wait_until

NEXT_STEPS = """
The cluster is up. Try:
  minictl get nodes
  minictl apply -f manifests/
  minictl get pods -l app=nodejs --show-labels
kubectl and the official Python client work too: `kubectl --context {context} get ns`.
Logs: `minik logs apiserver`; status: `minik status`; stop and delete: `minik down`.
"""


class UpError(RuntimeError):
    """A bring-up step failed; the message says which and why."""


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on host:port (another cluster, or Debian's etcd)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False


def check_ports(cfg: ClusterConfig) -> None:
    """Fail early and clearly instead of letting a component die on a taken port."""
    wanted = [
        ("apiserver", cfg.port, "--port"),
        ("etcd", cfg.etcd_port, "--etcd-port"),
        ("etcd peer", cfg.etcd_peer_port, "--etcd-peer-port"),
        ("registry", cfg.registry_port, "--registry-port"),
    ]
    for what, port, flag in wanted:
        if port_in_use(port) or (what == "apiserver" and port_in_use(port, cfg.bind_address)):
            raise UpError(f"port {port} for {what} is already in use (another cluster?); choose {flag}")


def cluster_running(cfg: ClusterConfig) -> bool:
    """Every component process alive and ready: `minik up` then has nothing to do."""
    return all(c.process(cfg).running() and c.ready(cfg) for c in all_components(cfg))


def write_kubeconfigs(cfg: ClusterConfig, token: str, progress: Progress) -> Path:
    """The admin kubeconfig in the state dir, and the `minik` context merged into the user's (like kind)."""
    ca_data = cfg.pki.ca_cert.read_bytes()
    kubeconfig.merge_context(cfg.admin_kubeconfig, CONTEXT_NAME, cfg.server, token, ca_data)
    user_path = kubeconfig.default_path()
    kubeconfig.merge_context(user_path, CONTEXT_NAME, cfg.server, token, ca_data)
    progress.note(f'kubeconfig: context "{CONTEXT_NAME}" in {user_path} (also {cfg.admin_kubeconfig})')
    return user_path


def write_node_credentials(cfg: ClusterConfig) -> None:
    """A token row and a kubeconfig per node: kubelets never hold the admin credential."""
    ca_data = cfg.pki.ca_cert.read_bytes()
    for node in cluster_nodes(cfg):
        token = ensure_node_token(cfg.token_file, node.name)
        kubeconfig.merge_context(node.kubeconfig, CONTEXT_NAME, cfg.node_server, token, ca_data)
        node.manifests.mkdir(parents=True, exist_ok=True)


def start_component(cfg: ClusterConfig, component: Component, progress: Progress) -> None:
    """Start one component and wait until it is ready; raise UpError (with its log) if it is not."""
    with progress.step(f"starting {component.name}") as step:
        component.prepare(cfg)
        env = component.env() if component.env is not None else None
        try:
            pid = component.process(cfg).start_and_wait(
                component.command(cfg), partial(component.ready, cfg), component.ready_timeout, env
            )
        except (StartError, EtcdError, OSError) as error:
            raise UpError(str(error)) from error
        step.done(f"ready at {component.address(cfg)} (pid {pid})")


def start_components(cfg: ClusterConfig, components: list[Component], progress: Progress) -> None:
    for component in components:
        start_component(cfg, component, progress)


def seed_registry(cfg: ClusterConfig, progress: Progress) -> None:
    with progress.step("seeding the registry with the lab images") as step:
        try:
            pushed = seed_lab_images(cfg)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            raise UpError(str(error)) from error
        step.done(f"{len(pushed.splitlines())} tags at {cfg.registry}")


def install_addons(cfg: ClusterConfig, progress: Progress) -> None:
    """The kube-dns Service and its Endpoints (the DNS server on the host), as kubeadm's addon."""
    with progress.step("installing the kube-dns Service") as step, Client.from_kubeconfig(
        cfg.admin_kubeconfig, CONTEXT_NAME
    ) as client:
        try:
            apply_dns_addon(client, cfg.cluster_dns, cfg.lab_ip)
        except StatusError as error:
            raise UpError(f"installing kube-dns: {error}") from error
        step.done(f"kube-system/kube-dns at {cfg.cluster_dns}")


def build_lab_network(cfg: ClusterConfig, progress: Progress) -> None:
    with progress.step("building the lab network") as step:
        try:
            labnet.ensure_lab(cfg)
        except labnet.LabNetError as error:
            raise UpError(str(error)) from error
        workers = ", ".join(n.netns for n in cluster_nodes(cfg) if n.netns)
        step.done(f"bridge {labnet.LAB_BRIDGE} {cfg.lab_ip}" + (f", namespaces {workers}" if workers else ""))


def wait_nodes_ready(cfg: ClusterConfig, progress: Progress, timeout: float) -> None:
    names = [node.name for node in cluster_nodes(cfg)]
    with progress.step(f"waiting for {len(names)} node(s) to be Ready") as step, Client.from_kubeconfig(
        cfg.admin_kubeconfig, CONTEXT_NAME
    ) as client:
        if not wait_until(lambda: nodes_ready(client, names), timeout, interval=0.5):
            raise UpError(
                f"nodes not Ready after {timeout:.0f}s; see `minik logs <node>/kubelet` "
                "(e.g. `minik logs master/kubelet`)"
            )
        step.done(", ".join(names))


def up(cfg: ClusterConfig, out: TextIO, wait_timeout: float = 180.0) -> None:
    """Bring the cluster up; raises UpError with a user-facing message."""
    progress = Progress(out)
    running = load_saved(cfg.state_dir)
    if running is not None and cfg.marker.exists() and cluster_running(running):
        print(f"minik: the cluster in {cfg.state_dir} is already running at {running.server}", file=out)
        if running != cfg:
            progress.note("(with the settings it was started with; `minik down` first to change them)")
        write_kubeconfigs(running, ensure_token_file(running.token_file), progress)
        return
    print(f"minik: creating cluster in {cfg.state_dir}", file=out, flush=True)
    if stop_components(cfg, out):
        progress.note("cleaned up what an earlier run left running")
    for leftover in dict.fromkeys(c for c in (running, cfg) if c is not None):  # a killed run may have had more nodes
        clean_nodes(leftover, out, sweep_stale=True)
    check_ports(cfg)
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    cfg.marker.write_text("minik cluster state: `minik down` deletes this directory\n")
    cfg.save()
    ensure_pki(cfg.pki.directory, cfg.service_cidr, extra_sans=[cfg.lab_ip])
    progress.note(f"certificates: CA and apiserver serving certificate in {cfg.pki.directory}")
    token = ensure_token_file(cfg.token_file)
    write_node_credentials(cfg)
    progress.note(f"tokens: admin (group system:masters) and one per node (group system:nodes) in {cfg.token_file}")
    # the control-plane components read the admin kubeconfig, so it exists before they start
    kubeconfig.merge_context(cfg.admin_kubeconfig, CONTEXT_NAME, cfg.server, token, cfg.pki.ca_cert.read_bytes())
    try:
        build_lab_network(cfg, progress)  # first: the registry and DNS listen on the lab address
        start_components(cfg, list(CONTROL_PLANE), progress)
        seed_registry(cfg, progress)
        install_addons(cfg, progress)
        for node in cluster_nodes(cfg):
            start_components(cfg, node_components(node), progress)
        start_component(cfg, SUPERVISOR, progress)
    except UpError:
        stop_components(cfg, out)  # the logs stay for `minik logs`
        raise
    write_kubeconfigs(cfg, token, progress)
    wait_nodes_ready(cfg, progress, wait_timeout)
    print_nodes(cfg)


def parse_args(argv: list[str]) -> tuple[ClusterConfig, float]:
    parser = argparse.ArgumentParser(prog="minik up", description="Start a local minik cluster.")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="where certificates, etcd data, logs and pid files live "
        "(default: $MINIK_STATE_DIR or /var/lib/minik)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="apiserver port (default 6443)")
    parser.add_argument(
        "--etcd-port",
        type=int,
        default=DEFAULT_CLIENT_PORT,
        help="etcd client port on 127.0.0.1 (default 2379)",
    )
    parser.add_argument(
        "--etcd-peer-port",
        type=int,
        default=DEFAULT_PEER_PORT,
        help="etcd peer port on 127.0.0.1 (default 2380)",
    )
    parser.add_argument(
        "--nodes",
        type=int,
        default=0,
        help="worker nodes, each a network namespace on this host (default 0: the host is the only node; "
        "with workers the host is a tainted control plane)",
    )
    parser.add_argument("--backend", choices=BACKENDS, default="host-gw",
                        help="how pod traffic crosses nodes (default host-gw)")
    parser.add_argument("--pod-cidr", default=DEFAULT_POD_CIDR, help=f"cluster pod CIDR, a /24 per node "
                        f"(default {DEFAULT_POD_CIDR})")
    parser.add_argument("--service-cidr", default=DEFAULT_SERVICE_CIDR,
                        help=f"ClusterIP range (default {DEFAULT_SERVICE_CIDR})")
    parser.add_argument("--lab-cidr", default=DEFAULT_LAB_CIDR,
                        help=f"the lab bridge's subnet; the host is its first address (default {DEFAULT_LAB_CIDR})")
    parser.add_argument("--registry-port", type=int, default=DEFAULT_REGISTRY_PORT,
                        help=f"cluster registry port (default {DEFAULT_REGISTRY_PORT})")
    parser.add_argument("--kubelet-port", type=int, default=DEFAULT_KUBELET_PORT,
                        help=f"kubelets' HTTPS port (default {DEFAULT_KUBELET_PORT})")
    parser.add_argument("--wait", type=float, default=180.0, metavar="SECONDS",
                        help="how long to wait for every node to be Ready (default 180)")
    args = parser.parse_args(argv)
    if not 0 <= args.nodes <= 200:
        parser.error("--nodes must be between 0 and 200")
    cfg = ClusterConfig(
        state_dir=args.state_dir,
        port=args.port,
        etcd_port=args.etcd_port,
        etcd_peer_port=args.etcd_peer_port,
        nodes=args.nodes,
        service_cidr=args.service_cidr,
        pod_cidr=args.pod_cidr,
        lab_cidr=args.lab_cidr,
        backend=args.backend,
        registry_port=args.registry_port,
        kubelet_port=args.kubelet_port,
    )
    return cfg, args.wait


def main(argv: list[str]) -> int:
    cfg, wait = parse_args(argv)
    try:
        up(cfg, sys.stdout, wait)
    except UpError as error:
        print(f"minik: {error}", file=sys.stderr)
        if (cfg.state_dir / "logs").is_dir():
            print(
                f"minik: logs are kept in {cfg.state_dir / 'logs'}; `minik down` deletes everything",
                file=sys.stderr,
            )
        return 1
    except (PermissionError, kubeconfig.ConfigError) as error:
        print(f"minik: {error}", file=sys.stderr)
        return 1
    print(NEXT_STEPS.format(context=CONTEXT_NAME), end="")
    return 0
