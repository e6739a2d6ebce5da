"""Service environment variables (the kubelet's envvars package and getServiceEnvVarMap).

Every container learns the Services of its pod's namespace the Docker-links way Kubernetes keeps
for compatibility: `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT` (first port), `<NAME>_SERVICE_PORT_<PORT
NAME>` (named ports), `<NAME>_PORT` and `<NAME>_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}`. Pods with
`enableServiceLinks: false` get only the `kubernetes` Service from `default` (KUBERNETES_SERVICE_HOST
and friends, which in-cluster clients read); every pod gets that one.
"""

from __future__ import annotations

from collections.abc import Iterable

from minik.kubelet.types import Obj

MASTER_SERVICES = frozenset({"kubernetes"})
NAMESPACE_DEFAULT = "default"


def make_env_variable_name(name: str) -> str:
    return name.replace("-", "_").upper()


def is_service_ip_set(service: Obj) -> bool:
    cluster_ip = str((service.get("spec") or {}).get("clusterIP") or "")
    return cluster_ip not in ("", "None")


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def from_services(services: Iterable[Obj]) -> list[tuple[str, str]]:
    """envvars.FromServices: the variables for each Service with a cluster IP, in Kubernetes' order."""
    result: list[tuple[str, str]] = []
    for service in services:
        spec = service.get("spec") or {}
        ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
        if not is_service_ip_set(service) or not ports:
            continue
        prefix = make_env_variable_name(str((service.get("metadata") or {}).get("name") or ""))
        cluster_ip = str(spec["clusterIP"])
        result.append((f"{prefix}_SERVICE_HOST", cluster_ip))
        result.append((f"{prefix}_SERVICE_PORT", str(ports[0].get("port"))))
        for port in ports:
            if port.get("name"):
                result.append((f"{prefix}_SERVICE_PORT_{make_env_variable_name(str(port['name']))}",
                               str(port.get("port"))))
        result += _make_link_variables(prefix, cluster_ip, ports)
    return result


def _make_link_variables(prefix: str, cluster_ip: str, ports: list[Obj]) -> list[tuple[str, str]]:
    """The Docker-link variables: `<NAME>_PORT` for the first port, a group per port."""
    out: list[tuple[str, str]] = []
    for index, port in enumerate(ports):
        protocol = str(port.get("protocol") or "TCP")
        number = int(port.get("port") or 0)
        url = f"{protocol.lower()}://{_join_host_port(cluster_ip, number)}"
        if index == 0:
            out.append((f"{prefix}_PORT", url))
        port_prefix = f"{prefix}_PORT_{number}_{protocol.upper()}"
        out += [(port_prefix, url), (f"{port_prefix}_PROTO", protocol.lower()),
                (f"{port_prefix}_PORT", str(number)), (f"{port_prefix}_ADDR", cluster_ip)]
    return out


def service_env_var_map(services: Iterable[Obj], namespace: str, enable_service_links: bool) -> dict[str, str]:
    """getServiceEnvVarMap: the pod's namespace's Services (with service links) plus `kubernetes` from
    `default`; a Service of the pod's own namespace wins over a master Service of the same name."""
    chosen: dict[str, Obj] = {}
    for service in services:
        if not is_service_ip_set(service):
            continue
        meta = service.get("metadata") or {}
        name, service_namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
        if service_namespace == NAMESPACE_DEFAULT and name in MASTER_SERVICES:
            chosen.setdefault(name, service)
        elif service_namespace == namespace and enable_service_links:
            chosen[name] = service
    return dict(from_services(chosen[name] for name in sorted(chosen)))
