"""The Node object: registration and the status the kubelet reports (the kubelet's nodestatus setters).

Capacity comes from the machine (or flags), allocatable is capacity minus --system-reserved and the
hard eviction thresholds (memory.available<100Mi, nodefs.available<10%), as Kubernetes computes it.
The four conditions are measured: MemoryPressure from MemAvailable, DiskPressure from the root dir's
filesystem, PIDPressure from pid_max, Ready from the runtime's own status.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from minik import KUBE_VERSION, __version__
from minik.api.quantity import format_cpu_millis, milli_value, value
from minik.kubelet.config import KubeletConfig
from minik.kubelet.machine import MachineInfo, disk_usage, meminfo, pid_usage
from minik.kubelet.status import now_rfc3339
from minik.kubelet.types import Obj

EVICTION_MEMORY_BYTES = 100 * 1024 * 1024
EVICTION_NODEFS_FRACTION = 0.10
EVICTION_PID_FRACTION = 0.05
KUBELET_VERSION = f"{KUBE_VERSION}-minik.{__version__}"


@dataclass(frozen=True)
class NodeResources:
    """cpu in millicores, memory and ephemeral-storage in bytes, pods as a count."""

    capacity: dict[str, int]
    allocatable: dict[str, int]


def _memory_text(amount: int) -> str:
    return f"{amount // 1024}Ki" if amount % 1024 == 0 else str(amount)


def resources_text(amounts: dict[str, int]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, amount in amounts.items():
        if name == "cpu":
            out[name] = format_cpu_millis(amount)
        elif name in ("memory", "ephemeral-storage"):
            out[name] = _memory_text(amount)
        else:
            out[name] = str(amount)
    return out


def node_resources(cfg: KubeletConfig, machine: MachineInfo) -> NodeResources:
    cpu = milli_value(cfg.cpu) if cfg.cpu else machine.cpus * 1000
    memory = value(cfg.memory) if cfg.memory else machine.memory_bytes
    storage, _ = disk_usage(cfg.root_dir)
    capacity = {"cpu": cpu, "ephemeral-storage": storage, "memory": memory, "pods": cfg.max_pods}
    reserved = cfg.system_reserved
    allocatable = {
        "cpu": max(0, cpu - reserved.get("cpu", 0)),
        "ephemeral-storage": max(0, storage - reserved.get("ephemeral-storage", 0)
                                 - int(storage * EVICTION_NODEFS_FRACTION)),
        "memory": max(0, memory - reserved.get("memory", 0) - EVICTION_MEMORY_BYTES),
        "pods": cfg.max_pods,
    }
    return NodeResources(capacity, allocatable)


def node_labels(cfg: KubeletConfig, machine: MachineInfo) -> dict[str, str]:
    labels = {
        "beta.kubernetes.io/arch": machine.architecture,
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": machine.architecture,
        "kubernetes.io/hostname": cfg.node_name,
        "kubernetes.io/os": "linux",
    }
    labels.update(cfg.node_labels)
    return labels


def initial_node(cfg: KubeletConfig, machine: MachineInfo) -> Obj:
    """The Node the kubelet registers (kubelet_node_status.go initialNode)."""
    spec: Obj = {}
    if cfg.register_with_taints:
        spec["taints"] = copy.deepcopy(cfg.register_with_taints)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": cfg.node_name, "labels": node_labels(cfg, machine),
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": spec,
    }


@dataclass(frozen=True)
class Pressure:
    memory: bool
    disk: bool
    pid: bool


def measure_pressure(cfg: KubeletConfig) -> Pressure:
    available = meminfo().get("MemAvailable")
    capacity, free = disk_usage(cfg.root_dir)
    pid_max, running = pid_usage()
    return Pressure(
        memory=available is not None and available < EVICTION_MEMORY_BYTES,
        disk=capacity > 0 and free < capacity * EVICTION_NODEFS_FRACTION,
        pid=pid_max - running < pid_max * EVICTION_PID_FRACTION,
    )


def _condition(type_: str, status: bool, reason: str, message: str, now: str) -> Obj:
    return {"type": type_, "status": "True" if status else "False", "reason": reason, "message": message,
            "lastHeartbeatTime": now, "lastTransitionTime": now}


def node_conditions(pressure: Pressure, runtime_ready: bool, runtime_message: str, now: str) -> list[Obj]:
    return [
        _condition("MemoryPressure", pressure.memory,
                   "KubeletHasInsufficientMemory" if pressure.memory else "KubeletHasSufficientMemory",
                   "kubelet has insufficient memory available" if pressure.memory
                   else "kubelet has sufficient memory available", now),
        _condition("DiskPressure", pressure.disk,
                   "KubeletHasDiskPressure" if pressure.disk else "KubeletHasNoDiskPressure",
                   "kubelet has disk pressure" if pressure.disk else "kubelet has no disk pressure", now),
        _condition("PIDPressure", pressure.pid,
                   "KubeletHasInsufficientPID" if pressure.pid else "KubeletHasSufficientPID",
                   "kubelet has insufficient PID available" if pressure.pid
                   else "kubelet has sufficient PID available", now),
        _condition("Ready", runtime_ready, "KubeletReady" if runtime_ready else "KubeletNotReady",
                   "kubelet is posting ready status" if runtime_ready else runtime_message, now),
    ]


def merge_node_conditions(new: list[Obj], old: list[Obj]) -> list[Obj]:
    """Keep each condition's lastTransitionTime while its status stays the same."""
    by_type = {c.get("type"): c for c in old if isinstance(c, dict)}
    for cond in new:
        previous = by_type.get(cond["type"])
        if previous is not None and previous.get("status") == cond["status"] and previous.get("lastTransitionTime"):
            cond["lastTransitionTime"] = previous["lastTransitionTime"]
    return new


def node_status(
    cfg: KubeletConfig,
    machine: MachineInfo,
    node_ip: str,
    runtime_version: dict[str, Any],
    runtime_ready: bool,
    runtime_message: str,
    old_conditions: list[Obj],
    now: str | None = None,
) -> Obj:
    now = now or now_rfc3339()
    resources = node_resources(cfg, machine)
    runtime_name = str(runtime_version.get("runtime_name") or "minik")
    runtime_release = str(runtime_version.get("runtime_version") or "")
    conditions = node_conditions(measure_pressure(cfg), runtime_ready, runtime_message, now)
    return {
        "capacity": resources_text(resources.capacity),
        "allocatable": resources_text(resources.allocatable),
        "conditions": merge_node_conditions(conditions, old_conditions),
        "addresses": [{"type": "InternalIP", "address": node_ip}, {"type": "Hostname", "address": cfg.node_name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": cfg.port}},
        "nodeInfo": {
            "machineID": machine.machine_id,
            "systemUUID": machine.system_uuid,
            "bootID": machine.boot_id,
            "kernelVersion": machine.kernel_version,
            "osImage": machine.os_image,
            "containerRuntimeVersion": f"{runtime_name}://{runtime_release}",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": machine.architecture,
        },
    }
