"""The scheduler: pop a pending pod, decide its node, assume it, bind it in the background.

Only one thread makes decisions (like kube-scheduler's scheduleOne loop), so decisions never
race each other; the slow part, the binding API call, runs in a thread pool while the next pod
is already being placed. Because the chosen node is *assumed* in the cache before binding
starts, the next decision already sees the slot as taken.

On failure the pod gets `PodScheduled=False` (reason Unschedulable, Kubernetes' message) and a
FailedScheduling event; on success a Scheduled event.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from minik.api.errors import ConflictError, NotFoundError
from minik.api.resources import Resource, lookup
from minik.client.events import EventRecorder
from minik.client.informer import Informer
from minik.client.rest import Client
from minik.scheduler.cache import Cache
from minik.scheduler.event_handlers import (
    ASSIGNED_PODS,
    DEFAULT_SCHEDULER_NAME,
    UNSCHEDULED_PODS,
    EventHandlers,
)
from minik.scheduler.framework import ASSIGNED_POD_DELETE, CycleState, FitError, Framework
from minik.scheduler.plugins import default_framework
from minik.scheduler.pod_info import PodInfo
from minik.scheduler.queue import (
    DEFAULT_MAX_IN_UNSCHEDULABLE,
    DEFAULT_POD_INITIAL_BACKOFF,
    DEFAULT_POD_MAX_BACKOFF,
    QueuedPodInfo,
    SchedulingQueue,
)
from minik.scheduler.schedule_one import NoNodesAvailable, ScheduleAlgorithm

log = logging.getLogger(__name__)

Obj = dict[str, Any]

POD_SCHEDULED = "PodScheduled"
REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULER_ERROR = "SchedulerError"
NOTE_LENGTH_LIMIT = 1024  # an Event's message limit


def truncate_message(message: str) -> str:
    """Event notes are limited to 1024 characters; kube-scheduler cuts with a " ..." suffix."""
    if len(message) <= NOTE_LENGTH_LIMIT:
        return message
    suffix = " ..."
    return message[: NOTE_LENGTH_LIMIT - len(suffix)] + suffix


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _resource(name: str) -> Resource:
    r = lookup(name)
    assert r is not None
    return r


class Scheduler:
    """Informers -> cache and queue -> one deciding thread -> a pool for API writes."""

    def __init__(self, client: Client, *, percentage_of_nodes_to_score: int = 0,
                 pod_initial_backoff: float = DEFAULT_POD_INITIAL_BACKOFF,
                 pod_max_backoff: float = DEFAULT_POD_MAX_BACKOFF,
                 max_in_unschedulable: float = DEFAULT_MAX_IN_UNSCHEDULABLE,
                 bind_workers: int = 16, scheduler_name: str = DEFAULT_SCHEDULER_NAME,
                 framework: Framework | None = None, algorithm: ScheduleAlgorithm | None = None) -> None:
        self.client = client
        self.scheduler_name = scheduler_name
        self.framework = framework or default_framework(binder=client)
        self.cache = Cache()
        self.queue = SchedulingQueue(self.framework.events, pod_initial_backoff=pod_initial_backoff,
                                     pod_max_backoff=pod_max_backoff, max_in_unschedulable=max_in_unschedulable)
        self.algorithm = algorithm or ScheduleAlgorithm(self.framework, percentage_of_nodes_to_score)
        self.recorder = EventRecorder(client, scheduler_name)
        self.handlers = EventHandlers(self.cache, self.queue, scheduler_name)
        pods, nodes = _resource("pods"), _resource("nodes")
        self.pending_informer = Informer(client, pods, field_selector=UNSCHEDULED_PODS)
        self.assigned_informer = Informer(client, pods, field_selector=ASSIGNED_PODS)
        self.node_informer = Informer(client, nodes)
        h = self.handlers
        self.node_informer.add_event_handler(h.add_node_to_cache, h.update_node_in_cache, h.delete_node_from_cache)
        self.assigned_informer.add_event_handler(h.add_pod_to_cache, h.update_pod_in_cache, h.delete_pod_from_cache)
        self.pending_informer.add_event_handler(h.add_pod_to_scheduling_queue, h.update_pod_in_scheduling_queue,
                                                self._on_pending_pod_deleted)
        self._api = ThreadPoolExecutor(max_workers=bind_workers, thread_name_prefix="scheduler-api")
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._written: dict[str, tuple[str, str]] = {}  # pod uid -> (reason, message) we last wrote
        self._stats_lock = threading.Lock()
        self.bind_seconds = 0.0
        self.scheduled = 0
        self.failed_attempts = 0

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, sync_timeout: float | None = 60.0) -> bool:
        """Start the informers and, once their caches are complete, the scheduling loop.

        Deciding before the bound pods and nodes are all cached would place pods on resources
        that are already taken, so the loop waits for the sync (pods queue up meanwhile).
        With sync_timeout None it waits until synced or request_stop(); returns False if stopped
        first, raises TimeoutError if the timeout passed.
        """
        informers = (self.node_informer, self.assigned_informer, self.pending_informer)
        for inf in informers:
            inf.start()
        deadline = None if sync_timeout is None else time.monotonic() + sync_timeout
        for inf in informers:
            while not inf.wait_for_sync(1.0):
                if self._stop.is_set():
                    return False
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"the {inf!r} cache did not sync within {sync_timeout:g}s")
                log.info("waiting for the %r cache to sync", inf)
        for target, name in ((self.run, "scheduler"), (self._housekeeping, "scheduler-housekeeping")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        log.info("scheduler started: %d node(s), %d pending pod(s)", len(self.cache.node_infos()), len(self.queue))
        return True

    def request_stop(self) -> None:
        """Ask the loop to stop (safe from a signal handler); stop() then cleans up."""
        self._stop.set()
        self.queue.close()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.schedule_one(timeout=0.5)
            except Exception:  # never let one pod's surprise stop scheduling for everyone
                log.exception("scheduling cycle failed")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop deciding, finish in-flight bindings and status writes, stop watching; idempotent."""
        self._stop.set()
        self.queue.close()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout)
        self._api.shutdown(wait=True)
        for inf in (self.pending_informer, self.assigned_informer, self.node_informer):
            inf.stop(timeout)
        self.recorder.flush(timeout)
        self.recorder.stop()

    def _housekeeping(self) -> None:
        while not self._stop.wait(1.0):
            for pod in self.cache.cleanup_expired_assumed_pods():
                with self.cache.lock:
                    self.queue.move_all_to_active_or_backoff_queue(
                        ASSIGNED_POD_DELETE, self.cache.get_node(pod.node_name))

    def _on_pending_pod_deleted(self, obj: Obj) -> None:
        self.handlers.delete_pod_from_scheduling_queue(obj)
        uid = (obj.get("metadata") or {}).get("uid")
        if uid and not (obj.get("spec") or {}).get("nodeName"):
            self._written.pop(str(uid), None)

    # --- one pod -------------------------------------------------------------------------

    def schedule_one(self, timeout: float | None = None) -> bool:
        """Try to place the next pod; False when the queue had nothing within `timeout`."""
        qpi = self.queue.pop(timeout)
        if qpi is None:
            return False
        cycle = self.queue.scheduling_cycle
        pod = qpi.pod_info
        if self._skip_pod_schedule(pod):
            self.queue.done(pod.uid)
            return True
        state = CycleState()
        try:
            with self.cache.lock:
                nodes = self.cache.node_infos()
                result = self.algorithm.schedule_pod(state, pod, nodes)
                self.cache.assume_pod(pod, result.suggested_host)
        except FitError as fit_error:
            if not isinstance(fit_error, NoNodesAvailable):
                with self.cache.lock:
                    status = self.framework.run_post_filter_plugins(
                        state, pod, self.cache.node_infos(), fit_error.diagnosis.node_to_status)
                fit_error.diagnosis.post_filter_msg = status.message() if status is not None else ""
            qpi.unschedulable_plugins = set(fit_error.diagnosis.unschedulable_plugins)
            log.info("unable to schedule pod %s: %s", pod.key, fit_error)
            self.handle_scheduling_failure(qpi, str(fit_error), REASON_UNSCHEDULABLE, cycle)
            return True
        except Exception as e:
            log.warning("error scheduling pod %s: %s", pod.key, e)
            qpi.unschedulable_plugins = set()
            self.handle_scheduling_failure(qpi, str(e), REASON_SCHEDULER_ERROR, cycle, error=True)
            return True
        log.debug("pod %s: node %s (%d evaluated, %d feasible)", pod.key, result.suggested_host,
                  result.evaluated_nodes, result.feasible_nodes)
        try:
            self._api.submit(self.binding_cycle, state, qpi, result.suggested_host, cycle)
        except RuntimeError:  # shutting down: the pod stays pending for the next scheduler
            self.cache.forget_pod(pod.uid)
            self.queue.done(pod.uid)
        return True

    def _skip_pod_schedule(self, pod: PodInfo) -> bool:
        current = self.pending_informer.store.get(pod.key)
        if current is None or (current.get("metadata") or {}).get("uid") != pod.pod.metadata.uid:
            return True  # deleted (or replaced) while queued
        if pod.pod.metadata.deletion_timestamp:
            return True
        return self.cache.is_assumed(pod.uid)

    def binding_cycle(self, state: CycleState, qpi: QueuedPodInfo, node_name: str, cycle: int) -> None:
        pod = qpi.pod_info
        t0 = time.perf_counter()
        status = self.framework.run_bind_plugins(state, pod, node_name)
        elapsed = time.perf_counter() - t0
        with self._stats_lock:
            self.bind_seconds += elapsed
        if status is None:
            self.cache.finish_binding(pod.uid)
            self.queue.done(pod.uid)
            self._written.pop(pod.uid, None)
            with self._stats_lock:
                self.scheduled += 1
            self.recorder.event(pod.obj, "Normal", "Scheduled",
                                f"Successfully assigned {pod.namespace}/{pod.name} to {node_name}")
            return
        # The slot we assumed is free again: pods waiting for room may fit there now.
        with self.cache.lock:
            if self.cache.forget_pod(pod.uid):
                self.queue.move_all_to_active_or_backoff_queue(ASSIGNED_POD_DELETE, self.cache.get_node(node_name))
        if isinstance(status.err, ConflictError | NotFoundError):
            # Already assigned (by someone else, or a retry of ours that did land) or gone.
            log.info("dropping pod %s: binding to %s answered %s", pod.key, node_name, status.message())
            self.queue.done(pod.uid)
            return
        message = f'Binding rejected: running Bind plugin "{status.plugin}": {status.message()}'
        log.warning("pod %s: %s", pod.key, message)
        qpi.unschedulable_plugins = set()
        self.handle_scheduling_failure(qpi, message, REASON_SCHEDULER_ERROR, cycle, error=True, inline=True)

    # --- failures ------------------------------------------------------------------------

    def handle_scheduling_failure(self, qpi: QueuedPodInfo, message: str, reason: str, cycle: int,
                                  error: bool = False, inline: bool = False) -> None:
        """Requeue with the pod's latest version, then tell the user (event + PodScheduled condition).

        The API writes run in the pool, off the scheduling thread, or `inline` when already there.
        """
        with self._stats_lock:
            self.failed_attempts += 1
        pod = qpi.pod_info
        current = self.pending_informer.store.get(pod.key)
        if current is None or (current.get("metadata") or {}).get("uid") != pod.pod.metadata.uid:
            log.info("pod %s was deleted while being scheduled: not requeued", pod.key)
            self.queue.done(pod.uid)
            return
        if (current.get("spec") or {}).get("nodeName"):
            self.queue.done(pod.uid)
            return
        if current is not pod.obj:
            latest = PodInfo.parse(current)
            if latest is not None:
                qpi.pod_info = pod = latest
        self.queue.add_unschedulable_if_not_present(qpi, cycle, error=error)
        if inline:
            self.report_failure(current, reason, message)
            return
        with contextlib.suppress(RuntimeError):  # shutting down: the next scheduler reports it
            self._api.submit(self.report_failure, current, reason, message)

    def report_failure(self, obj: Obj, reason: str, message: str) -> None:
        """Condition first, then the event: once a user sees the event, the condition is settled."""
        self.update_pod_condition(obj, reason, message)
        self.recorder.event(obj, "Warning", "FailedScheduling", truncate_message(message))

    def update_pod_condition(self, obj: Obj, reason: str, message: str) -> None:
        """PATCH PodScheduled=False unless the pod already says exactly this."""
        meta = obj.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        conditions = (obj.get("status") or {}).get("conditions") or []
        current = next((c for c in conditions if isinstance(c, dict) and c.get("type") == POD_SCHEDULED), None)
        if current is not None and current.get("status") == "False" and current.get("reason") == reason \
                and current.get("message") == message:
            return
        if self._written.get(uid) == (reason, message):
            return  # written already; the watch has not shown it yet
        transition = current.get("lastTransitionTime") if current is not None and current.get("status") == "False" \
            else None
        condition = {"type": POD_SCHEDULED, "status": "False", "lastProbeTime": None,
                     "lastTransitionTime": transition or _now(), "reason": reason, "message": message}
        self._patch_pod_status(str(meta.get("namespace") or ""), str(meta.get("name")), uid,
                               {"status": {"conditions": [condition]}})
        self._written[uid] = (reason, message)

    def _patch_pod_status(self, namespace: str, name: str, uid: str, patch: Obj) -> None:
        try:
            self.client.patch(_resource("pods"), name, patch, namespace, patch_type="strategic",
                              subresource="status")
        except NotFoundError:
            pass
        except Exception as e:
            log.warning("could not update the PodScheduled condition of %s/%s: %s", namespace, name, e)
