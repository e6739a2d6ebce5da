"""The `kubernetes` Service in `default` and its Endpoints: the apiserver publishes (and keeps
publishing) its advertise address and secure port, so pods reach it at 10.96.0.1:443."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from minik.apiserver.main import default_advertise_address
from tests.util import wait_for

ENDPOINTS = "/api/v1/namespaces/default/endpoints/kubernetes"


def _addresses(http: httpx.Client) -> list[tuple[str, int]] | None:
    """[(ip, port)] from the kubernetes Endpoints, None while there are none."""
    r = http.get(ENDPOINTS)
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return [(a["ip"], p["port"]) for s in r.json().get("subsets") or [] for a in s.get("addresses") or []
            for p in s.get("ports") or []]


def test_endpoints_carry_the_advertise_address_and_come_back(apiserver_factory: Callable[..., Any]) -> None:
    server = apiserver_factory("--advertise-address", "192.0.2.77")
    port = urlsplit(server.url).port
    mine = [("192.0.2.77", port)]
    with server.http() as http:
        service = http.get("/api/v1/namespaces/default/services/kubernetes").json()
        assert service["spec"]["clusterIP"] == "10.96.0.1"
        assert service["spec"]["ports"][0]["port"] == 443 and service["spec"]["ports"][0]["targetPort"] == port
        assert wait_for(lambda: _addresses(http) == mine, message="the kubernetes Endpoints published")
        endpoints = http.get(ENDPOINTS).json()
        assert endpoints["subsets"] == [{"addresses": [{"ip": "192.0.2.77"}],
                                         "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]
        assert endpoints["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}

        endpoints["subsets"][0]["addresses"] = [{"ip": "192.0.2.99"}]
        r = http.put(ENDPOINTS, json=endpoints)
        assert r.status_code == 200, r.text
        wait_for(lambda: _addresses(http) == mine, message="a changed kubernetes Endpoints set right again")

        assert http.delete(ENDPOINTS).status_code == 200
        wait_for(lambda: _addresses(http) == mine, message="a deleted kubernetes Endpoints created again")

        assert http.delete("/api/v1/namespaces/default/services/kubernetes").status_code == 200
        wait_for(lambda: http.get("/api/v1/namespaces/default/services/kubernetes").status_code == 200,
                 timeout=30, message="a deleted kubernetes Service created again")


def test_loopback_advertise_address_publishes_no_endpoints(apiserver_factory: Callable[..., Any]) -> None:
    server = apiserver_factory("--advertise-address", "127.0.0.1")
    with server.http() as http:
        assert http.get("/api/v1/namespaces/default/services/kubernetes").status_code == 200
        assert _addresses(http) is None


def test_default_advertise_address_is_the_default_route_interfaces(apiserver: Any) -> None:
    address = default_advertise_address()
    port = urlsplit(apiserver.url).port
    with apiserver.http() as http:
        if address == "127.0.0.1":  # a host without a default route publishes none
            assert _addresses(http) is None
        else:
            assert wait_for(lambda: _addresses(http) == [(address, port)], message="the default address published")
