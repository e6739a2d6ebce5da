"""`minik dns` against the real apiserver: names appear and disappear with Services."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from dnslib import RCODE, DNSRecord

from tests.util import free_port, wait_for


@pytest.fixture
def dns(apiserver: Any) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "minik", "dns", "--kubeconfig", str(apiserver.kubeconfig),
                             "--context", "minik", "--listen", f"127.0.0.1:{port}", "--upstream", "none"])
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def query(port: int, name: str) -> DNSRecord | None:
    try:
        return DNSRecord.parse(DNSRecord.question(name).send("127.0.0.1", port, timeout=1))
    except OSError:
        return None  # not listening yet


def answers(port: int, name: str) -> list[str]:
    reply = query(port, name)
    return [str(rr.rdata) for rr in reply.rr] if reply else []


def test_service_names_resolve(dns: int, apiserver: Any, ns: str) -> None:
    with apiserver.http() as http:
        created = http.post(f"/api/v1/namespaces/{ns}/services", json={
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}).json()
        ip = created["spec"]["clusterIP"]
        name = f"web.{ns}.svc.cluster.local"
        wait_for(lambda: answers(dns, name) == [ip], timeout=30, message=f"{name} -> {ip}")
        reply = query(dns, f"missing.{ns}.svc.cluster.local")
        assert reply is not None and reply.header.rcode == RCODE.NXDOMAIN
        reply = query(dns, "example.org")
        assert reply is not None and reply.header.rcode == RCODE.REFUSED  # --upstream none: no traffic out
        http.delete(f"/api/v1/namespaces/{ns}/services/web")
        wait_for(lambda: (r := query(dns, name)) is not None and r.header.rcode == RCODE.NXDOMAIN, timeout=30,
                 message=f"{name} gone")
