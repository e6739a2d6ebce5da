"""The prober: one worker thread per (pod, container, probe type), like the kubelet's prober workers.

Each worker probes every periodSeconds once the container has run initialDelaySeconds, and flips the
result only after failureThreshold failures / successThreshold successes in a row. Readiness starts
as "not ready", liveness as "alive", startup as "unknown"; liveness and readiness wait for the startup
probe to succeed. After a liveness or startup failure the worker holds until the container is
replaced (the sync that sees the failure kills and restarts it). Every failed probe is a Warning
`Unhealthy` event (`Liveness probe failed: ...`), and every change of a result triggers a pod sync.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from minik.kubelet import podutil
from minik.kubelet.probes import ExecRuntime, ProbeOutcome, ProbeTarget, run_probe
from minik.kubelet.types import Obj

log = logging.getLogger(__name__)

LIVENESS, READINESS, STARTUP = "liveness", "readiness", "startup"
PROBE_FIELDS = {LIVENESS: "livenessProbe", READINESS: "readinessProbe", STARTUP: "startupProbe"}
INITIAL = {LIVENESS: True, READINESS: False, STARTUP: None}


@dataclass(frozen=True)
class ContainerInfo:
    """What a worker needs to know about the current instance of its container."""

    container_id: str
    running: bool
    started_at: float  # seconds since the epoch
    target: ProbeTarget | None


ContainerLookup = Callable[[str, str], ContainerInfo | None]  # (pod uid, container name)
EventFunc = Callable[[Obj, str, str, str], None]


class ProbeWorker:
    def __init__(self, manager: ProbeManager, pod: Obj, container: Obj, kind: str) -> None:
        self.manager = manager
        self.pod = pod
        self.container = container
        self.kind = kind
        self.probe: Obj = container.get(PROBE_FIELDS[kind]) or {}
        self.uid = podutil.uid(pod)
        self.name = str(container["name"])
        self.stop_event = threading.Event()
        self.container_id = ""
        self.last_result: bool | None = None
        self.result_run = 0
        self.on_hold = False
        self.thread = threading.Thread(target=self.run, name=f"probe-{kind}-{self.name}", daemon=True)

    def period(self) -> float:
        return max(float(self.probe.get("periodSeconds") or 10), 1.0)

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.do_probe()
            except Exception:  # a probe must never take the kubelet down
                log.exception("%s probe of %s/%s failed", self.kind, podutil.key(self.pod), self.name)
            self.stop_event.wait(self.period())
        self.manager.results.forget_container(self.kind, self.container_id)

    def do_probe(self) -> None:
        info = self.manager.lookup(self.uid, self.name)
        if info is None or not info.container_id:
            return
        if info.container_id != self.container_id:
            self.manager.results.forget_container(self.kind, self.container_id)
            self.container_id = info.container_id
            self.last_result, self.result_run, self.on_hold = None, 0, False
            self.manager.results.set(self.kind, self.container_id, INITIAL[self.kind], self.uid)
        if not info.running:
            if self.kind == READINESS:
                self.manager.results.set(self.kind, self.container_id, False, self.uid)
            return
        if self.on_hold:
            return
        if self.kind != STARTUP and self.manager.has_probe(self.uid, self.name, STARTUP) \
                and self.manager.results.get(STARTUP, self.container_id) is not True:
            return
        if self.kind == STARTUP and self.manager.results.get(STARTUP, self.container_id) is True:
            return
        delay = float(self.probe.get("initialDelaySeconds") or 0)
        if time.time() - info.started_at < delay:
            return
        if info.target is None:
            return
        outcome = run_probe(self.manager.runtime, info.target, self.probe)
        if self.stop_event.is_set():
            return
        self.record(outcome)

    def record(self, outcome: ProbeOutcome) -> None:
        if not outcome.success:
            self.manager.event(self.pod, "Warning", "Unhealthy",
                               f"{self.kind.capitalize()} probe failed: {outcome.output.strip()}")
        if outcome.success == self.last_result:
            self.result_run += 1
        else:
            self.last_result, self.result_run = outcome.success, 1
        threshold = int(self.probe.get("successThreshold" if outcome.success else "failureThreshold") or 1)
        if self.result_run < threshold:
            return
        self.manager.results.set(self.kind, self.container_id, outcome.success, self.uid)
        if not outcome.success and self.kind in (LIVENESS, STARTUP):
            self.on_hold = True  # until the container is restarted
            self.result_run = 0


class ProbeResults:
    """kind -> container id -> result; a change calls on_change(pod uid)."""

    def __init__(self, on_change: Callable[[str], None]) -> None:
        self.on_change = on_change
        self._results: dict[str, dict[str, bool | None]] = {kind: {} for kind in PROBE_FIELDS}
        self._lock = threading.Lock()

    def get(self, kind: str, container_id: str) -> bool | None:
        with self._lock:
            return self._results[kind].get(container_id)

    def has(self, kind: str, container_id: str) -> bool:
        with self._lock:
            return container_id in self._results[kind]

    def set(self, kind: str, container_id: str, value: bool | None, uid: str) -> None:
        with self._lock:
            results = self._results[kind]
            changed = container_id not in results or results[container_id] != value
            results[container_id] = value
        if changed:
            self.on_change(uid)

    def forget_container(self, kind: str, container_id: str) -> None:
        with self._lock:
            self._results[kind].pop(container_id, None)


class ProbeManager:
    def __init__(self, runtime: ExecRuntime, lookup: ContainerLookup, event: EventFunc,
                 on_change: Callable[[str], None]) -> None:
        self.runtime = runtime
        self.lookup = lookup
        self.event = event
        self.results = ProbeResults(on_change)
        self._workers: dict[tuple[str, str, str], ProbeWorker] = {}
        self._lock = threading.Lock()

    def add_pod(self, pod: Obj) -> None:
        """Start workers for the pod's probes (idempotent); init containers are not probed."""
        uid = podutil.uid(pod)
        for container in podutil.containers(pod):
            for kind, field in PROBE_FIELDS.items():
                if not isinstance(container.get(field), dict):
                    continue
                key = (uid, str(container["name"]), kind)
                with self._lock:
                    if key in self._workers:
                        continue
                    worker = ProbeWorker(self, pod, container, kind)
                    self._workers[key] = worker
                worker.thread.start()

    def remove_pod(self, uid: str) -> None:
        with self._lock:
            keys = [k for k in self._workers if k[0] == uid]
            workers = [self._workers.pop(k) for k in keys]
        for worker in workers:
            worker.stop_event.set()

    def has_probe(self, uid: str, name: str, kind: str) -> bool:
        with self._lock:
            return (uid, name, kind) in self._workers

    def is_ready(self, uid: str, name: str, container_id: str) -> bool:
        """Ready per readiness probe (no probe: ready once started)."""
        if not self.is_started(uid, name, container_id):
            return False
        if not self.has_probe(uid, name, READINESS):
            return True
        return self.results.get(READINESS, container_id) is True

    def is_started(self, uid: str, name: str, container_id: str) -> bool:
        if not self.has_probe(uid, name, STARTUP):
            return True
        return self.results.get(STARTUP, container_id) is True

    def liveness_failed(self, container_id: str) -> bool:
        return self.results.get(LIVENESS, container_id) is False

    def startup_failed(self, container_id: str) -> bool:
        return self.results.get(STARTUP, container_id) is False

    def stop(self) -> None:
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        for worker in workers:
            worker.stop_event.set()
