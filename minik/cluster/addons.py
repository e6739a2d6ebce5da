"""What `minik up` puts into a fresh cluster besides its processes, like kubeadm's addons phase.

The kube-dns Service has no selector: its Endpoints name the DNS server on the control-plane
host, which answers on the lab address, so every node reaches it through the same ClusterIP.
"""

from __future__ import annotations

import sys
from typing import Any

from minik.api.errors import AlreadyExistsError
from minik.api.resources import require
from minik.client.rest import Client
from minik.cluster.config import CONTEXT_NAME, ClusterConfig

DNS_LABELS = {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}
DNS_PORTS = [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")]


def dns_service(cluster_ip: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": DNS_LABELS},
        "spec": {
            "clusterIP": cluster_ip,
            "ports": [{"name": n, "port": p, "protocol": proto, "targetPort": p} for n, p, proto in DNS_PORTS],
        },
    }


def dns_endpoints(server_ip: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": DNS_LABELS},
        "subsets": [{
            "addresses": [{"ip": server_ip}],
            "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in DNS_PORTS],
        }],
    }  # fmt: skip


def apply_dns_addon(client: Client, cluster_ip: str, server_ip: str) -> None:
    """Create the Service and its Endpoints; an existing one (a restarted `minik up`) is kept."""
    objects = ((require("services"), dns_service(cluster_ip)), (require("endpoints"), dns_endpoints(server_ip)))
    for resource, body in objects:
        try:
            client.create(resource, body, "kube-system")
        except AlreadyExistsError:
            continue


def nodes_ready(client: Client, names: list[str]) -> bool:
    """Every named Node exists and reports Ready=True."""
    ready = set()
    for node in client.list(require("nodes"))["items"]:
        conditions = (node.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            ready.add(node["metadata"]["name"])
    return all(name in ready for name in names)


def print_nodes(cfg: ClusterConfig) -> None:
    """The closing summary: what `minictl get nodes -o wide` shows."""
    from minik.ctl.main import main as minictl

    sys.stdout.flush()
    minictl(["--kubeconfig", str(cfg.admin_kubeconfig), "--context", CONTEXT_NAME, "get", "nodes", "-o", "wide"])
