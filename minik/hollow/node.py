"""A hollow node's Node object and status: what a real kubelet reports, with made-up machine facts.

The object and the conditions come from the kubelet's own builders (minik.kubelet.nodestatus), so
the scheduler and the node lifecycle controller cannot tell a hollow node from a real one; only the
capacity (flags), the ids and the addresses are invented, and the node carries the label
`minik.io/hollow-node=true` so a benchmark can find (and nobody mistakes) its fake nodes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from minik import __version__
from minik.api.quantity import milli_value, value
from minik.hollow.addresses import node_ip
from minik.kubelet.config import KubeletConfig
from minik.kubelet.machine import MachineInfo, go_arch
from minik.kubelet.nodestatus import (
    KUBELET_VERSION,
    Pressure,
    initial_node,
    merge_node_conditions,
    node_conditions,
    resources_text,
)
from minik.kubelet.status import now_rfc3339
from minik.kubelet.types import Obj

HOLLOW_LABEL = "minik.io/hollow-node"
KUBELET_PORT = 10250  # advertised like a real kubelet's; nothing listens, so logs/exec fail cleanly
NO_PRESSURE = Pressure(memory=False, disk=False, pid=False)
_IDS = uuid.UUID("5c1d0e2a-6f0b-4c55-9a53-686f6c6c6f77")  # namespace for the nodes' stable fake ids


@dataclass(frozen=True)
class HollowNodeSpec:
    """What every hollow node claims to have (quantities as Kubernetes writes them)."""

    cpu: str = "4"
    memory: str = "8Gi"
    max_pods: int = 110
    ephemeral_storage: str = "100Gi"

    def check(self) -> None:
        """Raise ValueError for quantities the apiserver would reject, before 1000 nodes try them."""
        if milli_value(self.cpu) <= 0 or value(self.memory) <= 0 or value(self.ephemeral_storage) <= 0:
            raise ValueError("--cpu and --memory must be positive quantities")
        if self.max_pods <= 0:
            raise ValueError("--max-pods must be positive")


def machine(name: str) -> MachineInfo:
    """Stable per-node ids (a restart re-registers the same machine), this host's architecture."""
    ids = uuid.uuid5(_IDS, name)
    return MachineInfo(cpus=0, memory_bytes=0, machine_id=ids.hex, system_uuid=str(ids),
                       boot_id=str(uuid.uuid5(ids, "boot")), kernel_version="hollow",
                       os_image="minik hollow node", architecture=go_arch())


def kubelet_config(name: str, spec: HollowNodeSpec) -> KubeletConfig:
    return KubeletConfig(node_name=name, cpu=spec.cpu, memory=spec.memory, max_pods=spec.max_pods,
                         node_labels={HOLLOW_LABEL: "true"}, pod_manifest_path=None, port=KUBELET_PORT)


def node_object(name: str, spec: HollowNodeSpec) -> Obj:
    """The Node a hollow kubelet registers: the real kubelet's labels and annotations, plus ours."""
    return initial_node(kubelet_config(name, spec), machine(name))


def capacity(spec: HollowNodeSpec) -> dict[str, str]:
    """Capacity and allocatable alike: a hollow node reserves nothing for a system it does not run."""
    return resources_text({"cpu": milli_value(spec.cpu), "ephemeral-storage": value(spec.ephemeral_storage),
                           "memory": value(spec.memory), "pods": spec.max_pods})


def node_status(name: str, index: int, spec: HollowNodeSpec, old_conditions: list[Obj],
                now: str | None = None) -> Obj:
    """Node status as the kubelet writes it: always Ready, never under pressure."""
    now = now or now_rfc3339()
    info = machine(name)
    resources = capacity(spec)
    conditions = node_conditions(NO_PRESSURE, True, "", now)
    return {
        "capacity": resources,
        "allocatable": dict(resources),
        "conditions": merge_node_conditions(conditions, [c for c in old_conditions if isinstance(c, dict)]),
        "addresses": [{"type": "InternalIP", "address": node_ip(index)}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": {
            "machineID": info.machine_id,
            "systemUUID": info.system_uuid,
            "bootID": info.boot_id,
            "kernelVersion": info.kernel_version,
            "osImage": info.os_image,
            "containerRuntimeVersion": f"minik-hollow://{__version__}",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": info.architecture,
        },
    }
