"""Event recorder: tell users (via `describe`) what a component did and why, without slowing it down.

Like client-go's recorder + event correlator: `event()` only queues (bounded; overflow is dropped
and logged), a background thread writes core/v1 Events, and repeats of the same
(object, type, reason, message) within 10 minutes bump `count`/`lastTimestamp` on the existing
Event instead of creating a new one. Failures are logged, never raised: losing an Event must
never break a controller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from minik.api.errors import NotFoundError
from minik.api.resources import Resource, lookup

log = logging.getLogger(__name__)

Obj = dict[str, Any]

EVENT_TYPES = ("Normal", "Warning")
AGGREGATE_WINDOW = 600.0  # seconds: repeats within this window update the same Event
CACHE_SIZE = 4096  # remembered (object, reason, message) tuples, least recently used dropped
QUEUE_SIZE = 1000


class EventClient(Protocol):
    def create(self, r: Resource, obj: Obj, namespace: str | None = None) -> Obj: ...

    def patch(self, r: Resource, name: str, body: Any, namespace: str | None = None, *,
              patch_type: Any = "merge", subresource: str | None = None) -> Obj: ...


def _timestamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Pending:
    ref: Obj
    type: str
    reason: str
    message: str
    wall: float
    mono: float


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int
    last_mono: float


class EventRecorder:
    """Records Events for one component (e.g. "scheduler", "kubelet" with host=node name)."""

    def __init__(self, client: EventClient, component: str, host: str | None = None) -> None:
        events = lookup("events")
        assert events is not None
        self._events: Resource = events
        self.client = client
        self.component = component
        self.host = host
        self._cond = threading.Condition()
        self._queue: deque[_Pending] = deque()
        self._in_flight = 0
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Queue an Event about obj; returns at once and never raises."""
        try:
            if type_ not in EVENT_TYPES:
                log.error("unsupported event type %r (reason %s): dropped", type_, reason)
                return
            ref = self._reference(obj)
            if ref is None:
                log.error("cannot record event %s for an object without metadata.name: %r", reason, message)
                return
            pending = _Pending(ref, type_, reason, message, time.time(), time.monotonic())
            with self._cond:
                if self._stopped:
                    return
                if len(self._queue) >= QUEUE_SIZE:
                    log.warning("event queue full: dropping %s %s for %s", type_, reason, ref.get("name"))
                    return
                self._queue.append(pending)
                self._in_flight += 1
                self._ensure_thread()
                self._cond.notify()
        except Exception:
            log.exception("recording event %s failed", reason)

    def flush(self, timeout: float) -> bool:
        """Wait until every queued Event was written (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self) -> None:
        """Stop accepting Events; the writer finishes what is queued, then exits."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    @staticmethod
    def _reference(obj: Obj) -> Obj | None:
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(meta, dict) or not meta.get("name"):
            return None
        ref: Obj = {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"),
                    "namespace": meta.get("namespace"), "name": meta.get("name"),
                    "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}
        return {k: v for k, v in ref.items() if v}

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=f"events-{self.component}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopped:
                    self._cond.wait()
                if not self._queue:
                    return
                item = self._queue.popleft()
            try:
                self._write(item)
            except Exception as e:
                log.warning("could not write event %s %s for %s: %s", item.type, item.reason,
                            item.ref.get("name"), e)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _write(self, item: _Pending) -> None:
        ref = item.ref
        namespace = str(ref.get("namespace") or "default")  # cluster-scoped objects: "default"
        key = (str(ref.get("apiVersion", "")), str(ref.get("kind", "")), namespace, str(ref["name"]),
               str(ref.get("uid", "")), item.type, item.reason, item.message)
        seen = self._seen.get(key)
        if seen is not None and item.mono - seen.last_mono < AGGREGATE_WINDOW:
            patch = {"count": seen.count + 1, "lastTimestamp": _timestamp(item.wall)}
            try:
                self.client.patch(self._events, seen.name, patch, seen.namespace)
                seen.count += 1
                seen.last_mono = item.mono
                self._seen.move_to_end(key)
                return
            except NotFoundError:
                pass  # the Event expired or was deleted: start a new one
        name = f"{ref['name']}.{int(item.wall * 1e9):x}"
        now = _timestamp(item.wall)
        source: Obj = {"component": self.component}
        if self.host:
            source["host"] = self.host
        event: Obj = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref, "reason": item.reason, "message": item.message, "type": item.type,
            "source": source, "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": self.component,
        }
        if self.host:
            event["reportingInstance"] = self.host
        self.client.create(self._events, event, namespace)
        self._seen[key] = _Seen(name, namespace, 1, item.mono)
        self._seen.move_to_end(key)
        while len(self._seen) > CACHE_SIZE:
            self._seen.popitem(last=False)
