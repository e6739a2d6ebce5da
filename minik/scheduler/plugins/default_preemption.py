"""DefaultPreemption, diagnosis only: say whether evicting lower-priority pods could help.

kube-scheduler runs preemption after every failed cycle and appends its verdict to the
FailedScheduling message (`preemption: 0/3 nodes are available: 3 Preemption is not helpful for
scheduling.`). minik does not evict anyone, but it computes the same verdict so users read the
same message: nodes a filter rejected as unresolvable are "not helpful"; on the others, a node
without lower-priority pods has "No preemption victims found for incoming pod", and otherwise
the filters run again with those pods removed. If that would make the pod fit somewhere,
Kubernetes would preempt and add no suffix; minik logs that it does not preempt and adds none.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from minik.scheduler.framework import (
    Code,
    CycleState,
    Diagnosis,
    Framework,
    PostFilterPlugin,
    Status,
    fit_error_message,
)
from minik.scheduler.node_info import NodeInfo
from minik.scheduler.pod_info import PodInfo

log = logging.getLogger(__name__)

NAME = "DefaultPreemption"
NOT_HELPFUL = Status.unresolvable("Preemption is not helpful for scheduling", plugin=NAME)
NO_VICTIMS = Status.unresolvable("No preemption victims found for incoming pod", plugin=NAME)


class DefaultPreemption(PostFilterPlugin):
    name = NAME

    def post_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                    node_to_status: dict[str, Status], fwk: Framework) -> Status | None:
        if (pod.pod.spec.model_extra or {}).get("preemptionPolicy") == "Never":
            return Status.unschedulable("preemption: not eligible due to preemptionPolicy=Never.", plugin=NAME)
        statuses: dict[str, Status] = {}
        candidates: list[str] = []
        for node in nodes:
            status = node_to_status.get(node.name)
            if status is None or status.code != Code.UNSCHEDULABLE:
                statuses[node.name] = NOT_HELPFUL
                continue
            victims = [p.uid for p in node.pods.values() if p.priority < pod.priority]
            if not victims:
                statuses[node.name] = NO_VICTIMS
                continue
            what_if = node.clone()
            for uid in victims:
                what_if.remove_pod(uid)
            after = fwk.run_filter_plugins(state, pod, what_if)
            if after is None or after.code == Code.SUCCESS:
                candidates.append(node.name)
            else:
                statuses[node.name] = after
        if candidates:
            log.info("pod %s could preempt lower-priority pods on %s; minik does not preempt",
                     pod.key, ", ".join(candidates[:5]))
            return Status(Code.UNSCHEDULABLE, plugin=NAME)
        message = fit_error_message(len(nodes), Diagnosis(node_to_status=statuses))
        return Status.unschedulable("preemption: " + message, plugin=NAME)
