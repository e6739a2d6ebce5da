"""The CRI PodSandboxConfig for a pod (kuberuntime's generatePodSandboxConfig).

The sandbox is the pause process holding the pod's network, IPC and UTS namespaces; its cgroup is the
pod cgroup, placed in the QoS tier like the kubelet's kubepods/burstable/pod<uid>.
"""

from __future__ import annotations

from pathlib import Path

from minik.kubelet import podutil
from minik.kubelet.resources import linux_pod_resources, qos_cgroup
from minik.kubelet.types import (
    KUBELET_MANAGED_LABEL,
    POD_NAME_LABEL,
    POD_NAMESPACE_LABEL,
    POD_UID_LABEL,
    Obj,
)

NAMESPACE_MODE_POD = 0
NAMESPACE_MODE_NODE = 2


def pod_cgroup(pod: Obj) -> str:
    return f"{qos_cgroup(podutil.qos_class(pod))}/pod{podutil.uid(pod)}"


def sandbox_labels(pod: Obj, node_name: str) -> dict[str, str]:
    labels = podutil.labels(pod)
    labels.update({
        POD_NAME_LABEL: podutil.name(pod),
        POD_NAMESPACE_LABEL: podutil.namespace(pod),
        POD_UID_LABEL: podutil.uid(pod),
        KUBELET_MANAGED_LABEL: node_name,
    })
    return labels


def hostname(pod: Obj) -> str:
    """spec.hostname, else the pod name, cut to a DNS label (63 characters) like the kubelet."""
    spec = podutil.spec(pod)
    name = str(spec.get("hostname") or podutil.name(pod))
    return name[:63].rstrip("-.") or "pod"


def dns_config(pod: Obj, cluster_dns: list[str], cluster_domain: str) -> Obj:
    """The pod's resolv.conf per dnsPolicy (the kubelet's dns configurer); {} means the node's own file.

    ClusterFirst uses the cluster DNS (falling back to the node's file when the kubelet has none, as
    Kubernetes does); hostNetwork pods need ClusterFirstWithHostNet for that; None takes dnsConfig only.
    """
    spec = podutil.spec(pod)
    policy = str(spec.get("dnsPolicy") or "ClusterFirst")
    if policy == "ClusterFirst" and podutil.host_network(pod):
        policy = "Default"
    out: Obj = {}
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and cluster_dns:
        namespace = podutil.namespace(pod)
        out = {"servers": list(cluster_dns),
               "searches": [f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain],
               "options": ["ndots:5"]}
    raw = spec.get("dnsConfig")
    extra: Obj = raw if isinstance(raw, dict) else {}
    if extra or policy == "None":
        servers = [str(x) for x in extra.get("nameservers") or []]
        searches = [str(x) for x in extra.get("searches") or []]
        options = [f"{o.get('name')}:{o.get('value')}" if o.get("value") not in (None, "") else str(o.get("name"))
                   for o in extra.get("options") or [] if isinstance(o, dict) and o.get("name")]
        out = {"servers": list(dict.fromkeys([*out.get("servers", []), *servers])),
               "searches": list(dict.fromkeys([*out.get("searches", []), *searches])),
               "options": list(dict.fromkeys([*out.get("options", []), *options]))}
    return out


def generate_pod_sandbox_config(pod: Obj, attempt: int, node_name: str, log_directory: Path,
                                cluster_dns: list[str] | None = None, cluster_domain: str = "cluster.local") -> Obj:
    host_network = podutil.host_network(pod)
    spec = podutil.spec(pod)
    ports = []
    for container in podutil.containers(pod):
        for port in container.get("ports") or []:
            if isinstance(port, dict) and isinstance(port.get("hostPort"), int) and port["hostPort"] > 0:
                ports.append({"protocol": str(port.get("protocol") or "TCP").upper(),
                              "container_port": int(port.get("containerPort") or 0),
                              "host_port": port["hostPort"], "host_ip": str(port.get("hostIP") or "")})
    return {
        "metadata": {"name": podutil.name(pod), "namespace": podutil.namespace(pod), "uid": podutil.uid(pod),
                     "attempt": attempt},
        "hostname": "" if host_network else hostname(pod),
        "log_directory": str(log_directory),
        "dns_config": dns_config(pod, cluster_dns or [], cluster_domain),
        "port_mappings": ports,
        "labels": sandbox_labels(pod, node_name),
        "annotations": podutil.annotations_of(pod),
        "linux": {
            "cgroup_parent": pod_cgroup(pod),
            "resources": linux_pod_resources(pod),
            "security_context": {
                "namespace_options": {
                    "network": NAMESPACE_MODE_NODE if host_network else NAMESPACE_MODE_POD,
                    "pid": NAMESPACE_MODE_NODE if spec.get("hostPID") is True else NAMESPACE_MODE_POD,
                    "ipc": NAMESPACE_MODE_NODE if spec.get("hostIPC") is True else NAMESPACE_MODE_POD,
                },
            },
        },
    }
