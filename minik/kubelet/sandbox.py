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


def generate_pod_sandbox_config(pod: Obj, attempt: int, node_name: str, log_directory: Path) -> Obj:
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
        "port_mappings": ports,
        "labels": sandbox_labels(pod, node_name),
        "annotations": podutil.annotations(pod),
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
