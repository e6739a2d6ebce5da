"""Pod workers: one thread per pod UID, so one pod's syncs never overlap and a slow one (a 30 s graceful
stop, an image pull) never holds up another pod (the kubelet's podWorkers, one goroutine per pod).

`update(uid)` asks for a sync soon; updates that arrive during a sync are coalesced into one more sync
after it. A sync returns when to look again (back-off expiry, a retry) and whether the pod is finished
for good, in which case its worker ends. Every live worker also resyncs every `resync_interval`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

ERROR_BACKOFF_INITIAL = 0.5
ERROR_BACKOFF_MAX = 10.0


@dataclass
class WorkResult:
    done: bool = False
    requeue_after: float | None = None


class _Worker:
    def __init__(self, uid: str) -> None:
        self.uid = uid
        self.pending = True
        self.due: float | None = None
        self.thread: threading.Thread | None = None


class PodWorkers:
    def __init__(self, sync: Callable[[str], WorkResult], resync_interval: float = 60.0) -> None:
        self.sync = sync
        self.resync_interval = resync_interval
        self._workers: dict[str, _Worker] = {}
        self._cond = threading.Condition()
        self._stopped = False

    def update(self, uid: str) -> None:
        with self._cond:
            if self._stopped or not uid:
                return
            worker = self._workers.get(uid)
            if worker is None:
                worker = _Worker(uid)
                self._workers[uid] = worker
                worker.thread = threading.Thread(target=self._run, args=(worker,), name=f"pod-worker-{uid[:8]}",
                                                 daemon=True)
                worker.thread.start()
            worker.pending = True
            self._cond.notify_all()

    def uids(self) -> list[str]:
        with self._cond:
            return list(self._workers)

    def is_working(self, uid: str) -> bool:
        with self._cond:
            return uid in self._workers

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopped = True
            threads = [w.thread for w in self._workers.values() if w.thread is not None]
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _wait(self, worker: _Worker) -> bool:
        """Block until the worker has something to do; False when stopping."""
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                if worker.pending or (worker.due is not None and now >= worker.due):
                    worker.pending = False
                    worker.due = None
                    return True
                timeout = (worker.due - now) if worker.due is not None else None
                self._cond.wait(timeout)
            return False

    def _run(self, worker: _Worker) -> None:
        backoff = ERROR_BACKOFF_INITIAL
        while self._wait(worker):
            try:
                result = self.sync(worker.uid)
                backoff = ERROR_BACKOFF_INITIAL
            except Exception as error:  # a bad pod must not kill its worker: retry with back-off
                log.exception("sync of pod %s failed: %s", worker.uid, error)
                result = WorkResult(requeue_after=backoff)
                backoff = min(backoff * 2, ERROR_BACKOFF_MAX)
            with self._cond:
                if result.done and not worker.pending:
                    if self._workers.get(worker.uid) is worker:
                        del self._workers[worker.uid]
                    return
                delay = self.resync_interval if result.requeue_after is None else \
                    min(result.requeue_after, self.resync_interval)
                due = time.monotonic() + delay
                worker.due = due if worker.due is None else min(worker.due, due)
