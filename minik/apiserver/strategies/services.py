"""Services: a ClusterIP from the service CIDR and NodePorts from the node-port range."""

from __future__ import annotations

import copy
from typing import Any

from minik.api import errors
from minik.api.errors import invalid
from minik.apiserver.allocator import IPAllocator, PortAllocator
from minik.apiserver.strategy import Strategy

Obj = dict[str, Any]


def _wants_node_ports(spec: Obj) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


class ServiceStrategy(Strategy):
    fills = True
    def __init__(self, resource: Any, ips: IPAllocator, ports: PortAllocator) -> None:
        super().__init__(resource)
        self.ips = ips
        self.ports = ports

    def claims_of(self, obj: Obj) -> list[str]:
        spec = obj.get("spec") or {}
        out = []
        ip = spec.get("clusterIP")
        if ip and ip != "None" and self.ips.contains(ip):
            out.append(self.ips.key(ip))
        for p in spec.get("ports") or []:
            if isinstance(p, dict) and p.get("nodePort"):
                out.append(self.ports.key(int(p["nodePort"])))
        return out

    async def allocate(self, obj: Obj, old: Obj | None) -> tuple[list[str], list[str]]:
        """Fill clusterIP/nodePorts; return (claims to create, claims to release)."""
        spec = obj.setdefault("spec", {})
        name = obj.get("metadata", {}).get("name", "")
        old_spec = (old or {}).get("spec") or {}
        causes: list[errors.FieldError] = []
        claims: list[str] = []
        releases: list[str] = []

        if spec.get("type") == "ExternalName":
            return [], self.claims_of(old) if old else []

        # cluster IP: immutable once set (validation reports changes); allocate on create
        ip = spec.get("clusterIP")
        if old is not None and old_spec.get("clusterIP") and not ip:
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = copy.deepcopy(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
        elif old is None:
            if ip and ip != "None":
                if not self.ips.contains(ip):
                    causes.append(invalid("spec.clusterIPs[0]", ip,
                                          f"failed to allocate IP {ip}: the provided IP ({ip}) is not in "
                                          f"the valid range. The range of valid IPs is {self.ips.net}"))
                else:
                    claims.append(self.ips.key(ip))
            elif not ip:
                spec["clusterIP"] = ""  # filled by the registry from candidates
            if spec.get("clusterIP") and spec["clusterIP"] != "":
                spec["clusterIPs"] = [spec["clusterIP"]]

        # node ports
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                     for p in old_spec.get("ports") or [] if isinstance(p, dict)}
        held = {int(p) for p in old_ports.values() if p}
        wanted: set[int] = set()
        for i, p in enumerate(spec.get("ports") or []):
            if not isinstance(p, dict):
                continue
            if not _wants_node_ports(spec):
                if p.get("nodePort"):
                    causes.append(errors.forbidden(f"spec.ports[{i}].nodePort",
                                                   "may not be used when `type` is 'ClusterIP'"))
                continue
            np = p.get("nodePort")
            if not np:
                prev = old_ports.get((p.get("port"), p.get("protocol", "TCP")))
                if prev:
                    p["nodePort"] = prev
                    np = prev
            if np:
                np = int(np)
                if not self.ports.contains(np):
                    causes.append(invalid(f"spec.ports[{i}].nodePort", np,
                                          f"provided port is not in the valid range. The range of valid "
                                          f"ports is {self.ports.range_text()}"))
                    continue
                if np in wanted:
                    causes.append(errors.duplicate(f"spec.ports[{i}].nodePort", np))
                    continue
                wanted.add(np)
                if np not in held:
                    claims.append(self.ports.key(np))
        if causes:
            raise errors.invalid_object("Service", name, causes)
        releases = [self.ports.key(p) for p in held - wanted]
        return claims, releases

    async def fill(self, obj: Obj) -> list[str]:
        """Pick fresh values for an empty clusterIP and missing nodePorts; returns their claims."""
        spec = obj["spec"]
        claims: list[str] = []
        if spec.get("clusterIP") == "":
            ip = (await self.ips.candidates(1))[0]
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
            claims.append(self.ips.key(ip))
        if _wants_node_ports(spec):
            missing = [p for p in spec.get("ports") or [] if isinstance(p, dict) and not p.get("nodePort")]
            if missing:
                taken = {int(p["nodePort"]) for p in spec.get("ports") or []
                         if isinstance(p, dict) and p.get("nodePort")}
                free = [p for p in await self.ports.candidates(len(missing) + 8) if p not in taken]
                if len(free) < len(missing):
                    raise errors.InternalError("failed to allocate a nodePort: range is full")
                for p, port in zip(missing, free, strict=False):
                    p["nodePort"] = port
                    claims.append(self.ports.key(port))
        return claims
