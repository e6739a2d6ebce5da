"""Informer callbacks: keep the cache current and tell the queue what changed.

Three informers, as in kube-scheduler: pending pods (`spec.nodeName=`) feed the queue; bound pods
(`spec.nodeName!=`) feed the cache's resource accounting; nodes feed the cache. Terminated pods
are excluded from both pod informers, so a finished pod frees its node's resources.
Handlers run on informer threads and must be quick: they only update memory.
"""

from __future__ import annotations

import logging
from typing import Any

from minik.api.core import Node
from minik.scheduler.cache import Cache
from minik.scheduler.framework import (
    ASSIGNED_POD_DELETE,
    NODE_ADD,
    NODE_ALLOCATABLE_CHANGE,
    NODE_CONDITION_CHANGE,
    NODE_LABEL_CHANGE,
    NODE_SPEC_UNSCHEDULABLE_CHANGE,
    NODE_TAINT_CHANGE,
    ClusterEvent,
)
from minik.scheduler.pod_info import PodInfo
from minik.scheduler.queue import SchedulingQueue

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DEFAULT_SCHEDULER_NAME = "default-scheduler"
# Field selectors of the two pod informers (terminated pods hold no resources and need no node).
UNSCHEDULED_PODS = "spec.nodeName=,status.phase!=Succeeded,status.phase!=Failed"
ASSIGNED_PODS = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"


def responsible_for_pod(obj: Obj, scheduler_name: str = DEFAULT_SCHEDULER_NAME) -> bool:
    name = (obj.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME
    return bool(name == scheduler_name)


def _parse_node(obj: Obj) -> Node | None:
    try:
        node = Node.model_validate(obj)
    except Exception as e:
        log.warning("ignoring node %r that cannot be parsed: %s", (obj.get("metadata") or {}).get("name"), e)
        return None
    return node if node.metadata.name else None


def node_scheduling_properties_change(old: Node, new: Node) -> list[ClusterEvent]:
    """Which schedulable properties changed (kube-scheduler's nodeSchedulingPropertiesChange)."""
    events: list[ClusterEvent] = []
    if bool(old.spec.unschedulable) != bool(new.spec.unschedulable):
        events.append(NODE_SPEC_UNSCHEDULABLE_CHANGE)
    old_alloc = old.status.allocatable if old.status else None
    new_alloc = new.status.allocatable if new.status else None
    if (old_alloc or {}) != (new_alloc or {}):
        events.append(NODE_ALLOCATABLE_CHANGE)
    if (old.metadata.labels or {}) != (new.metadata.labels or {}):
        events.append(NODE_LABEL_CHANGE)
    if [t.to_dict() for t in old.spec.taints or []] != [t.to_dict() for t in new.spec.taints or []]:
        events.append(NODE_TAINT_CHANGE)
    old_conds = old.status.conditions if old.status else None
    new_conds = new.status.conditions if new.status else None
    if [(c.type, c.status) for c in old_conds or []] != [(c.type, c.status) for c in new_conds or []]:
        events.append(NODE_CONDITION_CHANGE)
    return events


class EventHandlers:
    def __init__(self, cache: Cache, queue: SchedulingQueue,
                 scheduler_name: str = DEFAULT_SCHEDULER_NAME) -> None:
        self.cache = cache
        self.queue = queue
        self.scheduler_name = scheduler_name

    # --- pending pods ------------------------------------------------------------------------

    def add_pod_to_scheduling_queue(self, obj: Obj) -> None:
        if not responsible_for_pod(obj, self.scheduler_name):
            return
        pod = PodInfo.parse(obj)
        if pod is None or pod.node_name:
            return
        if self.cache.is_assumed(pod.uid):
            return  # a relist while its binding is in flight
        self.queue.add(pod)

    def update_pod_in_scheduling_queue(self, old_obj: Obj, new_obj: Obj) -> None:
        if not responsible_for_pod(new_obj, self.scheduler_name):
            return
        old_rv = (old_obj.get("metadata") or {}).get("resourceVersion")
        if old_rv and old_rv == (new_obj.get("metadata") or {}).get("resourceVersion"):
            return  # a resync, not a change
        new = PodInfo.parse(new_obj)
        if new is None or new.node_name or self.cache.is_assumed(new.uid):
            return
        self.queue.update(PodInfo.parse(old_obj), new)

    def delete_pod_from_scheduling_queue(self, obj: Obj) -> None:
        uid = (obj.get("metadata") or {}).get("uid")
        if uid:
            self.queue.delete(str(uid))

    # --- bound pods --------------------------------------------------------------------------

    def add_pod_to_cache(self, obj: Obj) -> None:
        uid = (obj.get("metadata") or {}).get("uid")
        node_name = (obj.get("spec") or {}).get("nodeName")
        if uid and node_name and self.cache.confirm_assumed_pod(str(uid), str(node_name)):
            return  # our own binding arriving: the assumed PodInfo already has everything
        pod = PodInfo.parse(obj)
        if pod is None or not pod.node_name:
            return
        self.cache.add_pod(pod)

    def update_pod_in_cache(self, old_obj: Obj, new_obj: Obj) -> None:
        old_rv = (old_obj.get("metadata") or {}).get("resourceVersion")
        if old_rv and old_rv == (new_obj.get("metadata") or {}).get("resourceVersion"):
            return
        self.add_pod_to_cache(new_obj)

    def delete_pod_from_cache(self, obj: Obj) -> None:
        uid = (obj.get("metadata") or {}).get("uid")
        if not uid:
            return
        with self.cache.lock:
            node = self.cache.remove_pod(str(uid))
            # Its resources are free now: pods waiting for room may fit.
            self.queue.move_all_to_active_or_backoff_queue(ASSIGNED_POD_DELETE, node)

    # --- nodes -------------------------------------------------------------------------------

    def add_node_to_cache(self, obj: Obj) -> None:
        node = _parse_node(obj)
        if node is None:
            return
        with self.cache.lock:
            info = self.cache.add_node(node)
            self.queue.move_all_to_active_or_backoff_queue(NODE_ADD, info)

    def update_node_in_cache(self, old_obj: Obj, new_obj: Obj) -> None:
        new = _parse_node(new_obj)
        if new is None:
            return
        old = _parse_node(old_obj)
        with self.cache.lock:
            known = self.cache.get_node(new.metadata.name or "")
            info = self.cache.update_node(new)
            if old is None or known is None or known.node is None:
                self.queue.move_all_to_active_or_backoff_queue(NODE_ADD, info)
                return
            for event in node_scheduling_properties_change(old, new):
                self.queue.move_all_to_active_or_backoff_queue(event, info)

    def delete_node_from_cache(self, obj: Obj) -> None:
        name = (obj.get("metadata") or {}).get("name")
        if name:
            self.cache.remove_node(str(name))
