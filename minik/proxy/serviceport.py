"""From Service and Endpoints objects to what the proxy programs: service ports and their endpoints.

Kept apart from rule rendering so that bad data is dropped here, once, with a reason: a Service
without a usable ClusterIP, a port without a number, an endpoint that is not an IPv4 address.
A port of a Service is matched to the Endpoints ports by name (and protocol), like kube-proxy.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PROTOCOLS = ("TCP", "UDP", "SCTP")
DEFAULT_AFFINITY_TIMEOUT = 10800  # seconds, Kubernetes' default for ClientIP affinity


@dataclass(frozen=True)
class ServicePortName:
    """namespace/name:port, the identity of one port of one Service (kube-proxy's ServicePortName)."""

    namespace: str
    name: str
    port: str  # the port's name; "" for a single unnamed port
    protocol: str

    def __str__(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port}" if self.port else base


@dataclass(frozen=True)
class ServicePort:
    """One port of a Service, with everything the rules need."""

    name: ServicePortName
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    affinity_timeout: int = 0  # seconds of ClientIP affinity; 0: none

    @property
    def protocol(self) -> str:
        return self.name.protocol


@dataclass(frozen=True, order=True)
class Endpoint:
    ip: str
    port: int

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


def _ipv4(value: Any) -> str | None:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        return None


def _affinity_timeout(spec: Obj) -> int:
    if spec.get("sessionAffinity") != "ClientIP":
        return 0
    config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
    timeout = config.get("timeoutSeconds")
    if isinstance(timeout, int) and 0 < timeout <= 86400:
        return timeout
    return DEFAULT_AFFINITY_TIMEOUT


def service_ports(service: Obj) -> list[ServicePort]:
    """The ports the proxy programs for a Service; [] for headless, ExternalName or broken ones."""
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    if not namespace or not name or spec.get("type") == "ExternalName":
        return []
    cluster_ip = _ipv4(spec.get("clusterIP"))
    if cluster_ip is None:  # headless ("None"), not allocated yet, or IPv6
        return []
    external_ips = tuple(ip for ip in (_ipv4(v) for v in spec.get("externalIPs") or []) if ip)
    node_port_types = ("NodePort", "LoadBalancer")
    affinity = _affinity_timeout(spec)
    ports: list[ServicePort] = []
    for port in spec.get("ports") or []:
        if not isinstance(port, dict):
            continue
        number, protocol = port.get("port"), str(port.get("protocol") or "TCP")
        if not isinstance(number, int) or not 0 < number < 65536 or protocol not in PROTOCOLS:
            log.warning("service %s/%s: skipping invalid port %r", namespace, name, port)
            continue
        node_port = port.get("nodePort") if spec.get("type") in node_port_types else 0
        ports.append(ServicePort(
            name=ServicePortName(namespace, name, str(port.get("name") or ""), protocol),
            cluster_ip=cluster_ip,
            port=number,
            node_port=node_port if isinstance(node_port, int) and 0 < node_port < 65536 else 0,
            external_ips=external_ips,
            affinity_timeout=affinity,
        ))
    return ports


def endpoints_by_port(endpoints: Obj) -> dict[ServicePortName, list[Endpoint]]:
    """Ready endpoints of an Endpoints object per service port, sorted and de-duplicated."""
    meta = endpoints.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    found: dict[ServicePortName, set[Endpoint]] = {}
    for subset in endpoints.get("subsets") or []:
        if not isinstance(subset, dict):
            continue
        ips = [ip for ip in (_ipv4((a or {}).get("ip")) for a in subset.get("addresses") or []) if ip]
        for port in subset.get("ports") or []:
            if not isinstance(port, dict):
                continue
            number, protocol = port.get("port"), str(port.get("protocol") or "TCP")
            if not isinstance(number, int) or not 0 < number < 65536 or protocol not in PROTOCOLS:
                continue
            key = ServicePortName(namespace, name, str(port.get("name") or ""), protocol)
            found.setdefault(key, set()).update(Endpoint(ip, number) for ip in ips)
    return {key: sorted(eps) for key, eps in found.items()}


@dataclass
class ProxyState:
    """The whole picture one sync renders: service ports and the ready endpoints of each."""

    ports: list[ServicePort]
    endpoints: Mapping[ServicePortName, list[Endpoint]]

    @classmethod
    def build(cls, services: Iterable[Obj], endpoints: Iterable[Obj]) -> ProxyState:
        ports = sorted((p for s in services for p in service_ports(s)), key=lambda p: str(p.name) + p.protocol)
        by_port: dict[ServicePortName, list[Endpoint]] = {}
        for ep in endpoints:
            by_port.update(endpoints_by_port(ep))
        return cls(ports, by_port)

    def endpoints_of(self, port: ServicePort) -> list[Endpoint]:
        return list(self.endpoints.get(port.name, ()))
