"""client-go's ControllerExpectations: what a controller asked for and has not seen in its cache yet.

A controller that just created 3 pods must not create them again because its informer has not
delivered them yet. It records "expect 3 adds" before creating; the pod informer's handlers lower
the count as the pods arrive; sync only manages replicas again once the count reached zero (or the
record expired, in case a watch event was lost). Deletions are tracked by pod key, so a pod seen
first with a deletionTimestamp and then deleted is counted once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

EXPECTATIONS_TIMEOUT = 300.0  # seconds, like client-go's ExpectationsTimeout


@dataclass
class _Expectee:
    add: int = 0
    delete: int = 0
    timestamp: float = 0.0
    deleting: set[str] = field(default_factory=set)

    def fulfilled(self) -> bool:
        return self.add <= 0 and self.delete <= 0


class ControllerExpectations:
    """Per controller key: pending creations and (tracked) deletions."""

    def __init__(self, ttl: float = EXPECTATIONS_TIMEOUT, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._store: dict[str, _Expectee] = {}

    def satisfied_expectations(self, key: str) -> bool:
        """True when the controller may act on its cache: nothing pending, expired, or never set."""
        with self._lock:
            e = self._store.get(key)
            if e is None:
                return True
            if e.fulfilled():
                return True
            if self._clock() - e.timestamp > self.ttl:
                log.info("expectations for %s expired (add %d, delete %d)", key, e.add, e.delete)
                return True
            return False

    def set_expectations(self, key: str, adds: int, delete_keys: Iterable[str]) -> None:
        """Both at once (the DaemonSet controller creates and deletes in one round)."""
        keys = set(delete_keys)
        with self._lock:
            self._store[key] = _Expectee(add=adds, delete=len(keys), timestamp=self._clock(), deleting=keys)

    def expect_creations(self, key: str, adds: int) -> None:
        with self._lock:
            self._store[key] = _Expectee(add=adds, timestamp=self._clock())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        keys = set(pod_keys)
        with self._lock:
            self._store[key] = _Expectee(delete=len(keys), timestamp=self._clock(), deleting=keys)

    def creation_observed(self, key: str) -> None:
        with self._lock:
            e = self._store.get(key)
            if e is not None:
                e.add -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        """Lower the deletion count once per tracked pod key."""
        with self._lock:
            e = self._store.get(key)
            if e is not None and pod_key in e.deleting:
                e.deleting.discard(pod_key)
                e.delete -= 1

    def delete_expectations(self, key: str) -> None:
        with self._lock:
            self._store.pop(key, None)

    def pending(self, key: str) -> tuple[int, int] | None:
        """(adds, deletes) still expected, for tests and logs."""
        with self._lock:
            e = self._store.get(key)
            return None if e is None else (e.add, e.delete)
