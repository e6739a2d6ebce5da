"""NodeUnschedulable: cordoned nodes (`spec.unschedulable: true`) take no new pods.

A pod that tolerates the `node.kubernetes.io/unschedulable:NoSchedule` taint (DaemonSet pods do)
still fits, as in Kubernetes, where cordoning is exactly that taint.
"""

from __future__ import annotations

from minik.api.core import Taint
from minik.scheduler.framework import (
    NODE_ADD,
    NODE_SPEC_UNSCHEDULABLE_CHANGE,
    ClusterEventWithHint,
    CycleState,
    EnqueueExtensions,
    FilterPlugin,
    Status,
)
from minik.scheduler.node_info import NodeInfo
from minik.scheduler.plugins.helper import NO_SCHEDULE, passes_filter, tolerations_tolerate_taint
from minik.scheduler.pod_info import PodInfo

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
_UNSCHEDULABLE_TAINT = Taint(key=TAINT_NODE_UNSCHEDULABLE, effect=NO_SCHEDULE)


class NodeUnschedulable(FilterPlugin, EnqueueExtensions):
    name = NAME
    _rejected = Status.unresolvable(ERR_REASON_UNSCHEDULABLE, plugin=NAME)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable:
            return None
        if tolerations_tolerate_taint(pod.tolerations, _UNSCHEDULABLE_TAINT):
            return None
        return self._rejected

    def events_to_register(self) -> list[ClusterEventWithHint]:
        hint = lambda pod, node: passes_filter(self, pod, node)  # noqa: E731
        return [ClusterEventWithHint(NODE_ADD, hint), ClusterEventWithHint(NODE_SPEC_UNSCHEDULABLE_CHANGE, hint)]
