"""describe for nodes: conditions, capacity, system info, and what the node's pods request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik.api.quantity import Quantity
from minik.apiserver.printers import node_roles
from minik.ctl.describe.quantity import ZERO, add, milli, parse_quantity, whole
from minik.ctl.describe.writer import (
    Obj,
    PrefixWriter,
    annotations_multiline,
    describe_events,
    labels_multiline,
    rfc1123z,
    since,
    taints_multiline,
)

_STANDARD = ("cpu", "memory", "ephemeral-storage", "pods", "storage")


def pod_requests_and_limits(pod: Obj) -> tuple[dict[str, Quantity], dict[str, Quantity]]:
    """resourcehelper.PodRequestsAndLimits: sum of containers, at least the largest init container."""
    spec = pod.get("spec") or {}

    def total(containers: list[dict[str, Any]], key: str) -> dict[str, Quantity]:
        out: dict[str, Quantity] = {}
        for c in containers:
            for name, value in ((c.get("resources") or {}).get(key) or {}).items():
                out[name] = add(out.get(name, ZERO), parse_quantity(value))
        return out

    result: list[dict[str, Quantity]] = []
    for key in ("requests", "limits"):
        summed = total(spec.get("containers") or [], key)
        for c in spec.get("initContainers") or []:
            for name, value in ((c.get("resources") or {}).get(key) or {}).items():
                q = parse_quantity(value)
                if q.amount > summed.get(name, ZERO).amount:
                    summed[name] = q
        result.append(summed)
    return result[0], result[1]


def _fraction(part: int, whole_value: int) -> int:
    return int(part / whole_value * 100) if whole_value else 0


def _node_resources(w: PrefixWriter, pods: list[Obj], node: Obj, now: datetime) -> None:
    """describeNodeResource: the Non-terminated Pods table and the Allocated resources summary."""
    status = node.get("status") or {}
    allocatable = status.get("allocatable") or status.get("capacity") or {}
    cpu_alloc = milli(parse_quantity(allocatable.get("cpu", "0")))
    mem_alloc = whole(parse_quantity(allocatable.get("memory", "0")))
    eph_alloc = whole(parse_quantity(allocatable.get("ephemeral-storage", "0")))
    w.write(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
    w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    reqs: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    for pod in pods:
        req, lim = pod_requests_and_limits(pod)
        for name, q in req.items():
            reqs[name] = add(reqs.get(name, ZERO), q)
        for name, q in lim.items():
            limits[name] = add(limits.get(name, ZERO), q)
        cpu_r, cpu_l = req.get("cpu", ZERO), lim.get("cpu", ZERO)
        mem_r, mem_l = req.get("memory", ZERO), lim.get("memory", ZERO)
        meta = pod.get("metadata") or {}
        w.write(1, f"{meta.get('namespace', '')}\t{meta.get('name', '')}\t\t"
                   f"{cpu_r} ({_fraction(milli(cpu_r), cpu_alloc)}%)\t"
                   f"{cpu_l} ({_fraction(milli(cpu_l), cpu_alloc)}%)\t"
                   f"{mem_r} ({_fraction(whole(mem_r), mem_alloc)}%)\t"
                   f"{mem_l} ({_fraction(whole(mem_l), mem_alloc)}%)\t"
                   f"{since(meta.get('creationTimestamp'), now)}\n")
    w.write(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
    w.write(1, "Resource\tRequests\tLimits\n")
    w.write(1, "--------\t--------\t------\n")
    for name, alloc, to_int in (("cpu", cpu_alloc, milli), ("memory", mem_alloc, whole),
                                ("ephemeral-storage", eph_alloc, whole)):
        total_r, total_l = reqs.get(name, ZERO), limits.get(name, ZERO)
        w.write(1, f"{name}\t{total_r} ({_fraction(to_int(total_r), alloc)}%)\t"
                   f"{total_l} ({_fraction(to_int(total_l), alloc)}%)\n")
    for name in sorted(n for n in allocatable if n not in _STANDARD and not n.startswith("hugepages-")):
        w.write(1, f"{name}\t{reqs.get(name, ZERO)}\t{limits.get(name, ZERO)}\n")


def describe_node(node: Obj, pods: list[Obj] | None, events: list[Obj] | None, lease: Obj | str,
                  now: datetime) -> str:
    """`lease` is the node's Lease, or the error text kubectl shows when it could not be read."""
    meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
    w = PrefixWriter()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Roles:\t{','.join(node_roles(node)) or '<none>'}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    taints_multiline(w, "Taints", spec.get("taints"))
    w.write(0, f"Unschedulable:\t{'true' if spec.get('unschedulable') else 'false'}\n")
    if isinstance(lease, str):
        w.write(0, f"Lease:\tFailed to get lease: {lease}\n")
    else:
        lease_spec = lease.get("spec") or {}
        acquire, renew = lease_spec.get("acquireTime"), lease_spec.get("renewTime")
        w.write(0, "Lease:\n")
        w.write(1, f"HolderIdentity:\t{lease_spec.get('holderIdentity') or '<unset>'}\n")
        w.write(1, f"AcquireTime:\t{rfc1123z(acquire) if acquire else '<unset>'}\n")
        w.write(1, f"RenewTime:\t{rfc1123z(renew) if renew else '<unset>'}\n")
    conditions = status.get("conditions") or []
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
        w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in conditions:
            w.write(1, f"{c.get('type', '')} \t{c.get('status', '')} \t{rfc1123z(c.get('lastHeartbeatTime'))} \t"
                       f"{rfc1123z(c.get('lastTransitionTime'))} \t{c.get('reason') or ''} \t"
                       f"{c.get('message') or ''}\n")
    w.write(0, "Addresses:\n")
    for addr in status.get("addresses") or []:
        w.write(1, f"{addr.get('type', '')}:\t{addr.get('address', '')}\n")
    for title, key in (("Capacity", "capacity"), ("Allocatable", "allocatable")):
        values = status.get(key) or {}
        if values:
            w.write(0, f"{title}:\n")
            for name in sorted(values):
                w.write(0, f"  {name}:\t{parse_quantity(values[name])}\n")
    info = status.get("nodeInfo") or {}
    w.write(0, "System Info:\n")
    for title, key in (("Machine ID", "machineID"), ("System UUID", "systemUUID"), ("Boot ID", "bootID"),
                       ("Kernel Version", "kernelVersion"), ("OS Image", "osImage"),
                       ("Operating System", "operatingSystem"), ("Architecture", "architecture"),
                       ("Container Runtime Version", "containerRuntimeVersion"),
                       ("Kubelet Version", "kubeletVersion")):
        w.write(0, f"  {title}:\t{info.get(key) or ''}\n")
    if spec.get("podCIDR"):
        w.write(0, f"PodCIDR:\t{spec['podCIDR']}\n")
    if spec.get("podCIDRs"):
        w.write(0, f"PodCIDRs:\t{','.join(spec['podCIDRs'])}\n")
    if spec.get("providerID"):
        w.write(0, f"ProviderID:\t{spec['providerID']}\n")
    if pods is not None:
        _node_resources(w, pods, node, now)
    else:
        w.write(0, "Pods:\tnot authorized\n")
    describe_events(w, events, now)
    return w.text()
