"""The test cluster a scheduler integration test drives: Node objects without kubelets, pods, events.

The apiserver is shared by the whole session and nothing deletes other tests' pods, so each
test's scheduler answers to its own schedulerName (`<ns>-scheduler`, a real Kubernetes feature)
and ignores everyone else's pending pods; its nodes are named after the test's namespace and
deleted at the end.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from util import wait_for  # noqa: E402

from minik.api.resources import require  # noqa: E402
from minik.client.rest import Client  # noqa: E402
from minik.scheduler.scheduler import Scheduler  # noqa: E402

Obj = dict[str, Any]

PODS, NODES, EVENTS = require("pods"), require("nodes"), require("events")


@dataclass
class Cluster:
    """What a test drives: its namespace, its nodes, and pods addressed to its scheduler."""

    client: Client
    ns: str
    scheduler: Scheduler
    nodes: list[str] = field(default_factory=list)

    @property
    def scheduler_name(self) -> str:
        return self.scheduler.scheduler_name

    def node_name(self, suffix: str) -> str:
        return f"{self.ns}-{suffix}"

    def add_node(self, suffix: str, *, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
                 labels: dict[str, str] | None = None, taints: list[Obj] | None = None,
                 unschedulable: bool = False) -> str:
        """A Node object with allocatable written through the status subresource, as a kubelet would."""
        name = self.node_name(suffix)
        spec: Obj = {}
        if taints:
            spec["taints"] = taints
        if unschedulable:
            spec["unschedulable"] = True
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
                "spec": spec}
        self.client.create(NODES, body)
        self.nodes.append(name)
        self.set_allocatable(name, cpu=cpu, memory=memory, pods=pods)
        return name

    def set_allocatable(self, name: str, *, cpu: str, memory: str = "8Gi", pods: str = "110") -> None:
        resources = {"cpu": cpu, "memory": memory, "pods": pods}
        status = {"capacity": resources, "allocatable": resources,
                  "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}
        self.client.patch(NODES, name, {"status": status}, subresource="status")

    def patch_node(self, name: str, body: Obj) -> Obj:
        return self.client.patch(NODES, name, body)

    def create_pod(self, name: str, *, cpu: str | None = None, memory: str | None = None,
                   node_selector: dict[str, str] | None = None, tolerations: list[Obj] | None = None,
                   affinity: Obj | None = None) -> Obj:
        requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
        c: Obj = {"name": "app", "image": "minik/app:v1"}
        if requests:
            c["resources"] = {"requests": requests}
        spec: Obj = {"containers": [c], "schedulerName": self.scheduler_name}
        if node_selector:
            spec["nodeSelector"] = node_selector
        if tolerations:
            spec["tolerations"] = tolerations
        if affinity:
            spec["affinity"] = affinity
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": self.ns}, "spec": spec}
        return self.client.create(PODS, body, self.ns)

    def pod(self, name: str) -> Obj:
        return self.client.get(PODS, name, self.ns)

    def node_of(self, name: str) -> str:
        return str((self.pod(name).get("spec") or {}).get("nodeName") or "")

    def wait_scheduled(self, name: str, timeout: float = 20.0) -> str:
        return wait_for(lambda: self.node_of(name), timeout=timeout, message=f"pod {name} bound to a node")

    def scheduled_condition(self, name: str) -> Obj | None:
        conditions = (self.pod(name).get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c.get("type") == "PodScheduled"), None)

    def wait_unschedulable(self, name: str, message: str | None = None, timeout: float = 20.0) -> Obj:
        """The PodScheduled=False condition, once it says `message` (any message when None)."""

        def check() -> Obj | None:
            c = self.scheduled_condition(name)
            if c and c.get("status") == "False" and c.get("reason") == "Unschedulable" \
                    and (message is None or c.get("message") == message):
                return c
            return None

        return wait_for(check, timeout=timeout, message=f"pod {name} Unschedulable with {message!r}")

    def events(self, name: str, reason: str | None = None) -> list[Obj]:
        items = self.client.list(EVENTS, self.ns, field_selector=f"involvedObject.name={name}")["items"]
        return [e for e in items if reason is None or e.get("reason") == reason]
