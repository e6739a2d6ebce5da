"""Taint eviction controller (the NoExecute taint manager): delete pods a node's NoExecute taints
no longer allow.

A pod that does not tolerate every NoExecute taint of its node is deleted at once; one that
tolerates them all is deleted after the shortest tolerationSeconds among the tolerations used
(counted from when the taint was first seen), or never without tolerationSeconds. Removing the
taint in time cancels the eviction. The deletion is an ordinary graceful one: on an unreachable
node nobody finishes it, so the pod stays Terminating (as in Kubernetes) while its controller
already replaces it elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from minik.api.errors import NotFoundError, StatusError
from minik.api.resources import Resource
from minik.client.informer import Informer, split_key
from minik.client.workqueue import RateLimitingQueue
from minik.controllers.informers import NODE_NAME_INDEX, InformerFactory, node_name_index, resource
from minik.controllers.pod_control import Recorder
from minik.controllers.podutil import pod_key
from minik.controllers.taints import NO_EXECUTE, matching_tolerations, min_toleration_seconds, node_taints

log = logging.getLogger(__name__)

Obj = dict[str, Any]

PODS: Resource = resource("pods")


class Client(Protocol):
    def get(self, r: Resource, name: str, namespace: str | None = None) -> Obj: ...

    def update_status(self, r: Resource, obj: Obj) -> Obj: ...

    def delete(self, r: Resource, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None,
               preconditions: Any = None) -> Obj: ...


def _meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def no_execute_taints(node: Obj | None) -> list[Obj]:
    return [t for t in node_taints(node or {}) if t.get("effect") == NO_EXECUTE]


class TaintEvictionController:
    name = "taint-eviction-controller"

    def __init__(self, client: Client, factory: InformerFactory, recorder: Recorder,
                 clock: Any = time.monotonic) -> None:
        self.client = client
        self.recorder = recorder
        self.clock = clock
        self.pod_informer: Informer = factory.add_index("pods", NODE_NAME_INDEX, node_name_index)
        self.node_informer: Informer = factory.informer("nodes")
        # pod key -> (first seen at, evict at), on our clock; the queue is the timer
        self.scheduled: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()
        self.queue = RateLimitingQueue()
        self._started = False
        self._thread: threading.Thread | None = None
        self.pod_informer.add_event_handler(self.on_pod, lambda old, cur: self.on_pod_update(old, cur),
                                            self.on_pod_delete)
        self.node_informer.add_event_handler(self.on_node, self.on_node_update, None)

    def informers(self) -> list[Informer]:
        return [self.pod_informer, self.node_informer]

    def start(self) -> None:
        self._started = True
        for node in self.node_informer.store.list():
            self.on_node(node)  # pods on nodes tainted while we were not running
        self._thread = threading.Thread(target=self._worker, name="taint-eviction", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.queue.shut_down()
        if self._thread is not None:
            self._thread.join(timeout)

    # --- handlers -------------------------------------------------------------------------

    def on_pod(self, pod: Obj) -> None:
        if self._started:
            self.process_pod(pod)

    def on_pod_update(self, old: Obj, cur: Obj) -> None:
        if not self._started:
            return
        if ((old.get("spec") or {}).get("nodeName") == (cur.get("spec") or {}).get("nodeName")
                and (old.get("spec") or {}).get("tolerations") == (cur.get("spec") or {}).get("tolerations")
                and bool(_meta(old).get("deletionTimestamp")) == bool(_meta(cur).get("deletionTimestamp"))):
            return
        self.process_pod(cur)

    def on_pod_delete(self, pod: Obj) -> None:
        with self.lock:
            self.scheduled.pop(pod_key(pod), None)

    def on_node(self, node: Obj) -> None:
        if not self._started:
            return
        for pod in self.pod_informer.store.by_index(NODE_NAME_INDEX, str(_meta(node).get("name"))):
            self.process_pod(pod, node)

    def on_node_update(self, old: Obj, cur: Obj) -> None:
        if no_execute_taints(old) != no_execute_taints(cur):
            self.on_node(cur)

    # --- decisions ------------------------------------------------------------------------

    def process_pod(self, pod: Obj, node: Obj | None = None) -> None:
        key = pod_key(pod)
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name or _meta(pod).get("deletionTimestamp"):
            self.cancel(pod, event=False)
            return
        if node is None:
            node = self.node_informer.store.get_by_key(str(node_name))
            if node is None:
                return
        taints = no_execute_taints(node)
        if not taints:
            self.cancel(pod)
            return
        tolerations = [t for t in (pod.get("spec") or {}).get("tolerations") or [] if isinstance(t, dict)]
        now = self.clock()
        all_tolerated, used = matching_tolerations(taints, tolerations)
        if not all_tolerated:
            log.info("pod %s does not tolerate the NoExecute taints of %s: evicting", key, node_name)
            self.schedule(key, now, now)
            return
        seconds = min_toleration_seconds(used)
        if seconds is None:
            self.cancel(pod)  # tolerated forever
            return
        with self.lock:
            current = self.scheduled.get(key)
        started = current[0] if current is not None else now
        self.schedule(key, started, started + seconds)

    def schedule(self, key: str, started: float, at: float) -> None:
        with self.lock:
            current = self.scheduled.get(key)
            if current is not None and current[1] <= at:
                return
            self.scheduled[key] = (started, at)
        self.queue.add_after(key, max(0.0, at - self.clock()))

    def cancel(self, pod: Obj, event: bool = True) -> None:
        key = pod_key(pod)
        with self.lock:
            was = self.scheduled.pop(key, None)
        if was is not None and event:
            self.recorder.event(pod, "Normal", "TaintManagerEviction", f"Cancelling deletion of Pod {key}")

    # --- the timer ------------------------------------------------------------------------

    def _worker(self) -> None:
        while True:
            key = self.queue.get()
            if key is None:
                return
            try:
                self.fire(key)
            except Exception:
                log.exception("evicting %s failed; retrying", key)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    def fire(self, key: str) -> None:
        with self.lock:
            entry = self.scheduled.get(key)
        if entry is None:
            return  # cancelled
        remaining = entry[1] - self.clock()
        if remaining > 0:
            self.queue.add_after(key, remaining)
            return
        self.evict(key)
        with self.lock:
            if self.scheduled.get(key) == entry:
                del self.scheduled[key]

    def evict(self, key: str) -> None:
        namespace, name = split_key(key)
        pod = self.pod_informer.store.get_by_key(key)
        if pod is None or _meta(pod).get("deletionTimestamp"):
            return
        self.recorder.event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {key}")
        self.add_disruption_condition(pod)
        try:
            self.client.delete(PODS, name, namespace)  # a failure is retried with back-off by the worker
        except NotFoundError:
            return

    def add_disruption_condition(self, pod: Obj) -> None:
        """DisruptionTarget tells the pod's owner why it went (best effort)."""
        try:
            fresh = self.client.get(PODS, _meta(pod)["name"], _meta(pod)["namespace"])
            conditions = [c for c in (fresh.get("status") or {}).get("conditions") or []
                          if c.get("type") != "DisruptionTarget"]
            conditions.append({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                               "message": "Taint manager: deleting due to NoExecute taint"})
            fresh.setdefault("status", {})["conditions"] = conditions
            self.client.update_status(PODS, fresh)
        except StatusError as e:
            log.info("could not mark pod %s as disrupted: %s", _meta(pod).get("name"), e)
