"""`minik dns`: cluster DNS for Services, fed by informers on Services and Endpoints."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from dnslib.server import DNSServer

from minik.api.resources import lookup
from minik.client.informer import Informer
from minik.client.rest import Client
from minik.dns.records import Records
from minik.dns.resolver import ClusterResolver
from minik.logsetup import setup_logging

log = logging.getLogger(__name__)


def host_upstream(resolv_conf: Path = Path("/etc/resolv.conf")) -> tuple[str, int] | None:
    """The node's first nameserver, so pods resolve outside names like the node does."""
    try:
        for line in resolv_conf.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                return parts[1], 53
    except OSError:
        pass
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="minik dns", description="Cluster DNS for Services.")
    p.add_argument("--kubeconfig")
    p.add_argument("--context")
    p.add_argument("--listen", default="0.0.0.0:53", help="address:port to serve UDP and TCP on")
    p.add_argument("--cluster-domain", default="cluster.local")
    p.add_argument("--upstream", help="resolver for names outside the cluster domain (host:port); "
                                      "default: the first nameserver of /etc/resolv.conf; 'none' refuses them")
    p.add_argument("--v", "--log-level", dest="log_level", default="info")
    return p.parse_args(argv)


def wire(client: Client, records: Records) -> list[Informer]:
    """Informers that keep the records current."""
    services_r, endpoints_r = lookup("services"), lookup("endpoints")
    assert services_r is not None and endpoints_r is not None
    services = Informer(client, services_r)
    endpoints = Informer(client, endpoints_r)
    services.add_event_handler(on_add=records.set_service,
                               on_update=lambda _old, new: records.set_service(new),
                               on_delete=lambda obj: records.set_service(None, Records._key(obj)))
    endpoints.add_event_handler(on_add=records.set_endpoints,
                                on_update=lambda _old, new: records.set_endpoints(new),
                                on_delete=lambda obj: records.set_endpoints(None, Records._key(obj)))
    return [services, endpoints]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(getattr(logging, str(args.log_level).upper(), logging.INFO))
    host, _, port = args.listen.rpartition(":")
    upstream: tuple[str, int] | None
    if args.upstream == "none":
        upstream = None
    elif args.upstream:
        up_host, _, up_port = args.upstream.rpartition(":")
        upstream = (up_host or args.upstream, int(up_port) if up_host else 53)
    else:
        upstream = host_upstream()
    client = Client.from_kubeconfig(args.kubeconfig, args.context)
    records = Records(args.cluster_domain)
    informers = wire(client, records)
    for inf in informers:
        inf.start()
    resolver = ClusterResolver(records, upstream)
    servers: list[Any] = [DNSServer(resolver, address=host or "0.0.0.0", port=int(port), tcp=tcp)
                          for tcp in (False, True)]
    for s in servers:
        s.start_thread()
    log.info("serving cluster DNS for %s on %s (upstream %s)", args.cluster_domain, args.listen, upstream)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for s in servers:
        s.stop()
    for inf in informers:
        inf.stop()
    return 0
