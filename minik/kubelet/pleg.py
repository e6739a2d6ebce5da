"""The pod lifecycle event generator: relist the runtime every second and wake the workers of pods whose
sandboxes or containers changed state (a container that crashed or was OOM-killed between events).

Like the kubelet's GenericPLEG, it compares whole snapshots, so nothing is missed when the runtime
restarts or a relist is skipped; the first relist reports every pod, which also finds orphans (runtime
pods no source knows about) for their workers to remove.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Snapshot = dict[str, dict[str, str]]  # pod uid -> {sandbox or container id: state}


def changed_pods(old: Snapshot, new: Snapshot) -> list[str]:
    return sorted(uid for uid in set(old) | set(new) if old.get(uid) != new.get(uid))


class PLEG:
    def __init__(self, relist: Callable[[], Snapshot], notify: Callable[[str], None], period: float = 1.0) -> None:
        self.relist_fn = relist
        self.notify = notify
        self.period = period
        self._last: Snapshot = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.healthy = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pleg", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def relist(self) -> list[str]:
        snapshot = self.relist_fn()
        changed = changed_pods(self._last, snapshot)
        self._last = snapshot
        for uid in changed:
            if uid:
                self.notify(uid)
        return changed

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.relist()
                self.healthy.set()
            except Exception as error:  # the runtime may be restarting: keep trying
                self.healthy.clear()
                log.warning("PLEG relist failed: %s", error)
            self._stop.wait(self.period)
