"""NodeName: a pod that names its node (`spec.nodeName`) fits only that node.

Pods created with nodeName set never reach this scheduler (they are not pending); the filter
still guards the framework's contract for anyone who runs it directly.
"""

from __future__ import annotations

from minik.scheduler.framework import (
    NODE_ADD,
    ClusterEventWithHint,
    CycleState,
    EnqueueExtensions,
    FilterPlugin,
    Status,
)
from minik.scheduler.node_info import NodeInfo
from minik.scheduler.plugins.helper import passes_filter
from minik.scheduler.pod_info import PodInfo

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


class NodeName(FilterPlugin, EnqueueExtensions):
    name = NAME
    _rejected = Status.unresolvable(ERR_REASON, plugin=NAME)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not pod.node_name or pod.node_name == node.name:
            return None
        return self._rejected

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(NODE_ADD, lambda pod, node: passes_filter(self, pod, node))]
