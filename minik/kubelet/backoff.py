"""Per-key exponential back-off (client-go's flowcontrol.Backoff), for crash loops and image pulls.

A key's delay starts at `initial` and doubles at every `next` up to `maximum`; an entry untouched for
2 x maximum (10 minutes with the default 5 minute cap) starts over, which is how a container that ran
fine for a while gets a fresh 10 s back-off after its next crash.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    def __init__(self, initial: float = 10.0, maximum: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.initial = initial
        self.maximum = maximum
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def _expired(self, event_time: float, last_update: float) -> bool:
        return event_time - last_update > 2 * self.maximum

    def get(self, key: str) -> float:
        """The current delay for key (0 when it has none)."""
        with self._lock:
            entry = self._entries.get(key)
            return entry.backoff if entry else 0.0

    def next(self, key: str, event_time: float) -> None:
        """Record one more failure at `event_time`: start at `initial` or double the delay."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._expired(event_time, entry.last_update):
                entry = _Entry(self.initial, 0.0)
                self._entries[key] = entry
            else:
                entry.backoff = min(entry.backoff * 2, self.maximum)
            entry.last_update = self.clock()

    def is_in_backoff_since(self, key: str, event_time: float) -> bool:
        """True while less than the key's delay has passed since `event_time` (e.g. the last exit)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False
            now = self.clock()
            if self._expired(now, entry.last_update):
                return False
            return now - event_time < entry.backoff

    def remaining(self, key: str, event_time: float) -> float:
        """Seconds until the back-off that started at `event_time` is over (0 when it is)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return 0.0
            return max(0.0, entry.backoff - (self.clock() - event_time))

    def gc(self) -> None:
        """Forget entries that would start over anyway."""
        now = self.clock()
        with self._lock:
            for key in [k for k, e in self._entries.items() if self._expired(now, e.last_update)]:
                del self._entries[key]

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def delete_matching(self, text: str) -> None:
        """Forget every key containing `text` (a pod's uid when the pod is gone)."""
        with self._lock:
            for key in [k for k in self._entries if text in k]:
                del self._entries[key]
