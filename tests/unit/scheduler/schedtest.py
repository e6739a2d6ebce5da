"""Builders for scheduler unit tests: wire-shaped pods and nodes, parsed the way the scheduler does."""

from __future__ import annotations

from typing import Any

from minik.api.core import Node
from minik.scheduler.node_info import NodeInfo
from minik.scheduler.pod_info import PodInfo

Obj = dict[str, Any]


def pod_obj(name: str = "app", namespace: str = "default", *, cpu: str | None = None, memory: str | None = None,
            containers: list[Obj] | None = None, init_containers: list[Obj] | None = None,
            node_selector: dict[str, str] | None = None, affinity: Obj | None = None,
            tolerations: list[Obj] | None = None, node_name: str | None = None, priority: int | None = None,
            owner_uid: str | None = None, uid: str | None = None, labels: dict[str, str] | None = None,
            **spec_extra: Any) -> Obj:
    if containers is None:
        requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
        containers = [{"name": "c", "image": "busybox", **({"resources": {"requests": requests}} if requests else {})}]
    spec: Obj = {"containers": containers, "schedulerName": "default-scheduler", **spec_extra}
    if init_containers is not None:
        spec["initContainers"] = init_containers
    if node_selector is not None:
        spec["nodeSelector"] = node_selector
    if affinity is not None:
        spec["affinity"] = affinity
    if tolerations is not None:
        spec["tolerations"] = tolerations
    if node_name is not None:
        spec["nodeName"] = node_name
    if priority is not None:
        spec["priority"] = priority
    meta: Obj = {"name": name, "namespace": namespace, "uid": uid or f"uid-{namespace}-{name}",
                 "resourceVersion": "1"}
    if labels:
        meta["labels"] = labels
    if owner_uid:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                    "uid": owner_uid, "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": {"phase": "Pending"}}


def make_pod(name: str = "app", **kw: Any) -> PodInfo:
    return PodInfo(pod_obj(name, **kw))


def container(name: str, cpu: str | None = None, memory: str | None = None, **extra: Any) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": name, "image": "busybox", "resources": {"requests": requests}, **extra}


def node_obj(name: str = "node-1", *, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
             labels: dict[str, str] | None = None, taints: list[Obj] | None = None,
             unschedulable: bool | None = None) -> Obj:
    spec: Obj = {}
    if taints is not None:
        spec["taints"] = taints
    if unschedulable is not None:
        spec["unschedulable"] = unschedulable
    alloc = {"cpu": cpu, "memory": memory, "pods": pods}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
            "spec": spec, "status": {"capacity": dict(alloc), "allocatable": alloc}}


def make_node(name: str = "node-1", *, pods_on_node: list[PodInfo] | None = None, **kw: Any) -> NodeInfo:
    info = NodeInfo(name, Node.model_validate(node_obj(name, **kw)))
    for p in pods_on_node or []:
        info.add_pod(p)
    return info


def taint(key: str, value: str | None = None, effect: str = "NoSchedule") -> Obj:
    t: Obj = {"key": key, "effect": effect}
    if value is not None:
        t["value"] = value
    return t


def filter_status(plugin: Any, pod: PodInfo, node: NodeInfo) -> tuple[str, tuple[str, ...]] | None:
    """Run a plugin's pre-filter and filter like the framework does: None on success, else (code, reasons)."""
    from minik.scheduler.framework import Code, CycleState, PreFilterPlugin

    state = CycleState()
    if isinstance(plugin, PreFilterPlugin):
        pre = plugin.pre_filter(state, pod)
        if pre is not None and pre.code == Code.SKIP:
            return None
        if pre is not None and pre.code != Code.SUCCESS:
            return str(pre.code), pre.reasons
    status = plugin.filter(state, pod, node)
    if status is None or status.code == Code.SUCCESS:
        return None
    return str(status.code), status.reasons


def scores(plugin: Any, pod: PodInfo, nodes: list[NodeInfo]) -> dict[str, int] | None:
    """A score plugin's normalized scores per node; None when its pre-score skips the pod."""
    from minik.scheduler.framework import Code, CycleState, PreScorePlugin

    state = CycleState()
    if isinstance(plugin, PreScorePlugin):
        pre = plugin.pre_score(state, pod, nodes)
        if pre is not None and pre.code == Code.SKIP:
            return None
    result = [plugin.score(state, pod, n) for n in nodes]
    plugin.normalize_score(state, pod, result)
    return {n.name: s for n, s in zip(nodes, result, strict=True)}
