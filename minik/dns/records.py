"""The cluster's DNS records, derived from Services and Endpoints (the kube-dns schema).

`<svc>.<ns>.svc.<domain>` answers the ClusterIP, or, for a headless Service, the ready endpoint
addresses; `<hostname>.<svc>.<ns>.svc.<domain>` names one endpoint of a headless Service;
`_<port>._<proto>.<svc>.<ns>.svc.<domain>` answers SRV records; `a-b-c-d.<ns>.pod.<domain>` answers
the address it spells.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Srv:
    port: int
    target: str


@dataclass
class Answer:
    addresses: list[str] = field(default_factory=list)
    srv: list[Srv] = field(default_factory=list)


def _fqdn(*parts: str) -> str:
    return ".".join(p.strip(".").lower() for p in parts if p) + "."


class Records:
    """Thread-safe name table, rebuilt per Service when it or its Endpoints change."""

    def __init__(self, domain: str = "cluster.local") -> None:
        self.domain = domain.strip(".").lower()
        self._lock = threading.Lock()
        self._services: dict[tuple[str, str], Obj] = {}
        self._endpoints: dict[tuple[str, str], Obj] = {}
        self._names: dict[str, Answer] = {}
        self._by_service: dict[tuple[str, str], set[str]] = {}

    @staticmethod
    def _key(obj: Obj) -> tuple[str, str]:
        meta = obj.get("metadata") or {}
        return str(meta.get("namespace") or "default"), str(meta.get("name") or "")

    def set_service(self, svc: Obj | None, key: tuple[str, str] | None = None) -> None:
        with self._lock:
            k = key or self._key(svc or {})
            if svc is None:
                self._services.pop(k, None)
            else:
                self._services[k] = svc
            self._rebuild(k)

    def set_endpoints(self, ep: Obj | None, key: tuple[str, str] | None = None) -> None:
        with self._lock:
            k = key or self._key(ep or {})
            if ep is None:
                self._endpoints.pop(k, None)
            else:
                self._endpoints[k] = ep
            self._rebuild(k)

    def _rebuild(self, key: tuple[str, str]) -> None:
        for name in self._by_service.pop(key, set()):
            self._names.pop(name, None)
        svc = self._services.get(key)
        if svc is None:
            return
        ns, name = key
        base = _fqdn(name, ns, "svc", self.domain)
        spec = svc.get("spec") or {}
        names: dict[str, Answer] = {}
        ready = self._ready_addresses(self._endpoints.get(key))
        cluster_ip = spec.get("clusterIP")
        if spec.get("type") == "ExternalName":
            return  # CNAMEs to outside names are not served
        if cluster_ip and cluster_ip != "None":
            names[base] = Answer([str(cluster_ip)])
            targets = [base]
        else:
            names[base] = Answer([ip for ip, _ in ready])
            targets = []
            for ip, hostname in ready:
                if hostname:
                    host = _fqdn(hostname, name, ns, "svc", self.domain)
                    names.setdefault(host, Answer()).addresses.append(ip)
                    targets.append(host)
        for port in spec.get("ports") or []:
            if not isinstance(port, dict) or not port.get("name"):
                continue
            proto = str(port.get("protocol") or "TCP").lower()
            srv_name = _fqdn(f"_{port['name']}", f"_{proto}", name, ns, "svc", self.domain)
            names[srv_name] = Answer(srv=[Srv(int(port.get("port") or 0), t) for t in targets or [base]])
        self._names.update(names)
        self._by_service[key] = set(names)

    @staticmethod
    def _ready_addresses(ep: Obj | None) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for subset in (ep or {}).get("subsets") or []:
            for addr in subset.get("addresses") or []:
                if isinstance(addr, dict) and addr.get("ip"):
                    out.append((str(addr["ip"]), addr.get("hostname")))
        return out

    def lookup(self, qname: str) -> Answer | None:
        """The answer for a fully qualified name, or None when the name does not exist."""
        name = qname.lower() if qname.endswith(".") else qname.lower() + "."
        pod_suffix = f".pod.{self.domain}."
        if name.endswith(pod_suffix):
            label = name[: -len(pod_suffix)].split(".")[0]
            try:
                return Answer([str(ipaddress.IPv4Address(label.replace("-", ".")))])
            except ValueError:
                return None
        with self._lock:
            found = self._names.get(name)
            return Answer(list(found.addresses), list(found.srv)) if found else None

    def in_zone(self, qname: str) -> bool:
        name = qname.lower().rstrip(".")
        return name == self.domain or name.endswith("." + self.domain)
