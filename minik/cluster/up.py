"""`minik up`: bring up a local cluster from nothing, or from what a killed earlier run left.

Steps, each with a progress line: sweep leftovers, state dir, certificates, token file, then every
entry of `components.COMPONENTS` in order (each must be ready before the next starts), then the
kubeconfigs. A failed step stops what was started and keeps the logs for `minik logs`.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import socket
import sys
from functools import partial
from pathlib import Path
from typing import TextIO

from minik.client import kubeconfig
from minik.cluster.components import COMPONENTS
from minik.cluster.config import (
    CONTEXT_NAME,
    DEFAULT_PORT,
    ClusterConfig,
    default_state_dir,
    load_saved,
)
from minik.cluster.down import stop_components
from minik.cluster.etcd import DEFAULT_CLIENT_PORT, DEFAULT_PEER_PORT, EtcdError
from minik.cluster.pki import ensure_pki
from minik.cluster.process import StartError
from minik.cluster.tokens import ensure_token_file

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
    ]
    for what, port, flag in wanted:
        if port_in_use(port) or (what == "apiserver" and port_in_use(port, cfg.bind_address)):
            raise UpError(f"port {port} for {what} is already in use (another cluster?); choose {flag}")


def _step(out: TextIO, text: str) -> None:
    print(f"  {text}", file=out, flush=True)


def cluster_running(cfg: ClusterConfig) -> bool:
    """Every component process alive and ready: `minik up` then has nothing to do."""
    return all(c.process(cfg).running() and c.ready(cfg) for c in COMPONENTS)


def write_kubeconfigs(cfg: ClusterConfig, token: str, out: TextIO) -> Path:
    """The admin kubeconfig in the state dir, and the `minik` context merged into the user's (like kind)."""
    ca_data = cfg.pki.ca_cert.read_bytes()
    kubeconfig.merge_context(cfg.admin_kubeconfig, CONTEXT_NAME, cfg.server, token, ca_data)
    user_path = kubeconfig.default_path()
    kubeconfig.merge_context(user_path, CONTEXT_NAME, cfg.server, token, ca_data)
    _step(out, f'kubeconfig: context "{CONTEXT_NAME}" in {user_path} (also {cfg.admin_kubeconfig})')
    return user_path


def start_components(cfg: ClusterConfig, out: TextIO) -> None:
    """Start each component and wait for it; on failure stop them all and raise."""
    for component in COMPONENTS:
        print(f"  starting {component.name} ...", end=" ", file=out, flush=True)
        component.prepare(cfg)
        env = component.env() if component.env is not None else None
        try:
            pid = component.process(cfg).start_and_wait(
                component.command(cfg), partial(component.ready, cfg), component.ready_timeout, env
            )
        except (StartError, EtcdError) as error:
            print("failed", file=out, flush=True)
            stop_components(cfg, out)
            raise UpError(str(error)) from error
        print(f"ready at {component.address(cfg)} (pid {pid})", file=out, flush=True)


def up(cfg: ClusterConfig, out: TextIO) -> None:
    """Bring the cluster up; raises UpError with a user-facing message."""
    running = load_saved(cfg.state_dir)
    if running is not None and cfg.marker.exists() and cluster_running(running):
        print(f"minik: the cluster in {cfg.state_dir} is already running at {running.server}", file=out)
        if running != dataclasses.replace(cfg, nodes=running.nodes):
            _step(out, "(with the settings it was started with; `minik down` first to change them)")
        write_kubeconfigs(running, ensure_token_file(running.token_file), out)
        return
    print(f"minik: creating cluster in {cfg.state_dir}", file=out, flush=True)
    if cfg.nodes != 1:
        _step(out, f"--nodes {cfg.nodes}: nodes arrive with the kubelet; starting the control plane only")
    if stop_components(cfg, out):
        _step(out, "cleaned up what an earlier run left running")
    check_ports(cfg)
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    cfg.marker.write_text("minik cluster state: `minik down` deletes this directory\n")
    cfg.save()
    ensure_pki(cfg.pki.directory, cfg.service_cidr)
    _step(out, f"certificates: CA and apiserver serving certificate in {cfg.pki.directory}")
    token = ensure_token_file(cfg.token_file)
    _step(out, f"tokens: admin token (system:admin, group system:masters) in {cfg.token_file}")
    # the control-plane components read the admin kubeconfig, so it exists before they start
    kubeconfig.merge_context(cfg.admin_kubeconfig, CONTEXT_NAME, cfg.server, token, cfg.pki.ca_cert.read_bytes())
    start_components(cfg, out)
    write_kubeconfigs(cfg, token, out)


def parse_args(argv: list[str]) -> ClusterConfig:
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
    parser.add_argument("--nodes", type=int, default=1, help="number of nodes (default 1)")
    args = parser.parse_args(argv)
    if args.nodes < 1:
        parser.error("--nodes must be at least 1")
    return ClusterConfig(
        state_dir=args.state_dir,
        port=args.port,
        etcd_port=args.etcd_port,
        etcd_peer_port=args.etcd_peer_port,
        nodes=args.nodes,
    )


def main(argv: list[str]) -> int:
    cfg = parse_args(argv)
    try:
        up(cfg, sys.stdout)
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
