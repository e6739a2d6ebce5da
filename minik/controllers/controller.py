"""The shape every controller shares: handlers enqueue keys, workers run an idempotent sync(key).

A failed sync is retried with per-key exponential back-off (client-go's rate-limited queue); a
successful one resets the back-off. A key is never synced by two workers at once, so sync never
needs locks of its own against itself.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from minik.api.errors import ConflictError, NotFoundError, StatusError
from minik.client.informer import Informer, meta_namespace_key
from minik.client.rest import ConnectionFailed
from minik.client.workqueue import RateLimitingQueue

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class Controller:
    """A work queue of `namespace/name` keys drained by `workers` threads calling `sync`."""

    name = "controller"

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)
        self.queue = RateLimitingQueue()
        self._threads: list[threading.Thread] = []

    # --- to implement ---------------------------------------------------------------------

    def informers(self) -> list[Informer]:
        """The caches sync reads; workers start only once all of them have synced."""
        return []

    def sync(self, key: str) -> None:
        raise NotImplementedError

    # --- queue helpers --------------------------------------------------------------------

    def enqueue(self, obj: Obj) -> None:
        try:
            self.queue.add(meta_namespace_key(obj))
        except ValueError:
            log.warning("%s: cannot enqueue an object without a name", self.name)

    def enqueue_after(self, obj: Obj, delay: float) -> None:
        try:
            self.queue.add_after(meta_namespace_key(obj), delay)
        except ValueError:
            log.warning("%s: cannot enqueue an object without a name", self.name)

    # --- running --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers (the manager calls this after the informers synced)."""
        for i in range(self.workers):
            t = threading.Thread(target=self._worker, name=f"{self.name}-{i}", daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.queue.shut_down()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout)

    def _worker(self) -> None:
        while self.process_next_work_item():
            pass

    def process_next_work_item(self, timeout: float | None = None) -> bool:
        """Sync one key; False once the queue shut down (or nothing arrived within timeout)."""
        key = self.queue.get(timeout)
        if key is None:
            return False
        try:
            self.sync(key)
            self.queue.forget(key)
        except Exception as e:  # every failure is retried with back-off; none may kill a worker
            self.handle_err(key, e)
        finally:
            self.queue.done(key)
        return True

    def handle_err(self, key: str, err: Exception) -> None:
        if isinstance(err, (ConflictError, NotFoundError)):
            log.info("%s: syncing %s: %s; requeued", self.name, key, err)
        elif isinstance(err, (StatusError, ConnectionFailed)):
            log.warning("%s: syncing %s failed: %s; requeued", self.name, key, err)
        else:
            log.exception("%s: syncing %s failed; requeued", self.name, key)
        self.queue.add_rate_limited(key)
