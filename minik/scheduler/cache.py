"""The scheduler cache: nodes and the pods placed on them, including pods only *assumed* there.

Binding is an API call and the watch confirming it arrives later. Without assuming, the next
cycle would see the node as still free and two pods could take the same last slot. So a pod is
added to its node here the moment it is chosen (assume_pod), and the later informer add merely
confirms it. A failed bind forgets the pod; a pod whose binding finished but whose confirmation
never came (e.g. deleted while the watch was down) expires after a while.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from minik.api.core import Node
from minik.scheduler.node_info import NodeInfo
from minik.scheduler.pod_info import PodInfo

log = logging.getLogger(__name__)

# Older kube-scheduler's durationToExpireAssumedPod: only a safety net for lost confirmations.
ASSUMED_POD_TTL = 15 * 60.0


@dataclass
class _PodState:
    pod: PodInfo
    node_name: str
    assumed: bool
    binding_finished: bool = False
    deadline: float | None = None


class Cache:
    """Thread-safe; scheduling holds `lock` for a whole cycle so it reads one consistent state."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl: float = ASSUMED_POD_TTL) -> None:
        self.lock = threading.RLock()
        self._clock = clock
        self._ttl = ttl
        self._nodes: dict[str, NodeInfo] = {}
        self._node_list: list[NodeInfo] | None = []  # nodes that have a Node object, in add order
        self._pods: dict[str, _PodState] = {}  # pod uid -> state

    # --- nodes ---------------------------------------------------------------------------

    def add_node(self, node: Node) -> NodeInfo:
        name = node.metadata.name or ""
        with self.lock:
            info = self._nodes.get(name)
            if info is None:
                info = self._nodes[name] = NodeInfo(name)
            had_node = info.node is not None
            info.set_node(node)
            if not had_node:
                self._node_list = None
            return info

    update_node = add_node

    def remove_node(self, name: str) -> None:
        with self.lock:
            info = self._nodes.get(name)
            if info is None:
                return
            info.remove_node()
            if not info.pods:
                del self._nodes[name]
            self._node_list = None

    def node_infos(self) -> list[NodeInfo]:
        """Schedulable candidates: every node with a Node object (hold `lock` while using them)."""
        with self.lock:
            if self._node_list is None:
                self._node_list = [n for n in self._nodes.values() if n.node is not None]
            return self._node_list

    def get_node(self, name: str) -> NodeInfo | None:
        with self.lock:
            return self._nodes.get(name)

    def _node_for_pod(self, name: str) -> NodeInfo:
        info = self._nodes.get(name)
        if info is None:  # a pod bound to a node we have not seen (yet): account it anyway
            info = self._nodes[name] = NodeInfo(name)
        return info

    # --- assumed pods --------------------------------------------------------------------

    def assume_pod(self, pod: PodInfo, node_name: str) -> None:
        with self.lock:
            if pod.uid in self._pods:
                raise ValueError(f"pod {pod.key} ({pod.uid}) is in the cache, so can't be assumed")
            self._node_for_pod(node_name).add_pod(pod)
            self._pods[pod.uid] = _PodState(pod, node_name, assumed=True)

    def finish_binding(self, uid: str) -> None:
        """The bind call returned: start the expiry clock for a confirmation that might never come."""
        with self.lock:
            state = self._pods.get(uid)
            if state is not None and state.assumed:
                state.binding_finished = True
                state.deadline = self._clock() + self._ttl

    def forget_pod(self, uid: str) -> bool:
        """Undo assume_pod after a failed bind; a pod already confirmed by the informer stays."""
        with self.lock:
            state = self._pods.get(uid)
            if state is None or not state.assumed:
                return False
            self._remove(uid, state)
            return True

    def is_assumed(self, uid: str) -> bool:
        with self.lock:
            state = self._pods.get(uid)
            return state is not None and state.assumed

    def cleanup_expired_assumed_pods(self) -> list[PodInfo]:
        now = self._clock()
        expired: list[PodInfo] = []
        with self.lock:
            for uid, state in list(self._pods.items()):
                if state.assumed and state.binding_finished and state.deadline is not None \
                        and now >= state.deadline:
                    log.warning("assumed pod %s on %s expired without confirmation", state.pod.key,
                                state.node_name)
                    self._remove(uid, state)
                    expired.append(state.pod)
        return expired

    # --- bound pods (from the informer) ------------------------------------------------------

    def add_pod(self, pod: PodInfo) -> None:
        """A bound pod seen through the watch: confirms an assumed pod, or adds a new one."""
        node_name = pod.node_name
        with self.lock:
            state = self._pods.get(pod.uid)
            if state is not None:
                if state.node_name != node_name:  # bound elsewhere than we assumed (another binder)
                    log.warning("pod %s was assumed on %s but is bound to %s", pod.key, state.node_name, node_name)
                self._remove(pod.uid, state)
            self._node_for_pod(node_name).add_pod(pod)
            self._pods[pod.uid] = _PodState(pod, node_name, assumed=False)

    def confirm_assumed_pod(self, uid: str, node_name: str) -> bool:
        """The watch shows an assumed pod bound where we assumed it: keep its PodInfo, stop
        treating it as assumed. False (nothing changed) for any other pod; use add_pod then."""
        with self.lock:
            state = self._pods.get(uid)
            if state is None or not state.assumed or state.node_name != node_name:
                return False
            state.assumed = False
            state.deadline = None
            return True

    def update_pod(self, pod: PodInfo) -> None:
        self.add_pod(pod)

    def remove_pod(self, uid: str) -> NodeInfo | None:
        """Returns the node the pod was on (as it is now), for the queue's requeue hints."""
        with self.lock:
            state = self._pods.get(uid)
            if state is None:
                return None
            return self._remove(uid, state)

    def _remove(self, uid: str, state: _PodState) -> NodeInfo | None:
        del self._pods[uid]
        info = self._nodes.get(state.node_name)
        if info is None:
            return None
        info.remove_pod(uid)
        if info.node is None and not info.pods:
            del self._nodes[state.node_name]
        return info

    def pod_node(self, uid: str) -> str | None:
        with self.lock:
            state = self._pods.get(uid)
            return state.node_name if state else None

    def pod_count(self) -> int:
        with self.lock:
            return len(self._pods)
