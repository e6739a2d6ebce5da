"""`minik join`: make this machine a node of a running cluster, like `kubeadm join`.

1. Discovery: read ConfigMap kube-public/cluster-info WITHOUT verifying TLS (nothing is trusted yet),
   and accept its CA only if the sha256 of its public key equals `--ca-cert-hash`; from then on every
   request verifies the apiserver against that CA. A mismatch stops here, before anything is written.
2. With the bootstrap token: read the cluster's ports and ranges (kube-system/minik-config) and ask for
   this node's own credential (POST nodes/<name>/token), user `system:node:<name>`. A rejoin from the
   same machine keeps the credential it already has.
3. Write the node's kubeconfig and saved config (control plane = the server's host), then start the
   runtime, network agent, kubelet and proxy exactly as `minik up` starts a node's: as systemd services
   when systemd runs here, else as detached processes kept alive by `minik supervise`.
4. Wait until the Node is Ready.
`minik down --state-dir` undoes it all on this machine.
"""

from __future__ import annotations

import argparse
import hmac
import re
import socket
import sys
from pathlib import Path
from typing import Any, TextIO

import httpx

from minik.api.errors import AlreadyExistsError, NotFoundError, StatusError, UnauthorizedError
from minik.api.names import validate_dns1123_subdomain
from minik.api.resources import require
from minik.apiserver.auth import CLUSTER_CONFIG, CLUSTER_INFO
from minik.client import kubeconfig
from minik.client.rest import Client, ConnectionFailed
from minik.cluster.addons import nodes_ready
from minik.cluster.bootstrap import parse_cluster_config, parse_cluster_info
from minik.cluster.components import SUPERVISOR, node_components
from minik.cluster.config import BACKENDS, CONTEXT_NAME, ClusterConfig, default_state_dir, load_saved
from minik.cluster.down import stop_components
from minik.cluster.nodes import NodeSpec, cluster_nodes
from minik.cluster.pki import ca_cert_hash
from minik.cluster.progress import Progress
from minik.cluster.service import UNIT_DIR, install, systemd_running
from minik.cluster.tokens import parse_bootstrap_token
from minik.cluster.up import UpError, start_component, start_components
from minik.cluster.wait import wait_until

HASH_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")


class JoinError(RuntimeError):
    """A join step failed; the message says which and what to do."""




def check_ca(ca_pem: bytes, pinned: str) -> str:
    """The CA's hash when it is the pinned one; JoinError (kubeadm's words) otherwise."""
    actual = ca_cert_hash(ca_pem)
    if not hmac.compare_digest(actual, pinned.lower()):
        raise JoinError(f'cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "{actual}" '
                        f"are pinned (--ca-cert-hash {pinned}); nothing was changed on this machine")
    return actual


def _unreachable(server: str, error: Exception) -> JoinError:
    return JoinError(f"cannot reach the apiserver at {server}: {error}")


def discover(server: str, token: str, pinned: str) -> tuple[bytes, dict[str, Any]]:
    """The cluster's CA (verified by hash) and its shared settings (read with the bootstrap token)."""
    try:
        with Client(server, insecure=True, timeout=15.0) as anonymous:
            info = anonymous.get(require("configmaps"), CLUSTER_INFO[1], CLUSTER_INFO[0])
    except NotFoundError:
        raise JoinError(f"{server} publishes no {CLUSTER_INFO[0]}/{CLUSTER_INFO[1]}: run `minik token create` "
                        "on the control plane first") from None
    except (ConnectionFailed, StatusError) as error:
        raise _unreachable(server, error) from error
    try:
        _, ca_pem = parse_cluster_info(info)
        check_ca(ca_pem, pinned)
    except ValueError as error:
        raise JoinError(f"the cluster-info ConfigMap is unusable: {error}") from error
    try:
        with Client(server, token=token, ca_data=ca_pem, timeout=15.0) as boot:
            settings = parse_cluster_config(boot.get(require("configmaps"), CLUSTER_CONFIG[1], CLUSTER_CONFIG[0]))
    except UnauthorizedError:
        raise JoinError("the bootstrap token was refused (unknown or expired): create a new one on the control "
                        "plane with `minik token create --print-join-command`") from None
    except NotFoundError:
        raise JoinError(f"{server} publishes no {CLUSTER_CONFIG[0]}/{CLUSTER_CONFIG[1]}: run "
                        "`minik token create` on the control plane") from None
    except (ConnectionFailed, StatusError, ValueError) as error:
        raise _unreachable(server, error) from error
    return ca_pem, settings


def _saved_token(node: NodeSpec, server: str, ca_pem: bytes) -> str | None:
    """This machine's credential from an earlier join, if the apiserver still accepts it."""
    try:
        saved = kubeconfig.load(node.kubeconfig, CONTEXT_NAME)
    except kubeconfig.ConfigError:
        return None
    if not saved.token or saved.ca_data != ca_pem:
        return None
    try:
        with Client(server, token=saved.token, ca_data=ca_pem, timeout=15.0) as client:
            client.get(require("nodes"), node.name)
    except NotFoundError:
        return saved.token
    except (StatusError, ConnectionFailed):
        return None
    return saved.token


def node_credential(server: str, token: str, ca_pem: bytes, node: NodeSpec) -> tuple[str, bool]:
    """(token for system:node:<name>, whether it was kept from an earlier join of this machine)."""
    kept = _saved_token(node, server, ca_pem)
    if kept is not None:
        return kept, True
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {"name": node.name}}
    try:
        with Client(server, token=token, ca_data=ca_pem, timeout=15.0) as boot:
            response = boot.request("POST", f"{require('nodes').path(name=node.name)}/token", json=request)
    except AlreadyExistsError as error:
        raise JoinError(str(error)) from None
    except UnauthorizedError:
        raise JoinError("the bootstrap token was refused (unknown or expired)") from None
    except (ConnectionFailed, StatusError) as error:
        raise JoinError(f"requesting the node credential: {error}") from error
    issued = (response.json().get("status") or {}).get("token")
    if not isinstance(issued, str) or not issued:
        raise JoinError("the apiserver answered the credential request without a token")
    return issued, False


def source_address(host: str, port: int) -> str:
    """The address this machine uses towards the control plane: the node's address by default."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((host, port))
        return str(probe.getsockname()[0])


def check_state_dir(state_dir: Path, name: str) -> ClusterConfig | None:
    """The earlier join of this machine, if any; JoinError when the dir holds something else."""
    existing = load_saved(state_dir)
    if existing is None:
        return None
    if not existing.joined:
        raise JoinError(f"{state_dir} holds a cluster made by `minik up`; choose another --state-dir")
    if existing.node_name != name:
        raise JoinError(f"{state_dir} already joined as node {existing.node_name}; "
                        f"`minik down --state-dir {state_dir}` first")
    return existing


def join(args: argparse.Namespace, out: TextIO) -> ClusterConfig:
    """Everything after argument checks; raises JoinError with a user-facing message."""
    progress = Progress(out)
    url = httpx.URL(args.server)
    host, port = url.host, url.port or 443
    state_dir = Path(args.state_dir).absolute()
    previous = check_state_dir(state_dir, args.node_name)
    with progress.step(f"discovering the cluster at {args.server}") as step:
        ca_pem, settings = discover(args.server, args.token, args.ca_cert_hash)
        step.done(f"CA {ca_cert_hash(ca_pem)[:19]}... matches --ca-cert-hash")
    settings["port"] = port  # the address we were given is the one that works from here
    if args.backend:
        settings["backend"] = args.backend
    node_ip = args.node_ip or source_address(host, port)
    cfg = ClusterConfig(state_dir=state_dir, **settings, control_plane_address=host,
                        node_name=args.node_name, node_ip=node_ip)
    node = cluster_nodes(cfg)[0]
    with progress.step(f"requesting the credential of system:node:{node.name}") as step:
        token, kept = node_credential(args.server, args.token, ca_pem, node)
        step.done("kept from the earlier join" if kept else "issued")
    if previous is not None and stop_components(previous, out):
        progress.note("stopped what the earlier join of this machine left running")
    state_dir.mkdir(parents=True, exist_ok=True)
    cfg.marker.write_text("minik node state (`minik join`): `minik down` deletes this directory\n")
    cfg.save()
    kubeconfig.merge_context(node.kubeconfig, CONTEXT_NAME, args.server, token, ca_pem)
    node.manifests.mkdir(parents=True, exist_ok=True)
    progress.note(f"node kubeconfig {node.kubeconfig}; config {cfg.saved_path}")
    try:
        if not args.no_service and systemd_running():
            install(cfg, args.unit_dir, out, start=True)
        else:
            start_components(cfg, node_components(node), progress)
            start_component(cfg, SUPERVISOR, progress)
    except (UpError, RuntimeError, OSError) as error:
        stop_components(cfg, out)  # the logs stay for `minik logs`
        raise JoinError(f"{error}\nlogs are in {cfg.state_dir / 'logs'}; `minik down --state-dir {state_dir}` "
                        "removes everything") from error
    with progress.step(f"waiting for node {node.name} to be Ready") as step, \
            Client(args.server, token=token, ca_data=ca_pem) as client:
        if not wait_until(lambda: _ready(client, node.name), args.wait, interval=0.5):
            raise JoinError(f"node {node.name} not Ready after {args.wait:.0f}s; see "
                            f"`minik logs --state-dir {state_dir} {node.name}/kubelet`")
        step.done(f"{node.name} ({node_ip})")
    return cfg


def _ready(client: Client, name: str) -> bool:
    try:
        return nodes_ready(client, [name])
    except (StatusError, ConnectionFailed):
        return False


SUCCESS = """
This node has joined the cluster:
* The cluster CA matched --ca-cert-hash and this node got its own credential (user system:node:{name}).
* The runtime, network agent, kubelet and proxy run here {how}.

Run 'minictl get nodes' on the control-plane to see this node join the cluster.
`minik down --state-dir {state}` on this machine removes the node's processes and state again.
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="minik join", description="Add this machine to a cluster as a node.")
    parser.add_argument("--server", required=True, help="the apiserver, https://IP:PORT (from `minik token create`)")
    parser.add_argument("--token", required=True, help="a bootstrap token <id>.<secret>")
    parser.add_argument("--ca-cert-hash", required=True, help="sha256:<hex> of the cluster CA's public key")
    parser.add_argument("--node-name", default=socket.gethostname().lower(), help="default: the hostname")
    parser.add_argument("--node-ip", help="this node's address (default: the one that reaches the server)")
    parser.add_argument("--state-dir", type=Path, default=default_state_dir(),
                        help="where this node's files live (default: $MINIK_STATE_DIR or /var/lib/minik)")
    parser.add_argument("--backend", choices=BACKENDS, help="pod network backend (default: the cluster's)")
    parser.add_argument("--no-service", action="store_true",
                        help="run the components as supervised processes even where systemd runs")
    parser.add_argument("--unit-dir", type=Path, default=UNIT_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--wait", type=float, default=180.0, metavar="SECONDS",
                        help="how long to wait for the node to be Ready (default 180)")
    args = parser.parse_args(argv)
    try:
        parse_bootstrap_token(args.token)
    except ValueError as error:
        parser.error(str(error))
    if not HASH_PATTERN.match(args.ca_cert_hash.lower()):
        parser.error(f'--ca-cert-hash "{args.ca_cert_hash}" is not of the form sha256:<64 hex digits>')
    url = httpx.URL(args.server) if "://" in args.server else None
    if url is None or url.scheme != "https" or not url.host:
        parser.error(f'--server "{args.server}" is not an https:// URL')
    problems = validate_dns1123_subdomain(args.node_name)
    if problems:
        parser.error(f'--node-name "{args.node_name}": {"; ".join(problems)}')
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        cfg = join(args, sys.stdout)
    except JoinError as error:
        print(f"minik: {error}", file=sys.stderr)
        return 1
    except (PermissionError, kubeconfig.ConfigError) as error:
        print(f"minik: {error}", file=sys.stderr)
        return 1
    how = ("as systemd services (minik-*.service)" if not args.no_service and systemd_running()
           else "as background processes kept alive by `minik supervise`")
    print(SUCCESS.format(name=cfg.node_name, how=how, state=cfg.state_dir), end="")
    return 0
