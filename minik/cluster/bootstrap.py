"""`minik token create|list|delete`: bootstrap tokens for adding machines, like `kubeadm token`.

`create` records a token `<id>.<secret>` (see tokens.py for where) and publishes what a joining
machine needs to find and trust the cluster, as kubeadm's bootstrap-token phase does:
- ConfigMap kube-public/cluster-info: a kubeconfig with the server URL and the CA, readable by anyone;
  the joiner checks the CA against the `--ca-cert-hash` it was given before trusting anything else;
- ConfigMap kube-system/minik-config: the ports and ranges the node components need (kubeadm-config's
  role), readable with a bootstrap token.
It then prints the `minik join` command for the host's primary address (`--advertise-address`).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import ipaddress
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml
from cryptography import x509

from minik.api.errors import AlreadyExistsError, StatusError
from minik.api.resources import Resource, lookup
from minik.apiserver.auth import CLUSTER_CONFIG, CLUSTER_INFO
from minik.apiserver.printers import human_duration
from minik.client import kubeconfig
from minik.client.rest import Client, ConnectionFailed
from minik.cluster.config import CONTEXT_NAME, ClusterConfig, default_state_dir, load_saved
from minik.cluster.pki import ca_cert_hash, primary_address
from minik.cluster.tokens import (
    DEFAULT_TTL,
    BootstrapToken,
    create_bootstrap_token,
    delete_bootstrap_token,
    format_time,
    list_bootstrap_tokens,
    parse_bootstrap_token,
    parse_ttl,
)

CLUSTER_CONFIG_KEY = "cluster.json"
# The ClusterConfig fields a joining machine takes from the control plane (the rest are its own).
SHARED_FIELDS = ("port", "registry_port", "kubelet_port", "pod_cidr", "service_cidr", "node_port_range", "backend")


class BootstrapError(RuntimeError):
    """A user-facing failure of `minik token`."""


def _configmaps() -> Resource:
    found = lookup("configmaps")
    assert found is not None
    return found


def cluster_info_kubeconfig(server: str, ca_pem: bytes) -> str:
    """cluster-info's `kubeconfig` key: one nameless cluster, no users (kubeadm writes the same)."""
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "", "cluster": {
            "certificate-authority-data": base64.b64encode(ca_pem).decode(), "server": server}}],
        "contexts": None,
        "current-context": "",
        "preferences": {},
        "users": None,
    }  # fmt: skip
    return yaml.safe_dump(config, sort_keys=False)


def cluster_info(server: str, ca_pem: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CLUSTER_INFO[1], "namespace": CLUSTER_INFO[0]},
        "data": {"kubeconfig": cluster_info_kubeconfig(server, ca_pem)},
    }


def parse_cluster_info(obj: dict[str, Any]) -> tuple[str, bytes]:
    """(server, CA PEM) from a cluster-info ConfigMap; ValueError when it is not one."""
    text = (obj.get("data") or {}).get("kubeconfig")
    if not isinstance(text, str):
        raise ValueError("the cluster-info ConfigMap has no kubeconfig key")
    config = yaml.safe_load(text)
    clusters = config.get("clusters") if isinstance(config, dict) else None
    if not isinstance(clusters, list) or not clusters or not isinstance(clusters[0], dict):
        raise ValueError("the kubeconfig in cluster-info names no cluster")
    cluster = clusters[0].get("cluster") or {}
    try:
        ca_pem = base64.b64decode(str(cluster.get("certificate-authority-data", "")), validate=True)
    except ValueError as error:
        raise ValueError(f"the CA in cluster-info is not base64: {error}") from error
    if not ca_pem:
        raise ValueError("cluster-info carries no CA")
    return str(cluster.get("server", "")), ca_pem


def cluster_config_map(cfg: ClusterConfig) -> dict[str, Any]:
    shared = {name: getattr(cfg, name) for name in SHARED_FIELDS}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CLUSTER_CONFIG[1], "namespace": CLUSTER_CONFIG[0]},
        "data": {CLUSTER_CONFIG_KEY: json.dumps(shared, indent=2, sort_keys=True) + "\n"},
    }


def parse_cluster_config(obj: dict[str, Any]) -> dict[str, Any]:
    """The shared ClusterConfig fields from minik-config (unknown keys ignored)."""
    text = (obj.get("data") or {}).get(CLUSTER_CONFIG_KEY)
    fields = json.loads(text) if isinstance(text, str) else None
    if not isinstance(fields, dict):
        raise ValueError(f"the {CLUSTER_CONFIG[1]} ConfigMap has no {CLUSTER_CONFIG_KEY} object")
    return {name: fields[name] for name in SHARED_FIELDS if name in fields}


def _apply(client: Client, body: dict[str, Any]) -> None:
    """Create, or replace the data of, a ConfigMap."""
    resource = _configmaps()
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    try:
        client.create(resource, body, namespace)
    except AlreadyExistsError:
        current = client.get(resource, name, namespace)
        if current.get("data") != body["data"]:
            current["data"] = body["data"]
            client.update(resource, current)


def publish(cfg: ClusterConfig, server: str) -> None:
    """cluster-info and minik-config, up to date with this control plane."""
    ca_pem = cfg.pki.ca_cert.read_bytes()
    with Client.from_kubeconfig(cfg.admin_kubeconfig, CONTEXT_NAME) as client:
        _apply(client, cluster_info(server, ca_pem))
        _apply(client, cluster_config_map(cfg))


def cert_names(cert_path: Path) -> set[str]:
    """The IPs and DNS names a serving certificate is valid for."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    return names | set(sans.get_values_for_type(x509.DNSName))


def join_command(server: str, token: str, ca_hash: str) -> str:
    return f"minik join --server {server} --token {token} --ca-cert-hash {ca_hash}"


def control_plane(state_dir: Path) -> ClusterConfig:
    cfg = load_saved(state_dir.absolute())
    if cfg is None or not cfg.marker.exists():
        raise BootstrapError(f"no cluster in {state_dir}: `minik token` runs on the control plane, after `minik up`")
    if cfg.joined:
        raise BootstrapError(f"{state_dir} is a joined node ({cfg.node_name}); run `minik token` on the control plane")
    return cfg


def create(cfg: ClusterConfig, ttl: str, description: str, address: str | None, join_only: bool, out: TextIO) -> None:
    try:
        lifetime = parse_ttl(ttl)
    except ValueError as error:
        raise BootstrapError(str(error)) from error
    advertise = address or primary_address()
    try:
        host = ipaddress.ip_address(advertise)
    except ValueError as error:
        raise BootstrapError(f"--advertise-address {advertise!r} is not an IP address") from error
    server = f"https://{host if host.version == 4 else f'[{host}]'}:{cfg.port}"
    try:
        publish(cfg, server)
    except (StatusError, ConnectionFailed, kubeconfig.ConfigError, OSError) as error:
        raise BootstrapError(f"publishing cluster-info: {error} (is the cluster running? `minik status`)") from error
    token = create_bootstrap_token(cfg.token_file, lifetime, description)
    command = join_command(server, token.token, ca_cert_hash(cfg.pki.ca_cert.read_bytes()))
    if str(host) not in cert_names(cfg.pki.apiserver_cert):
        print(f"minik: warning: the apiserver's certificate does not name {host}; a join through it will fail "
              "TLS verification (pick one of the host's addresses with --advertise-address)", file=sys.stderr)
    if join_only:
        print(command, file=out)
        return
    print(token.token, file=out)
    expiry = f"expires {format_time(token.expiration)}" if token.expiration else "never expires"
    print(f"\nThe token {expiry}. On each machine to add, as root:\n  {command}", file=out)


def list_tokens(cfg: ClusterConfig, out: TextIO) -> None:
    """kubeadm's table: TOKEN, TTL, EXPIRES, USAGES, DESCRIPTION, EXTRA GROUPS."""
    rows = [("TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS")]
    rows += [_row(token) for token in list_bootstrap_tokens(cfg.token_file)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)


def _row(token: BootstrapToken) -> tuple[str, str, str, str, str, str]:
    if token.expiration is None:
        ttl, expires = "<forever>", "<never>"
    else:
        left = (token.expiration - datetime.datetime.now(datetime.UTC)).total_seconds()
        ttl, expires = ("<invalid>" if left <= 0 else human_duration(left)), format_time(token.expiration)
    return token.token, ttl, expires, "authentication", token.description or "<none>", "system:bootstrappers"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="minik token", description="Manage bootstrap tokens for `minik join`.")
    parser.add_argument("--state-dir", type=Path, default=default_state_dir(),
                        help="the control plane's state dir (default: $MINIK_STATE_DIR or /var/lib/minik)")
    sub = parser.add_subparsers(dest="action", required=True)
    new = sub.add_parser("create", help="create a token and print the join command")
    new.add_argument("--ttl", default=f"{int(DEFAULT_TTL.total_seconds() // 3600)}h",
                     help="how long the token is valid, e.g. 24h, 30m; 0 never expires (default 24h)")
    new.add_argument("--description", default="", help="a note shown by `minik token list`")
    new.add_argument("--advertise-address", help="the address joining machines reach the apiserver at "
                     "(default: this host's primary address)")
    new.add_argument("--print-join-command", action="store_true", help="print only the `minik join` line")
    sub.add_parser("list", help="list bootstrap tokens")
    remove = sub.add_parser("delete", help="delete bootstrap tokens (by id or whole token)")
    remove.add_argument("tokens", nargs="+", metavar="TOKEN")
    for child in sub.choices.values():  # `minik token create --state-dir S` reads naturally too
        child.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        cfg = control_plane(args.state_dir)
        if args.action == "create":
            create(cfg, args.ttl, args.description, args.advertise_address, args.print_join_command, sys.stdout)
        elif args.action == "list":
            list_tokens(cfg, sys.stdout)
        else:
            for text in args.tokens:
                token_id = parse_bootstrap_token(text)[0] if "." in text else text
                if not delete_bootstrap_token(cfg.token_file, token_id):
                    raise BootstrapError(f'bootstrap token "{token_id}" not found')
                print(f'bootstrap token "{token_id}" deleted')
    except (BootstrapError, ValueError, PermissionError) as error:
        print(f"minik: {error}", file=sys.stderr)
        return 1
    return 0
