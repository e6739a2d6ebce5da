"""The scheduling queue: activeQ, backoffQ and unschedulablePods, as in kube-scheduler.

- activeQ: pods to try now, highest priority first, then oldest (PrioritySort).
- backoffQ: pods that failed recently and wait out an exponential back-off (initial * 2^(n-1),
  capped), so a broken pod cannot monopolise the scheduler.
- unschedulablePods: pods no node fits. They are *not* polled: a cluster event that could make
  them fit (a node added, its labels/taints/allocatable/unschedulable changed, an assigned pod
  deleted) moves them back, and only if a plugin that rejected the pod registered for that event
  and its hint says the event helps. A long safety flush catches anything an event missed.

A pod popped for scheduling is "in flight"; events during its cycle cannot be judged for it, so
any relevant event bumps `move_request_cycle` and a pod failing in that cycle goes to backoffQ
instead of waiting for another event (kube-scheduler's moveRequestCycle).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from minik.scheduler.framework import (
    UNSCHEDULABLE_TIMEOUT,
    ClusterEvent,
    ClusterEventWithHint,
)
from minik.scheduler.node_info import NodeInfo
from minik.scheduler.pod_info import PodInfo

log = logging.getLogger(__name__)

DEFAULT_POD_INITIAL_BACKOFF = 1.0
DEFAULT_POD_MAX_BACKOFF = 10.0
# kube-scheduler uses 5 minutes; a lab wants to see a missed event healed sooner.
DEFAULT_MAX_IN_UNSCHEDULABLE = 60.0
UNSCHEDULABLE_FLUSH_PERIOD = 30.0


@dataclass(eq=False)
class QueuedPodInfo:
    pod_info: PodInfo
    timestamp: float  # when it last entered a queue (a failure resets it: back-off counts from here)
    attempts: int = 0
    initial_attempt_timestamp: float | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)
    seq: int = 0  # heap entry this info currently owns (older entries are stale)

    @property
    def key(self) -> str:
        return self.pod_info.uid


def pod_updated(old: PodInfo, new: PodInfo) -> bool:
    """Did something other than status/resourceVersion change? Our own condition patch must not
    count, or every failure would immediately requeue the pod."""
    a, b = old.obj, new.obj
    if a.get("spec") != b.get("spec"):
        return True
    ma, mb = a.get("metadata") or {}, b.get("metadata") or {}
    return bool(ma.get("labels") != mb.get("labels") or ma.get("annotations") != mb.get("annotations"))


class SchedulingQueue:
    def __init__(self, events: Sequence[tuple[str, ClusterEventWithHint]] = (), *,
                 pod_initial_backoff: float = DEFAULT_POD_INITIAL_BACKOFF,
                 pod_max_backoff: float = DEFAULT_POD_MAX_BACKOFF,
                 max_in_unschedulable: float = DEFAULT_MAX_IN_UNSCHEDULABLE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if pod_initial_backoff <= 0 or pod_max_backoff < pod_initial_backoff:
            raise ValueError("need 0 < pod initial backoff <= pod max backoff")
        self.events = list(events)
        self.pod_initial_backoff = pod_initial_backoff
        self.pod_max_backoff = pod_max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self._clock = clock
        self._cond = threading.Condition()
        self._seq = itertools.count(1)
        self._active: dict[str, QueuedPodInfo] = {}
        self._active_heap: list[tuple[int, float, int, str]] = []  # (-priority, timestamp, seq, uid)
        self._backoff: dict[str, QueuedPodInfo] = {}
        self._backoff_heap: list[tuple[float, int, str]] = []  # (backoff expiry, seq, uid)
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._in_flight: dict[str, QueuedPodInfo] = {}
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self._last_unschedulable_flush = clock()
        self._closed = False

    # --- adding ----------------------------------------------------------------------------

    def _push_active(self, qpi: QueuedPodInfo) -> None:
        qpi.seq = next(self._seq)
        self._active[qpi.key] = qpi
        heapq.heappush(self._active_heap, (-qpi.pod_info.priority, qpi.timestamp, qpi.seq, qpi.key))
        self._cond.notify()

    def _push_backoff(self, qpi: QueuedPodInfo) -> None:
        qpi.seq = next(self._seq)
        self._backoff[qpi.key] = qpi
        heapq.heappush(self._backoff_heap, (self.backoff_expiry(qpi), qpi.seq, qpi.key))
        self._cond.notify_all()  # a waiting pop may need to wake up earlier

    def add(self, pod: PodInfo) -> None:
        """A new pending pod (or one we lost track of): straight to activeQ."""
        with self._cond:
            if self._closed:
                return
            uid = pod.uid
            if uid in self._active or uid in self._backoff or uid in self._unschedulable \
                    or uid in self._in_flight:
                self._update_locked(None, pod)
                return
            self._push_active(QueuedPodInfo(pod, self._clock()))

    def update(self, old: PodInfo | None, new: PodInfo) -> None:
        with self._cond:
            if not self._closed:
                self._update_locked(old, new)

    def _update_locked(self, old: PodInfo | None, new: PodInfo) -> None:
        uid = new.uid
        if uid in self._active:
            qpi = self._active[uid]
            priority_changed = qpi.pod_info.priority != new.priority
            qpi.pod_info = new
            if priority_changed:
                self._push_active(qpi)  # re-heap; the old entry becomes stale
            return
        if uid in self._backoff:
            self._backoff[uid].pod_info = new
            return
        if uid in self._in_flight:
            # Judged after its cycle: a spec change during the cycle must not be lost.
            if pod_updated(old if old is not None else self._in_flight[uid].pod_info, new):
                self.move_request_cycle = self.scheduling_cycle
            return
        if uid in self._unschedulable:
            qpi = self._unschedulable[uid]
            changed = pod_updated(old if old is not None else qpi.pod_info, new)
            qpi.pod_info = new
            if changed:
                del self._unschedulable[uid]
                if self._backing_off(qpi):
                    self._push_backoff(qpi)
                else:
                    self._push_active(qpi)
            return
        self._push_active(QueuedPodInfo(new, self._clock()))

    def delete(self, uid: str) -> None:
        with self._cond:
            self._active.pop(uid, None)  # heap entries go stale and are skipped
            self._backoff.pop(uid, None)
            self._unschedulable.pop(uid, None)

    # --- popping ---------------------------------------------------------------------------

    def pop(self, timeout: float | None = None) -> QueuedPodInfo | None:
        """Block until a pod is ready (promoting finished back-offs on the way); None on close/timeout."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                self._flush_backoff_completed_locked()
                self._maybe_flush_unschedulable_locked()
                while self._active_heap:
                    _, _, seq, uid = heapq.heappop(self._active_heap)
                    qpi = self._active.get(uid)
                    if qpi is None or qpi.seq != seq:
                        continue
                    del self._active[uid]
                    self.scheduling_cycle += 1
                    qpi.attempts += 1
                    if qpi.initial_attempt_timestamp is None:
                        qpi.initial_attempt_timestamp = self._clock()
                    self._in_flight[uid] = qpi
                    return qpi
                if self._closed:
                    return None
                now = self._clock()
                wait = self._next_wakeup(now)
                if deadline is not None:
                    if now >= deadline:
                        return None
                    wait = deadline - now if wait is None else min(wait, deadline - now)
                self._cond.wait(wait)

    def _next_wakeup(self, now: float) -> float | None:
        waits: list[float] = []
        while self._backoff_heap:
            expiry, seq, uid = self._backoff_heap[0]
            qpi = self._backoff.get(uid)
            if qpi is None or qpi.seq != seq:
                heapq.heappop(self._backoff_heap)
                continue
            waits.append(max(0.0, expiry - now))
            break
        if self._unschedulable:
            waits.append(max(0.0, self._last_unschedulable_flush + UNSCHEDULABLE_FLUSH_PERIOD - now))
        return min(waits) if waits else None

    def done(self, uid: str) -> None:
        """The pod's cycle ended without a requeue (scheduled, deleted, or dropped)."""
        with self._cond:
            self._in_flight.pop(uid, None)

    # --- failures --------------------------------------------------------------------------

    def backoff_duration(self, qpi: QueuedPodInfo) -> float:
        duration = self.pod_initial_backoff
        for _ in range(1, qpi.attempts):
            if duration > self.pod_max_backoff - duration:
                return self.pod_max_backoff
            duration += duration
        return duration

    def backoff_expiry(self, qpi: QueuedPodInfo) -> float:
        return qpi.timestamp + self.backoff_duration(qpi)

    def _backing_off(self, qpi: QueuedPodInfo) -> bool:
        return self.backoff_expiry(qpi) > self._clock()

    def add_unschedulable_if_not_present(self, qpi: QueuedPodInfo, pod_scheduling_cycle: int,
                                         error: bool = False) -> None:
        """Requeue after a failed cycle: backoffQ if something may have changed (or it errored),
        else unschedulablePods until an event moves it."""
        with self._cond:
            self._in_flight.pop(qpi.key, None)
            if self._closed:
                return
            uid = qpi.key
            if uid in self._active or uid in self._backoff or uid in self._unschedulable:
                return
            qpi.timestamp = self._clock()
            if error or self.move_request_cycle >= pod_scheduling_cycle:
                self._push_backoff(qpi)
            else:
                self._unschedulable[uid] = qpi
                self._cond.notify_all()  # the leftover flush deadline may be the next wake-up

    # --- moving on events ------------------------------------------------------------------

    def _interested(self, qpi: QueuedPodInfo, event: ClusterEvent, node: NodeInfo | None) -> bool:
        if event is UNSCHEDULABLE_TIMEOUT:
            return True
        plugins = qpi.unschedulable_plugins
        if not plugins:
            return True  # rejected for no plugin's reason (e.g. no nodes at all): any event may help
        for name, registered in self.events:
            if name not in plugins or not event.matches(registered.event):
                continue
            if registered.hint is None:
                return True
            try:
                if registered.hint(qpi.pod_info, node):
                    return True
            except Exception:  # a broken hint must not strand the pod: assume the event helps
                log.exception("queueing hint of %s failed for pod %s", name, qpi.pod_info.key)
                return True
        return False

    def registered(self, event: ClusterEvent) -> bool:
        return any(event.matches(r.event) for _, r in self.events)

    def move_all_to_active_or_backoff_queue(self, event: ClusterEvent, node: NodeInfo | None = None) -> int:
        """Requeue unschedulable pods that `event` may help; returns how many moved.

        Callers that pass a NodeInfo hold the cache lock, so hints see a consistent node.
        """
        with self._cond:
            if self._closed or (event is not UNSCHEDULABLE_TIMEOUT and not self.registered(event)):
                return 0
            self.move_request_cycle = self.scheduling_cycle
            moved = 0
            for uid, qpi in list(self._unschedulable.items()):
                if not self._interested(qpi, event, node):
                    continue
                del self._unschedulable[uid]
                if self._backing_off(qpi):
                    self._push_backoff(qpi)
                else:
                    self._push_active(qpi)
                moved += 1
            if moved:
                log.debug("%s moved %d unschedulable pod(s)", event, moved)
            return moved

    def _flush_backoff_completed_locked(self) -> None:
        now = self._clock()
        while self._backoff_heap:
            expiry, seq, uid = self._backoff_heap[0]
            qpi = self._backoff.get(uid)
            if qpi is None or qpi.seq != seq:
                heapq.heappop(self._backoff_heap)
                continue
            if expiry > now:
                break
            heapq.heappop(self._backoff_heap)
            del self._backoff[uid]
            self._push_active(qpi)

    def _maybe_flush_unschedulable_locked(self) -> None:
        now = self._clock()
        if now - self._last_unschedulable_flush < UNSCHEDULABLE_FLUSH_PERIOD:
            return
        self._last_unschedulable_flush = now
        self._flush_unschedulable_leftover_locked(now)

    def _flush_unschedulable_leftover_locked(self, now: float) -> None:
        for uid, qpi in list(self._unschedulable.items()):
            if now - qpi.timestamp >= self.max_in_unschedulable:
                del self._unschedulable[uid]
                if self._backing_off(qpi):
                    self._push_backoff(qpi)
                else:
                    self._push_active(qpi)

    def flush_unschedulable_pods_leftover(self) -> None:
        """Safety net: pods stuck longer than max_in_unschedulable get another try."""
        with self._cond:
            self._flush_unschedulable_leftover_locked(self._clock())

    # --- lifecycle and introspection ---------------------------------------------------------

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def pending_pods(self) -> dict[str, list[str]]:
        """uid lists per sub-queue (for tests and debugging)."""
        with self._cond:
            return {"active": list(self._active), "backoff": list(self._backoff),
                    "unschedulable": list(self._unschedulable), "in_flight": list(self._in_flight)}

    def __len__(self) -> int:
        with self._cond:
            return len(self._active) + len(self._backoff) + len(self._unschedulable)
