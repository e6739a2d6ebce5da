"""`minik apiserver`: flags, logging, and the uvicorn server."""

from __future__ import annotations

import argparse
import ipaddress
import logging

import uvicorn

from minik.apiserver.server import Config
from minik.logsetup import setup_logging


def _ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None


def default_advertise_address() -> str:
    """The address of the interface holding the default route, like kube-apiserver's choice (not "the
    first address": lab bridges come and go and may sort before it)."""
    from minik.cluster.pki import primary_address

    return primary_address()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="minik apiserver", description="The minik API server.")
    p.add_argument("--etcd-servers", default="http://127.0.0.1:2379", help="etcd endpoint")
    p.add_argument("--etcd-prefix", default="", help="prefix for every etcd key (test isolation)")
    p.add_argument("--bind-address", default="0.0.0.0")
    p.add_argument("--secure-port", type=int, default=6443)
    p.add_argument("--advertise-address", type=_ip_address, default=None,
                   help="address published in the `kubernetes` Endpoints "
                        "(default: the default route's interface address, else 127.0.0.1)")
    p.add_argument("--tls-cert-file", help="serving certificate; without it the server speaks plain HTTP")
    p.add_argument("--tls-private-key-file")
    p.add_argument("--token-auth-file", help="static token CSV: token,user,uid,\"group1,group2\"")
    p.add_argument("--service-cluster-ip-range", default="10.96.0.0/12")
    p.add_argument("--service-node-port-range", default="30000-32767")
    p.add_argument("--max-request-bytes", type=int, default=3 * 1024 * 1024)
    p.add_argument("--watch-cache-size", type=int, default=1000, help="events kept per resource")
    p.add_argument("--bookmark-interval", type=float, default=30.0, help="seconds between watch bookmarks")
    p.add_argument("--v", "--log-level", dest="log_level", default="info")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    level = getattr(logging, str(args.log_level).upper(), logging.INFO)
    setup_logging(level)
    cfg = Config(etcd_servers=args.etcd_servers, etcd_prefix=args.etcd_prefix,
                 service_cidr=args.service_cluster_ip_range, node_port_range=args.service_node_port_range,
                 max_request_bytes=args.max_request_bytes, watch_cache_size=args.watch_cache_size,
                 bookmark_interval=args.bookmark_interval, token_auth_file=args.token_auth_file,
                 advertise_address=args.advertise_address or default_advertise_address(),
                 secure_port=args.secure_port)
    from minik.apiserver.app import create_app
    from minik.kubelet.streams import UVICORN_WS

    app = create_app(cfg)
    uvicorn.run(app, host=args.bind_address, port=args.secure_port, ssl_certfile=args.tls_cert_file,
                ssl_keyfile=args.tls_private_key_file, log_level="warning", access_log=False,
                timeout_graceful_shutdown=3, loop="uvloop", http="httptools", ws=UVICORN_WS)
    return 0
