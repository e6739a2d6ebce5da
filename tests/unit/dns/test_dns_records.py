"""Cluster DNS names from Services and Endpoints, and the resolver's answers."""

from __future__ import annotations

from typing import Any

from dnslib import QTYPE, RCODE, DNSRecord

from minik.dns.records import Records
from minik.dns.resolver import ClusterResolver


def svc(name: str, ns: str = "default", cluster_ip: str = "10.96.0.20", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": cluster_ip, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}], **spec}}


def ep(name: str, *addresses: dict[str, Any], ns: str = "default") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns},
            "subsets": [{"addresses": list(addresses), "notReadyAddresses": [{"ip": "10.244.9.9"}]}]}


def test_cluster_ip_service() -> None:
    r = Records()
    r.set_service(svc("web"))
    assert r.lookup("web.default.svc.cluster.local").addresses == ["10.96.0.20"]  # type: ignore[union-attr]
    assert r.lookup("WEB.default.svc.cluster.local.").addresses == ["10.96.0.20"]  # type: ignore[union-attr]
    srv = r.lookup("_http._tcp.web.default.svc.cluster.local")
    assert srv is not None and srv.srv[0].port == 80 and srv.srv[0].target == "web.default.svc.cluster.local."
    assert r.lookup("web.other.svc.cluster.local") is None
    r.set_service(None, ("default", "web"))
    assert r.lookup("web.default.svc.cluster.local") is None


def test_headless_service_answers_ready_pods() -> None:
    r = Records()
    r.set_service(svc("db", cluster_ip="None"))
    r.set_endpoints(ep("db", {"ip": "10.244.1.5", "hostname": "db-0"}, {"ip": "10.244.2.6"}))
    answer = r.lookup("db.default.svc.cluster.local")
    assert answer is not None and sorted(answer.addresses) == ["10.244.1.5", "10.244.2.6"]
    assert r.lookup("db-0.db.default.svc.cluster.local").addresses == ["10.244.1.5"]  # type: ignore[union-attr]
    r.set_endpoints(ep("db", {"ip": "10.244.2.6"}))
    assert r.lookup("db.default.svc.cluster.local").addresses == ["10.244.2.6"]  # type: ignore[union-attr]
    assert r.lookup("db-0.db.default.svc.cluster.local") is None


def test_pod_names() -> None:
    r = Records()
    assert r.lookup("10-244-1-5.default.pod.cluster.local").addresses == ["10.244.1.5"]  # type: ignore[union-attr]
    assert r.lookup("not-an-ip.default.pod.cluster.local") is None


def test_resolver_answers_and_refuses() -> None:
    r = Records()
    r.set_service(svc("web"))
    resolver = ClusterResolver(r, upstream=None)
    reply = resolver.resolve(DNSRecord.question("web.default.svc.cluster.local"), None)
    assert [str(a.rdata) for a in reply.rr] == ["10.96.0.20"] and reply.rr[0].ttl == 5
    reply = resolver.resolve(DNSRecord.question("nope.default.svc.cluster.local"), None)
    assert reply.header.rcode == RCODE.NXDOMAIN
    reply = resolver.resolve(DNSRecord.question("web.default.svc.cluster.local", "AAAA"), None)
    assert reply.header.rcode == RCODE.NOERROR and not reply.rr
    reply = resolver.resolve(DNSRecord.question("_http._tcp.web.default.svc.cluster.local", "SRV"), None)
    assert reply.rr[0].rtype == QTYPE.SRV
    reply = resolver.resolve(DNSRecord.question("example.org"), None)
    assert reply.header.rcode == RCODE.REFUSED
