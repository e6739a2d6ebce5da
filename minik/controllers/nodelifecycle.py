"""Node lifecycle controller: notice dead nodes and taint them; taint nodes by their conditions.

monitor_node_health runs every node-monitor-period. A node is heard from when its Lease
(kube-node-lease/<node>) is renewed or its Ready condition's heartbeat changes, measured on our
own clock. Silent for longer than node-monitor-grace-period (node-startup-grace-period for a
node that never reported), its Ready, MemoryPressure, DiskPressure and PIDPressure conditions
become Unknown ("Kubelet stopped posting node status."), its pods are marked not ready, and it
gets the `node.kubernetes.io/unreachable:NoExecute` taint (`not-ready:NoExecute` when the
kubelet itself reports Ready=False). The taint-eviction controller then evicts pods that do not
tolerate the taint long enough. Heartbeats coming back make Ready true again (the kubelet writes
it) and the taints go.

Independently, every node carries NoSchedule taints mirroring its conditions and
spec.unschedulable (TaintNodesByCondition), so the scheduler keeps new pods away.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from minik.api.errors import ConflictError, NotFoundError, StatusError
from minik.api.resources import Resource
from minik.client.informer import Informer
from minik.controllers.controller import Controller
from minik.controllers.informers import NODE_NAME_INDEX, InformerFactory, node_name_index, resource
from minik.controllers.pod_control import Recorder
from minik.controllers.podutil import get_condition
from minik.controllers.taints import (
    NO_EXECUTE,
    NO_SCHEDULE,
    TAINT_NODE_DISK_PRESSURE,
    TAINT_NODE_MEMORY_PRESSURE,
    TAINT_NODE_NETWORK_UNAVAILABLE,
    TAINT_NODE_NOT_READY,
    TAINT_NODE_PID_PRESSURE,
    TAINT_NODE_UNREACHABLE,
    TAINT_NODE_UNSCHEDULABLE,
    node_taints,
    swapped_taints,
    taint_exists,
)
from minik.controllers.timeutil import now_rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NODES: Resource = resource("nodes")
PODS: Resource = resource("pods")
LEASE_NAMESPACE = "kube-node-lease"
UPDATE_RETRIES = 5

UNREACHABLE_TAINT = {"key": TAINT_NODE_UNREACHABLE, "effect": NO_EXECUTE}
NOT_READY_TAINT = {"key": TAINT_NODE_NOT_READY, "effect": NO_EXECUTE}
# condition type -> status -> NoSchedule taint key (nodeConditionToTaintKeyStatusMap)
CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": TAINT_NODE_NOT_READY, "Unknown": TAINT_NODE_UNREACHABLE},
    "MemoryPressure": {"True": TAINT_NODE_MEMORY_PRESSURE},
    "DiskPressure": {"True": TAINT_NODE_DISK_PRESSURE},
    "NetworkUnavailable": {"True": TAINT_NODE_NETWORK_UNAVAILABLE},
    "PIDPressure": {"True": TAINT_NODE_PID_PRESSURE},
}
_CONDITION_TAINT_KEYS = {key for by_status in CONDITION_TAINTS.values() for key in by_status.values()}
MONITORED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


class Client(Protocol):
    def get(self, r: Resource, name: str, namespace: str | None = None) -> Obj: ...

    def update(self, r: Resource, obj: Obj, subresource: str | None = None) -> Obj: ...

    def update_status(self, r: Resource, obj: Obj) -> Obj: ...


@dataclass
class NodeHealth:
    probe: float  # our clock when we last heard from the node
    heartbeat: str | None  # the Ready condition's lastHeartbeatTime then
    transition: str | None  # its lastTransitionTime
    lease_renew: str | None  # the Lease's renewTime then


def _meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def node_condition(node: Obj, type_: str) -> Obj | None:
    return get_condition(node, type_)


def update_node_taints(client: Client, name: str, add: list[Obj], remove: list[Obj]) -> bool:
    """SwapNodeControllerTaint: re-read, change only these taints, write; True if it changed anything."""
    for _ in range(UPDATE_RETRIES):
        try:
            node = client.get(NODES, name)
        except NotFoundError:
            return False
        now = now_rfc3339()
        stamped = [{**t, "timeAdded": now} if t.get("effect") == NO_EXECUTE else dict(t) for t in add]
        new = swapped_taints(node_taints(node), stamped, remove)
        if new is None:
            return False
        node.setdefault("spec", {})["taints"] = new or None
        try:
            client.update(NODES, node)
            return True
        except ConflictError:
            continue
    raise ConflictError(f"could not update the taints of node {name}: too many conflicts")


class NodeLifecycleController(Controller):
    """The work queue handles NoSchedule condition taints; a monitor thread handles node health."""

    name = "nodelifecycle"

    def __init__(self, client: Client, factory: InformerFactory, recorder: Recorder, *,
                 monitor_period: float = 5.0, grace_period: float = 40.0, startup_grace_period: float = 60.0,
                 clock: Any = time.monotonic) -> None:
        super().__init__(workers=1)
        self.client = client
        self.recorder = recorder
        self.monitor_period = monitor_period
        self.grace_period = grace_period
        self.startup_grace_period = startup_grace_period
        self.clock = clock
        self.node_informer: Informer = factory.informer("nodes")
        self.lease_informer: Informer = factory.informer("leases")
        self.pod_informer: Informer = factory.add_index("pods", NODE_NAME_INDEX, node_name_index)
        self.health: dict[str, NodeHealth] = {}
        self.retry_not_ready: set[str] = set()
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self.node_informer.add_event_handler(self.enqueue, lambda old, cur: self.enqueue(cur), self.on_node_delete)

    def informers(self) -> list[Informer]:
        return [self.node_informer, self.lease_informer, self.pod_informer]

    def start(self) -> None:
        super().start()
        self._monitor = threading.Thread(target=self._monitor_loop, name="node-monitor", daemon=True)
        self._monitor.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        super().stop(timeout)
        if self._monitor is not None:
            self._monitor.join(timeout)

    def on_node_delete(self, node: Obj) -> None:
        self.health.pop(str(_meta(node).get("name")), None)

    # --- NoSchedule taints from conditions (doNoScheduleTaintingPass) ---------------------

    def sync(self, key: str) -> None:
        node = self.node_informer.store.get_by_key(key)
        if node is None:
            return
        wanted: list[Obj] = []
        for cond in (node.get("status") or {}).get("conditions") or []:
            taint_key = CONDITION_TAINTS.get(str(cond.get("type")), {}).get(str(cond.get("status")))
            if taint_key:
                wanted.append({"key": taint_key, "effect": NO_SCHEDULE})
        if (node.get("spec") or {}).get("unschedulable"):
            wanted.append({"key": TAINT_NODE_UNSCHEDULABLE, "effect": NO_SCHEDULE})
        current = [t for t in node_taints(node) if t.get("effect") == NO_SCHEDULE
                   and (t.get("key") in _CONDITION_TAINT_KEYS or t.get("key") == TAINT_NODE_UNSCHEDULABLE)]
        add = [t for t in wanted if not taint_exists(current, t)]
        remove = [t for t in current if not taint_exists(wanted, t)]
        if add or remove:
            update_node_taints(self.client, key, add, remove)

    # --- health monitoring ----------------------------------------------------------------

    def _monitor_loop(self) -> None:
        while not self._stop.wait(self.monitor_period):
            try:
                self.monitor_node_health()
            except Exception:
                log.exception("monitoring node health failed")

    def monitor_node_health(self) -> None:
        for node in self.node_informer.store.list():
            name = str(_meta(node).get("name"))
            try:
                self.process_node(name, copy.deepcopy(node))
            except StatusError as e:
                log.warning("node %s: %s; retrying next period", name, e)

    def process_node(self, name: str, node: Obj) -> None:
        observed, current = self.try_update_node_health(node)
        if current is None:
            return  # a new node still within its startup grace period
        self.process_taint_based_eviction(node, current)
        if current.get("status") != "True" and observed.get("status") == "True":
            self.recorder.event(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady")
            self.retry_not_ready.add(name)
        elif current.get("status") == "True":
            self.retry_not_ready.discard(name)
        if name in self.retry_not_ready:
            try:
                self.mark_pods_not_ready(name)
                self.retry_not_ready.discard(name)
            except StatusError as e:
                log.warning("marking pods on %s not ready: %s; retrying", name, e)

    def try_update_node_health(self, node: Obj) -> tuple[Obj, Obj | None]:
        """(Ready as observed, Ready after this pass); marks the conditions Unknown past the grace period."""
        name = str(_meta(node)["name"])
        now = self.clock()
        ready = node_condition(node, "Ready")
        if ready is None:
            created = _meta(node).get("creationTimestamp")
            observed: Obj = {"type": "Ready", "status": "Unknown", "lastHeartbeatTime": created,
                             "lastTransitionTime": created}
            grace = self.startup_grace_period
        else:
            observed = dict(ready)
            grace = self.grace_period
        saved = self.health.get(name)
        if saved is None:
            saved = NodeHealth(now, observed.get("lastHeartbeatTime"), observed.get("lastTransitionTime"), None)
        elif ready is not None and ready.get("lastHeartbeatTime") != saved.heartbeat:
            saved = NodeHealth(now, ready.get("lastHeartbeatTime"), ready.get("lastTransitionTime"), saved.lease_renew)
        lease = self.lease_informer.store.get_by_key(f"{LEASE_NAMESPACE}/{name}")
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        if renew and renew != saved.lease_renew:
            saved.lease_renew = renew
            saved.probe = now
        self.health[name] = saved
        if now <= saved.probe + grace:
            return observed, ready
        changed = False
        stamp = now_rfc3339()
        conditions = (node.setdefault("status", {}).get("conditions")) or []
        for type_ in MONITORED_CONDITIONS:
            cond = next((c for c in conditions if c.get("type") == type_), None)
            if cond is None:
                conditions.append({"type": type_, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                                   "message": "Kubelet never posted node status.",
                                   "lastHeartbeatTime": _meta(node).get("creationTimestamp"),
                                   "lastTransitionTime": stamp})
                changed = True
            elif cond.get("status") != "Unknown":
                cond.update({"status": "Unknown", "reason": "NodeStatusUnknown",
                             "message": "Kubelet stopped posting node status.", "lastTransitionTime": stamp})
                changed = True
        node["status"]["conditions"] = conditions
        current = node_condition(node, "Ready")
        if changed:
            log.info("node %s: no heartbeat for %.1fs: conditions set to Unknown", name, now - saved.probe)
            updated = self.client.update_status(NODES, node)
            node["metadata"]["resourceVersion"] = _meta(updated).get("resourceVersion")
        return observed, current

    def process_taint_based_eviction(self, node: Obj, ready: Obj) -> None:
        """Ready False -> not-ready:NoExecute, Unknown -> unreachable:NoExecute, True -> neither."""
        name = str(_meta(node)["name"])
        status = ready.get("status")
        if status == "False":
            add, remove, why = [NOT_READY_TAINT], [UNREACHABLE_TAINT], "not ready"
        elif status == "Unknown":
            add, remove, why = [UNREACHABLE_TAINT], [NOT_READY_TAINT], "unreachable"
        else:
            add, remove, why = [], [UNREACHABLE_TAINT, NOT_READY_TAINT], "healthy"
        if swapped_taints(node_taints(node), add, remove) is None:
            return  # the cache already shows it: no need to ask the apiserver
        if update_node_taints(self.client, name, add, remove):
            log.info("node %s is %s: NoExecute taints now %s", name, why,
                     [t["key"] for t in add] or "removed")

    def mark_pods_not_ready(self, node_name: str) -> None:
        """MarkPodsNotReady: nobody reports for these pods any more, so they serve no traffic."""
        for pod in self.pod_informer.store.by_index(NODE_NAME_INDEX, node_name):
            cond = get_condition(pod, "Ready")
            if cond is None or cond.get("status") == "False":
                continue
            if _meta(pod).get("deletionTimestamp"):
                continue
            fresh = copy.deepcopy(pod)
            for c in fresh["status"]["conditions"]:
                if c.get("type") == "Ready":
                    c["status"] = "False"
                    c["lastTransitionTime"] = now_rfc3339()
            try:
                self.client.update_status(PODS, fresh)
            except NotFoundError:
                continue
            self.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready")
