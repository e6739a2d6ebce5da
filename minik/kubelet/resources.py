"""Container resources -> runtime cgroup settings, and pod requests for admission.

The conversions are the kubelet's: cpu request -> cpu.shares (1 cpu = 1024, never below 2), cpu limit ->
CFS quota over a 100 ms period, memory limit -> the memory limit in bytes. The runtime writes them to
cgroup v1 files or their v2 equivalents.
"""

from __future__ import annotations

from typing import Any

from minik.api.quantity import milli_value, value
from minik.kubelet import podutil
from minik.kubelet.types import Obj
from minik.runtime.cgroups import DEFAULT_PERIOD_US, MIN_SHARES, milli_cpu_to_quota, milli_cpu_to_shares


def _quantity(resources: Any, kind: str, name: str, milli: bool) -> int | None:
    values = resources.get(kind) if isinstance(resources, dict) else None
    if not isinstance(values, dict) or values.get(name) in (None, ""):
        return None
    try:
        return milli_value(values[name]) if milli else value(values[name])
    except (ValueError, TypeError, ArithmeticError):
        return None


def container_requests(container: Obj) -> dict[str, int]:
    """cpu in millicores, memory in bytes (limits stand in for missing requests, as the API defaults)."""
    resources = container.get("resources")
    out: dict[str, int] = {}
    for name, milli in (("cpu", True), ("memory", False)):
        amount = _quantity(resources, "requests", name, milli)
        if amount is None:
            amount = _quantity(resources, "limits", name, milli)
        if amount is not None:
            out[name] = amount
    return out


def container_limits(container: Obj) -> dict[str, int]:
    resources = container.get("resources")
    out: dict[str, int] = {}
    for name, milli in (("cpu", True), ("memory", False)):
        amount = _quantity(resources, "limits", name, milli)
        if amount is not None:
            out[name] = amount
    return out


def linux_container_resources(container: Obj) -> dict[str, int]:
    """CRI LinuxContainerResources for one container."""
    requests, limits = container_requests(container), container_limits(container)
    out: dict[str, int] = {"cpu_shares": milli_cpu_to_shares(requests.get("cpu", 0)) if requests.get("cpu")
                           else MIN_SHARES}
    if limits.get("cpu"):
        out["cpu_quota"] = milli_cpu_to_quota(limits["cpu"], DEFAULT_PERIOD_US)
        out["cpu_period"] = DEFAULT_PERIOD_US
    if limits.get("memory"):
        out["memory_limit_in_bytes"] = limits["memory"]
    return out


def pod_requests(pod: Obj) -> dict[str, int]:
    """What the pod needs: the larger of the app containers' sum and the biggest init container."""
    total: dict[str, int] = {}
    for container in podutil.containers(pod):
        for name, amount in container_requests(container).items():
            total[name] = total.get(name, 0) + amount
    for container in podutil.init_containers(pod):
        for name, amount in container_requests(container).items():
            total[name] = max(total.get(name, 0), amount)
    return total


def linux_pod_resources(pod: Obj) -> dict[str, int]:
    """The pod cgroup: shares from the requests; quota and memory only when every container sets a limit."""
    requests = pod_requests(pod)
    out: dict[str, int] = {"cpu_shares": milli_cpu_to_shares(requests.get("cpu", 0)) if requests.get("cpu")
                           else MIN_SHARES}
    containers = podutil.containers(pod)
    limits = [container_limits(c) for c in containers]
    if containers and all(limit.get("cpu") for limit in limits):
        cpu = sum(limit["cpu"] for limit in limits)
        out["cpu_quota"] = milli_cpu_to_quota(cpu, DEFAULT_PERIOD_US)
        out["cpu_period"] = DEFAULT_PERIOD_US
    if containers and all(limit.get("memory") for limit in limits):
        memory = sum(limit["memory"] for limit in limits)
        for init in podutil.init_containers(pod):
            memory = max(memory, container_limits(init).get("memory", 0))
        out["memory_limit_in_bytes"] = memory
    return out


def qos_cgroup(qos_class: str) -> str:
    """The QoS tier a pod cgroup sits in, like the kubelet's kubepods/{burstable,besteffort}/pod<uid>."""
    if qos_class == "Guaranteed":
        return "kubepods"
    if qos_class == "BestEffort":
        return "kubepods/besteffort"
    return "kubepods/burstable"
