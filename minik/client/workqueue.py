"""client-go's rate-limited work queue: what turns a storm of events into one sync per key.

Guarantees (the ones controllers rely on):
- a key is queued at most once, however often it is added (dedupe);
- a key is never handed to two workers at once: adding it while it is being processed marks it
  dirty, and `done` puts it back in the queue;
- `add_after`/`add_rate_limited` delay a key without a timer thread (getters promote due keys);
- after `shut_down`, adds are ignored and `get` hands out what is left, then returns None.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol


class RateLimiter(Protocol):
    def when(self, item: str) -> float:
        """Seconds to wait before the item's next try (and count the try)."""
        ...

    def forget(self, item: str) -> None: ...

    def num_requeues(self, item: str) -> int: ...


class ItemExponentialFailureRateLimiter:
    """base * 2^failures per item, capped at max_delay: backs off a key that keeps failing."""

    def __init__(self, base: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base = base
        self.max_delay = max_delay
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()

    def when(self, item: str) -> float:
        with self._lock:
            exp = self._failures.get(item, 0)
            self._failures[item] = exp + 1
        if exp >= 64:
            return self.max_delay
        return min(self.base * (2 ** exp), self.max_delay)

    def forget(self, item: str) -> None:
        with self._lock:
            self._failures.pop(item, None)

    def num_requeues(self, item: str) -> int:
        with self._lock:
            return self._failures.get(item, 0)


class BucketRateLimiter:
    """Token bucket over all items (qps, burst): caps the overall retry rate, like rate.Limiter.

    Each `when` reserves one token; once the bucket is empty the reservation lies in the future
    and its wait is returned.
    """

    def __init__(self, qps: float = 10.0, burst: int = 100,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("qps must be > 0 and burst >= 1")
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def when(self, item: str) -> float:
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, item: str) -> None:
        pass

    def num_requeues(self, item: str) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay any of its limiters asks for."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self.limiters = limiters

    def when(self, item: str) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: str) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: str) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter() -> RateLimiter:
    """client-go's DefaultControllerRateLimiter: per-key 5ms..1000s backoff, overall 10 qps / 100 burst."""
    return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.005, 1000.0), BucketRateLimiter(10.0, 100))


class RateLimitingQueue:
    """Deduplicating FIFO of keys with delayed and rate-limited adds; safe for many workers."""

    def __init__(self, rate_limiter: RateLimiter | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_limiter = rate_limiter if rate_limiter is not None else default_controller_rate_limiter()
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiting: list[tuple[float, int, str]] = []  # heap of (ready_at, seq, key)
        self._ready_at: dict[str, float] = {}  # key -> earliest ready time among waiting entries
        self._seq = 0
        self._shutting_down = False

    # --- plain queue ---------------------------------------------------------------------

    def add(self, key: str) -> None:
        with self._cond:
            self._add_locked(key)

    def _add_locked(self, key: str) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # re-queued by done()
        self._queue.append(key)
        self._cond.notify()

    def get(self, timeout: float | None = None) -> str | None:
        """Next key to process (the caller must call done(key)); None on shutdown or timeout."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                self._promote_due_locked()
                if self._queue:
                    key = self._queue.popleft()
                    self._processing.add(key)
                    self._dirty.discard(key)
                    return key
                if self._shutting_down:
                    return None
                now = self._clock()
                wait: float | None = None
                if deadline is not None:
                    wait = deadline - now
                    if wait <= 0:
                        return None
                if self._waiting:
                    until_next = max(0.0, self._waiting[0][0] - now)
                    wait = until_next if wait is None else min(wait, until_next)
                self._cond.wait(wait)

    def done(self, key: str) -> None:
        """Processing finished; a key added meanwhile goes back in the queue now."""
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._cond.notify()

    def shut_down(self) -> None:
        """Ignore new adds and drop delayed ones; getters drain the queue, then get None."""
        with self._cond:
            self._shutting_down = True
            self._waiting.clear()
            self._ready_at.clear()
            self._cond.notify_all()

    def shutting_down(self) -> bool:
        with self._cond:
            return self._shutting_down

    def __len__(self) -> int:
        with self._cond:
            self._promote_due_locked()
            return len(self._queue)

    # --- delaying ------------------------------------------------------------------------

    def add_after(self, key: str, delay: float) -> None:
        """Add once `delay` seconds have passed; an earlier pending time for the same key wins."""
        with self._cond:
            if self._shutting_down:
                return
            if delay <= 0:
                self._add_locked(key)
                return
            ready = self._clock() + delay
            current = self._ready_at.get(key)
            if current is not None and current <= ready:
                return
            self._ready_at[key] = ready
            self._seq += 1
            heapq.heappush(self._waiting, (ready, self._seq, key))
            self._cond.notify_all()  # a getter may now need to wake earlier

    def _promote_due_locked(self) -> None:
        now = self._clock()
        while self._waiting and self._waiting[0][0] <= now:
            ready, _, key = heapq.heappop(self._waiting)
            if self._ready_at.get(key) != ready:
                continue  # superseded by an earlier add_after for this key
            del self._ready_at[key]
            self._add_locked(key)

    # --- rate limiting -------------------------------------------------------------------

    def add_rate_limited(self, key: str) -> None:
        """Re-add after the rate limiter's delay: call this when sync(key) failed."""
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: str) -> None:
        """sync(key) succeeded: reset its back-off (does not remove it from the queue)."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: str) -> int:
        return self.rate_limiter.num_requeues(key)
