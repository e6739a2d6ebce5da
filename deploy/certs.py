"""Write a Docker Compose cluster's credentials into one shared directory (the `certs` service).

`minik up` makes these for a cluster on one host; under Compose every component is its own container,
so one one-shot container writes them into a volume the others mount read-only:

    pki/ca.crt, pki/ca.key, pki/apiserver.crt, pki/apiserver.key
    tokens.csv               admin row + `token,system:node:<node>,<uid>,"system:nodes"` per --node
    admin.kubeconfig         admin credential, server --server (for containers on the compose network)
    admin-local.kubeconfig   the same credential, server --local-server (the published port, for the host)
    <node>.kubeconfig        each node's own credential, server --server

Re-running keeps the CA and every token, so kubeconfigs copied out earlier stay valid; only the
apiserver serving certificate is re-issued (as `minik up` does).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minik.client.kubeconfig import merge_context
from minik.cluster.pki import DEFAULT_SERVICE_CIDR, ensure_pki
from minik.cluster.tokens import ensure_node_token, ensure_token_file

CONTEXT = "minik"


def write_credentials(
    directory: Path,
    server: str,
    nodes: list[str],
    sans: list[str],
    local_server: str | None = None,
    service_cidr: str = DEFAULT_SERVICE_CIDR,
) -> None:
    """Everything the compose services mount: PKI, token file, admin and per-node kubeconfigs."""
    pki = ensure_pki(directory / "pki", service_cidr, extra_sans=sans)
    ca_data = pki.ca_cert.read_bytes()
    token_file = directory / "tokens.csv"
    admin = ensure_token_file(token_file)
    merge_context(directory / "admin.kubeconfig", CONTEXT, server, admin, ca_data)
    if local_server:
        merge_context(directory / "admin-local.kubeconfig", CONTEXT, local_server, admin, ca_data)
    for node in nodes:
        merge_context(directory / f"{node}.kubeconfig", CONTEXT, server, ensure_node_token(token_file, node), ca_data)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deploy/certs.py", description="write a compose cluster's credentials")
    p.add_argument("--dir", type=Path, required=True, help="the shared credentials directory")
    p.add_argument("--server", required=True, help="apiserver URL inside the compose network")
    p.add_argument("--local-server", help="apiserver URL from the host (admin-local.kubeconfig)")
    p.add_argument("--san", action="append", default=[], help="extra apiserver certificate name or IP (repeatable)")
    p.add_argument("--node", action="append", default=[], help="node name to make a credential for (repeatable)")
    p.add_argument("--service-cidr", default=DEFAULT_SERVICE_CIDR, help="service range (its first IP goes in the SANs)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    write_credentials(args.dir, args.server, list(args.node), list(args.san), args.local_server, args.service_cidr)
    print(f"credentials for {', '.join(['admin', *args.node])} in {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
