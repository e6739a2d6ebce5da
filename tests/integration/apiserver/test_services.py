"""Services get a ClusterIP from the service CIDR and NodePorts from the range, never twice."""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx


def svc(name: str, type_: str = "ClusterIP", **port: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": type_, "selector": {"app": name}, "ports": [{"port": 80, **port}]}}


def test_cluster_ip_and_defaults(http: httpx.Client, ns: str) -> None:
    r = http.post(f"/api/v1/namespaces/{ns}/services", json=svc("web", targetPort=8080))
    assert r.status_code == 201, r.text
    spec = r.json()["spec"]
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network("10.96.0.0/12")
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ports"][0]["protocol"] == "TCP" and spec["sessionAffinity"] == "None"


def test_node_port_allocated_and_released(http: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/services"
    r = http.post(url, json=svc("np", "NodePort", nodePort=30080))
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["ports"][0]["nodePort"] == 30080
    r = http.post(url, json=svc("np2", "NodePort", nodePort=30080))
    assert r.status_code == 422 and "provided port is already allocated" in r.json()["message"]
    r = http.post(url, json=svc("np3", "NodePort", nodePort=80))
    assert r.status_code == 422 and "30000-32767" in r.json()["message"]
    auto = http.post(url, json=svc("np4", "NodePort")).json()["spec"]["ports"][0]["nodePort"]
    assert 30000 <= auto <= 32767
    http.delete(f"{url}/np")
    r = http.post(url, json=svc("np5", "NodePort", nodePort=30080))
    assert r.status_code == 201, r.text


def test_explicit_cluster_ip_conflict(http: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/services"
    body = svc("fixed")
    body["spec"]["clusterIP"] = "10.96.100.100"
    assert http.post(url, json=body).status_code == 201
    body["metadata"]["name"] = "fixed2"
    r = http.post(url, json=body)
    assert r.status_code == 422 and "already allocated" in r.json()["message"]
    body["spec"]["clusterIP"] = "192.168.0.1"
    r = http.post(url, json=body)
    assert r.status_code == 422 and "not in the valid range" in r.json()["message"]
    # cluster IPs are immutable
    got = http.get(f"{url}/fixed").json()
    got["spec"]["clusterIP"] = "10.96.100.101"
    r = http.put(f"{url}/fixed", json=got)
    assert r.status_code == 422 and "spec.clusterIP" in r.json()["message"]
    assert http.get(f"{url}/fixed").json()["spec"]["clusterIP"] == "10.96.100.100"


def test_concurrent_creates_get_unique_ips(http: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/services"

    def create(i: int) -> dict[str, Any]:
        r = http.post(url, json=svc(f"c{i}", "NodePort"))
        assert r.status_code == 201, r.text
        spec: dict[str, Any] = r.json()["spec"]
        return spec

    with ThreadPoolExecutor(8) as pool:
        specs = list(pool.map(create, range(40)))
    ips = [s["clusterIP"] for s in specs]
    ports = [s["ports"][0]["nodePort"] for s in specs]
    assert len(set(ips)) == 40 and len(set(ports)) == 40


def test_kubernetes_service_exists(http: httpx.Client) -> None:
    spec = http.get("/api/v1/namespaces/default/services/kubernetes").json()["spec"]
    assert spec["clusterIP"] == "10.96.0.1" and spec["ports"][0]["port"] == 443
