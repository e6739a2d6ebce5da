"""Registration and heartbeats of every hollow node, from one scheduling thread and a small pool.

A real kubelet keeps one thread per loop; N hollow nodes cannot. One thread walks the nodes once per
heartbeat interval, spreading them evenly over it (so 1000 nodes every 10 s is a steady 100 lease
renewals per second, not a burst), and hands each due node to a few workers. A node whose previous
heartbeat is still in flight is skipped rather than queued, so a slow apiserver never builds a
backlog here. The Lease is the heartbeat the node lifecycle controller watches (the kubelet's
nodelease controller, reused); the Node's status is re-reported every `status_interval` (the
kubelet's nodeStatusReportFrequency) and whenever the Node had to be registered again.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from minik.api.errors import AlreadyExistsError, NotFoundError
from minik.api.resources import Resource, lookup
from minik.client.rest import Client
from minik.hollow.node import HollowNodeSpec, node_object, node_status
from minik.kubelet.lease import NodeLease
from minik.kubelet.types import Obj

log = logging.getLogger(__name__)

_NODES = lookup("nodes")
assert _NODES is not None
NODES: Resource = _NODES
RETRY_MAX = 10.0


@dataclass
class HollowNode:
    name: str
    index: int
    lease: NodeLease
    registered: bool = False
    conditions: list[Obj] = field(default_factory=list)  # as last written, for lastTransitionTime
    status_due: float = 0.0  # monotonic time of the next status report
    busy: Future[None] | None = None


class Heartbeats:
    """Register hollow nodes, then keep their Leases and statuses fresh until stopped."""

    def __init__(self, client: Client, names: list[str], spec: HollowNodeSpec, *, renew_interval: float = 10.0,
                 status_interval: float = 300.0, lease_duration: int = 40, workers: int = 4,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.spec = spec
        self.renew_interval = renew_interval
        self.status_interval = status_interval
        self.nodes = [HollowNode(name, i, NodeLease(client, name, lease_duration)) for i, name in enumerate(names)]
        self.workers = max(1, workers)
        self._clock = clock
        self._failures = 0
        self._lock = threading.Lock()

    # --- one node ---------------------------------------------------------------------------

    def register(self, node: HollowNode) -> None:
        """Create the Node (or adopt an existing one), report its status, take its Lease."""
        wanted = node_object(node.name, self.spec)
        try:
            current = self.client.create(NODES, wanted)
        except AlreadyExistsError:
            current = self.client.get(NODES, node.name)
            meta = current.get("metadata")
            labels = meta.get("labels") if isinstance(meta, dict) else None
            have = labels if isinstance(labels, dict) else {}
            missing = {k: v for k, v in wanted["metadata"]["labels"].items() if have.get(k) != v}
            if missing:
                current = self.client.patch(NODES, node.name, {"metadata": {"labels": missing}})
            status = current.get("status")
            old = status.get("conditions") if isinstance(status, dict) else None
            node.conditions = [c for c in old if isinstance(c, dict)] if isinstance(old, list) else []
        node.lease.set_owner(current)
        self.report_status(node)
        node.lease.renew()
        node.registered = True

    def report_status(self, node: HollowNode) -> None:
        body = node_status(node.name, node.index, self.spec, copy.deepcopy(node.conditions))
        self.client.patch(NODES, node.name, {"status": body}, subresource="status")
        node.conditions = body["conditions"]
        node.status_due = self._clock() + self.status_interval

    def beat(self, node: HollowNode) -> None:
        """One heartbeat; never raises (a failure is counted, logged per round, and retried next round)."""
        try:
            try:
                if not node.registered:
                    self.register(node)
                    return
                if self._clock() >= node.status_due:
                    self.report_status(node)
                node.lease.renew()
            except NotFoundError:  # the Node was deleted under us: a kubelet registers again
                node.registered = False
                self.register(node)
        except Exception as error:  # noqa: BLE001 - bad data or a sick apiserver must not stop the beat
            with self._lock:
                self._failures += 1
                first = self._failures == 1
            if first:
                log.warning("heartbeat of %s failed: %s", node.name, error)

    # --- all nodes --------------------------------------------------------------------------

    def register_all(self, stop: threading.Event) -> int:
        """Register every node (retrying failures with back-off) until done or stopped; returns the count."""
        delay = 0.5
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="hollow-register")
        try:
            while not stop.is_set():
                pending = [n for n in self.nodes if not n.registered]
                if not pending:
                    break
                for _ in pool.map(self.beat, pending):
                    if stop.is_set():
                        break
                failed = self._take_failures()
                if failed:
                    log.warning("%d of %d hollow nodes failed to register; retrying in %.1fs",
                                failed, len(pending), delay)
                    stop.wait(delay)
                    delay = min(delay * 2, RETRY_MAX)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # stopped: do not register the rest first
        done = sum(1 for n in self.nodes if n.registered)
        log.info("%d hollow nodes registered", done)
        return done

    def run(self, stop: threading.Event) -> None:
        """Heartbeat every node once per renew interval, evenly spread, until `stop` is set."""
        count = len(self.nodes)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="hollow-heartbeat") as pool:
            while not stop.is_set():
                start = self._clock()
                skipped = 0
                for i, node in enumerate(self.nodes):
                    if stop.wait(max(0.0, start + i * self.renew_interval / count - self._clock())):
                        break
                    if node.busy is not None and not node.busy.done():
                        skipped += 1
                        continue
                    node.busy = pool.submit(self.beat, node)
                else:
                    stop.wait(max(0.0, start + self.renew_interval - self._clock()))
                failed = self._take_failures()
                if failed or skipped:
                    log.warning("heartbeat round: %d of %d nodes failed, %d still busy from the last round",
                                failed, count, skipped)
            for node in self.nodes:
                if node.busy is not None:
                    node.busy.cancel()

    def _take_failures(self) -> int:
        with self._lock:
            failed, self._failures = self._failures, 0
        return failed
