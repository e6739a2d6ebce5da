"""Pod garbage collector: force-delete pods no kubelet will ever finish.

- orphaned: bound to a node that no longer exists (checked with a live GET, so a node the cache
  has not seen yet is never mistaken for a deleted one);
- unscheduled and terminating: nothing runs them;
- terminating on a node that is not ready and tainted `node.kubernetes.io/out-of-service`;
- finished pods beyond --terminated-pod-gc-threshold, oldest first.

Force means gracePeriodSeconds=0: the pod leaves storage at once. Pods on a node that is merely
unreachable are not touched: they stay Terminating until the node comes back or is deleted,
as in Kubernetes. Runs every --pod-gc-period and right after a node is deleted.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from minik.api.errors import NotFoundError, StatusError
from minik.api.resources import Resource
from minik.client.informer import Informer
from minik.controllers.informers import InformerFactory, resource
from minik.controllers.podutil import is_pod_terminal
from minik.controllers.taints import NO_EXECUTE, TAINT_NODE_OUT_OF_SERVICE, node_taints
from minik.controllers.timeutil import parse_rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]

PODS: Resource = resource("pods")
NODES: Resource = resource("nodes")


class Client(Protocol):
    def get(self, r: Resource, name: str, namespace: str | None = None) -> Obj: ...

    def update_status(self, r: Resource, obj: Obj) -> Obj: ...

    def delete(self, r: Resource, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None,
               preconditions: Any = None) -> Obj: ...


def _meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


class PodGCController:
    name = "podgc"

    def __init__(self, client: Client, factory: InformerFactory, *, period: float = 20.0,
                 terminated_pod_threshold: int = 12500) -> None:
        self.client = client
        self.period = period
        self.threshold = terminated_pod_threshold
        self.pod_informer: Informer = factory.informer("pods")
        self.node_informer: Informer = factory.informer("nodes")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.node_informer.add_event_handler(on_delete=lambda node: self._wake.set())

    def informers(self) -> list[Informer]:
        return [self.pod_informer, self.node_informer]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="podgc", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.gc()
            except Exception:
                log.exception("pod garbage collection failed")
            self._wake.wait(self.period)
            self._wake.clear()

    def gc(self) -> None:
        pods = self.pod_informer.store.list()
        nodes = {str(_meta(n).get("name")): n for n in self.node_informer.store.list()}
        if self.threshold > 0:
            self.gc_terminated(pods)
        self.gc_terminating(pods, nodes)
        self.gc_orphaned(pods, nodes)
        self.gc_unscheduled_terminating(pods)

    def force_delete(self, pod: Obj, reason: str, message: str) -> None:
        m = _meta(pod)
        log.info("podgc: force-deleting pod %s/%s: %s", m.get("namespace"), m.get("name"), message)
        if not is_pod_terminal(pod):
            self.mark_failed(pod, reason, message)
        try:
            self.client.delete(PODS, str(m.get("name")), m.get("namespace"), grace_period_seconds=0,
                               preconditions={"uid": m.get("uid")})
        except NotFoundError:
            pass
        except StatusError as e:
            log.warning("podgc: deleting pod %s/%s failed: %s", m.get("namespace"), m.get("name"), e)

    def mark_failed(self, pod: Obj, reason: str, message: str) -> None:
        """markFailedAndDeletePodWithCondition: phase Failed plus a DisruptionTarget condition."""
        m = _meta(pod)
        try:
            fresh = self.client.get(PODS, str(m.get("name")), m.get("namespace"))
            status = fresh.setdefault("status", {})
            status["phase"] = "Failed"
            status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
            status["conditions"].append({"type": "DisruptionTarget", "status": "True", "reason": reason,
                                         "message": message})
            self.client.update_status(PODS, fresh)
        except StatusError as e:
            log.info("podgc: could not mark pod %s failed: %s", m.get("name"), e)

    def gc_terminated(self, pods: list[Obj]) -> None:
        terminated = [p for p in pods if is_pod_terminal(p)]
        excess = len(terminated) - self.threshold
        if excess <= 0:
            return
        terminated.sort(key=lambda p: parse_rfc3339(_meta(p).get("creationTimestamp")) or 0.0)
        for pod in terminated[:excess]:
            m = _meta(pod)
            try:
                self.client.delete(PODS, str(m.get("name")), m.get("namespace"), grace_period_seconds=0)
            except NotFoundError:
                continue

    def gc_orphaned(self, pods: list[Obj], nodes: dict[str, Obj]) -> None:
        missing: dict[str, bool] = {}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if not node or node in nodes:
                continue
            if node not in missing:
                try:
                    self.client.get(NODES, node)
                    missing[node] = False  # the cache is just behind
                except NotFoundError:
                    missing[node] = True
            if missing[node]:
                self.force_delete(pod, "DeletionByPodGC", "PodGC: node no longer exists")

    def gc_unscheduled_terminating(self, pods: list[Obj]) -> None:
        for pod in pods:
            if _meta(pod).get("deletionTimestamp") and not (pod.get("spec") or {}).get("nodeName"):
                self.force_delete(pod, "DeletionByPodGC", "PodGC: unscheduled pod is terminating")

    def gc_terminating(self, pods: list[Obj], nodes: dict[str, Obj]) -> None:
        out_of_service = set()
        for name, node in nodes.items():
            ready = next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"),
                         None)
            if ready is not None and ready.get("status") == "True":
                continue
            if any(t.get("key") == TAINT_NODE_OUT_OF_SERVICE and t.get("effect") == NO_EXECUTE
                   for t in node_taints(node)):
                out_of_service.add(name)
        if not out_of_service:
            return
        for pod in pods:
            if _meta(pod).get("deletionTimestamp") and (pod.get("spec") or {}).get("nodeName") in out_of_service:
                self.force_delete(pod, "DeletionByPodGC", "PodGC: node is out of service")
