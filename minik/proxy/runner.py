"""A bounded-frequency runner (kube-proxy's BoundedFrequencyRunner, simplified).

Changes arrive in bursts (a rollout touches many Endpoints at once); one sync per change would
rewrite the whole ruleset dozens of times a second. Requests are therefore coalesced: a sync
runs at most once per `min_interval`, and at least once per `max_interval` even without any
request (the periodic full resync that repairs rules someone else deleted). A failed sync is
retried after `min_interval`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class BoundedFrequencyRunner:
    """Calls `fn(full)` from one thread; `full` is True on the first run, periodic runs and retries."""

    def __init__(self, fn: Callable[[bool], Any], min_interval: float, max_interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if min_interval < 0 or max_interval <= 0:
            raise ValueError("intervals must be positive")
        self.fn = fn
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.clock = clock
        self._cond = threading.Condition()
        self._pending = True  # the first run happens as soon as the loop starts
        self._force_full = True
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.runs = 0

    def run(self) -> None:
        """Ask for a sync soon (coalesced with every other request until it starts)."""
        with self._cond:
            self._pending = True
            self._cond.notify()

    def start(self) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self.loop, name="minik-proxy-sync", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def loop(self) -> None:
        last_run = last_full = -float("inf")
        while True:
            with self._cond:
                while not self._stopped:
                    now = self.clock()
                    if self._pending or now - last_full >= self.max_interval:
                        wake = last_run + self.min_interval
                        if now >= wake:
                            break
                    else:
                        wake = last_full + self.max_interval
                    self._cond.wait(max(0.0, wake - now))
                if self._stopped:
                    return
                full = self._force_full or self.clock() - last_full >= self.max_interval
                self._pending = self._force_full = False
            last_run = self.clock()
            try:
                self.fn(full)
            except Exception:
                log.exception("sync failed; retrying in %.1fs", self.min_interval)
                with self._cond:
                    self._pending = self._force_full = True
                continue
            finally:
                self.runs += 1
            if full:
                last_full = last_run
