"""scale scenario: 1000 nodes and 30,000 pods through the whole real control plane (issue 8).

etcd, the apiserver, the scheduler and the controller-manager run as `minik up` runs them; the
nodes are `minik hollow-nodes` (kubemark: 1000 fake kubelets in one process that register,
heartbeat and report their pods Running without starting anything). 30 Deployments of 1000
replicas are created at once, and an informer on their namespace times the moment every pod is
bound and the moment every pod reports Running. Then the whole cluster's pods are listed the way
`kubectl get pods -A` does (one unpaginated GET /api/v1/pods) a few times; the reference is the raw
etcd range read of the same key prefix through the same aetcd client, so the ratio says what the
apiserver adds to its store. Resident memory (VmRSS now, VmHWM the peak) of every process comes
from /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aetcd
import httpx

from bench.framework import (
    PREFIX,
    BenchError,
    ControlPlane,
    Options,
    ScenarioResult,
    Target,
    control_plane,
    percentile,
    progress,
    scenario,
)
from minik.api.resources import require
from minik.client.informer import Informer
from minik.client.rest import Client
from minik.cluster.components import minik_command
from minik.cluster.process import ComponentProcess
from minik.hollow.node import HOLLOW_LABEL

Obj = dict[str, Any]

COMPONENTS = ("etcd", "apiserver", "scheduler", "controller-manager")
NAMESPACE = f"{PREFIX}-scale"
WAIT_TIMEOUT = 3600.0  # a broken run fails; a slow one still measures
PROGRESS_EVERY = 15.0
LIST_TIMEOUT = 600.0
LIST_PAGE = 500  # kubectl's --chunk-size
GIB = 1024**3
# From the issue: every pod Running, the apiserver under 2 GiB, the full pod list under 5 s.
RSS_TARGET = Target("<", 2048)
LIST_TARGET = Target("<", 5)




PODS, NODES, NAMESPACES, DEPLOYMENTS = require("pods"), require("nodes"), require("namespaces"), require("deployments")


@dataclass(frozen=True)
class Counts:
    nodes: int
    deployments: int
    replicas: int
    lists: int

    @property
    def pods(self) -> int:
        return self.deployments * self.replicas

    @classmethod
    def of(cls, opts: Options) -> Counts:
        if opts.quick:
            return cls(nodes=100, deployments=10, replicas=100, lists=3)
        return cls(nodes=1000, deployments=30, replicas=1000, lists=5)


def deployment(index: int, replicas: int) -> Obj:
    """The lab's app, scaled: small requests so the fit filter works, 30 pods a node fit easily."""
    labels = {"app": f"scale-{index}", PREFIX: "true"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"scale-{index}", "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                "name": "app", "image": "minik/app:v1", "ports": [{"containerPort": 8080}],
                "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}}}]}},
        },
    }


# ---------------------------------------------------------------- memory


@dataclass(frozen=True)
class Memory:
    rss_mib: float
    peak_mib: float


def memory(pid: int | None) -> Memory | None:
    """VmRSS and VmHWM of a process, in MiB (None when it is gone)."""
    if pid is None:
        return None
    fields: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(rest.split()[0]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    if len(fields) != 2:
        return None
    return Memory(fields["VmRSS"], fields["VmHWM"])


# ---------------------------------------------------------------- watching the pods


class PodTracker:
    """An informer on the scenario's namespace: when did every pod get bound, when was every one Running."""

    def __init__(self, client: Client, expected: int) -> None:
        self.expected = expected
        self.bound: set[str] = set()
        self.running: set[str] = set()
        self.bound_at: float | None = None
        self.running_at: float | None = None
        self.done = threading.Event()
        self._lock = threading.Lock()
        self.informer = Informer(client, PODS, NAMESPACE)
        self.informer.add_event_handler(self._seen, lambda _old, new: self._seen(new), self._deleted)

    def _seen(self, pod: Obj) -> None:
        now = time.perf_counter()
        name = str((pod.get("metadata") or {}).get("name"))
        with self._lock:
            if (pod.get("spec") or {}).get("nodeName"):
                self.bound.add(name)
            if (pod.get("status") or {}).get("phase") == "Running":
                self.running.add(name)
            else:
                self.running.discard(name)
            if self.bound_at is None and len(self.bound) >= self.expected:
                self.bound_at = now
            if self.running_at is None and len(self.running) >= self.expected:
                self.running_at = now
                self.done.set()

    def _deleted(self, pod: Obj) -> None:
        name = str((pod.get("metadata") or {}).get("name"))
        with self._lock:
            self.bound.discard(name)
            self.running.discard(name)

    def counts(self) -> tuple[int, int, int]:
        with self._lock:
            return len(self.informer.store), len(self.bound), len(self.running)

    def start(self) -> None:
        self.informer.start()
        if not self.informer.wait_for_sync(60):
            raise BenchError(f"the pod informer on {NAMESPACE} did not sync within 60s")

    def stop(self) -> None:
        self.informer.stop()


# ---------------------------------------------------------------- the run


def _client(cp: ControlPlane) -> Client:
    return Client(cp.server, token=cp.token, ca_data=cp.cfg.pki.ca_cert.read_bytes(), timeout=LIST_TIMEOUT)


def _alive(cp: ControlPlane, hollow: ComponentProcess) -> None:
    """A dead component ends the run with its own last words, not with a timeout much later."""
    for name in (*COMPONENTS, hollow.name):
        process = hollow if name == hollow.name else ComponentProcess(name, cp.cfg.state_dir)
        if not process.running():
            raise BenchError(f"{name} died during the run; end of {process.log_path}:\n{process.log_tail()}")


def _wait(what: str, done: Callable[[], bool], status: Callable[[], str], check: Callable[[], None]) -> None:
    deadline = time.monotonic() + WAIT_TIMEOUT
    last = time.monotonic()
    while not done():
        check()
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: not done after {WAIT_TIMEOUT:g}s ({status()})")
        if time.monotonic() - last >= PROGRESS_EVERY:
            progress(f"{what}: {status()}")
            last = time.monotonic()
        time.sleep(0.2)


def _ready_nodes(client: Client) -> int:
    items, _ = client.list_all(NODES, label_selector=f"{HOLLOW_LABEL}=true")
    return sum(
        1 for node in items
        if any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])
    )


def _list_once(http: httpx.Client, page: int | None) -> tuple[int, int]:
    """One full list of every pod (following `continue` with a page size): (pods, bytes)."""
    pods = size = 0
    token: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": page} if page else {}
        if token:
            params["continue"] = token
        response = http.get("/api/v1/pods", params=params)
        if response.status_code != 200:
            raise BenchError(f"HTTP {response.status_code}: {response.text[:300]}")
        body = response.json()
        pods += len(body.get("items") or [])
        size += len(response.content)
        token = (body.get("metadata") or {}).get("continue")
        if not page or not token:
            return pods, size


def _list_pods(cp: ControlPlane, repeats: int, expected: int, page: int | None) -> tuple[list[float], float]:
    """Seconds per full list of all pods (GET /api/v1/pods, unpaginated or in pages), and its MiB.

    A failed list counts as infinitely slow (the row then says so) instead of ending the run: the
    figures measured before it are still worth reporting.
    """
    samples: list[float] = []
    size = 0
    what = f"GET /api/v1/pods?limit={page}" if page else "GET /api/v1/pods"
    for _ in range(repeats):
        with cp.http(timeout=LIST_TIMEOUT) as http:  # a fresh connection: a failed list may have closed it
            start = time.perf_counter()
            try:
                listed, size = _list_once(http, page)
            except (BenchError, httpx.HTTPError, ValueError) as error:
                progress(f"{what} failed: {type(error).__name__}: {error}")
                listed = 0
            samples.append(time.perf_counter() - start if listed >= expected else math.inf)
            if 0 < listed < expected:
                progress(f"{what} listed {listed} of {expected} pods")
    return samples, size / 1024**2


async def _etcd_range(cp: ControlPlane, repeats: int, expected: int) -> list[float]:
    """The reference: the same prefix read through aetcd like the apiserver's storage reads it.

    Its gRPC receive limit is lifted: the point is etcd's own speed on a 100 MB range.
    """
    url = urlparse(cp.etcd_endpoint)
    etcd = aetcd.Client(host=url.hostname or "127.0.0.1", port=url.port or 2379, timeout=int(LIST_TIMEOUT),
                        options={"grpc.max_receive_message_length": -1})
    samples: list[float] = []
    try:
        await etcd.connect()
        for _ in range(repeats):
            start = time.perf_counter()
            found = await etcd.get_prefix(b"/registry/pods/")
            samples.append(time.perf_counter() - start)
            if found.count < expected:
                raise BenchError(f"etcd range of /registry/pods/ found {found.count} keys, wanted {expected}")
    finally:
        with contextlib.suppress(Exception):
            await etcd.close()
    return samples


def _create_all(client: Client, counts: Counts) -> None:
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"{PREFIX}-create") as pool:
        for _ in pool.map(lambda i: client.create(DEPLOYMENTS, deployment(i, counts.replicas), NAMESPACE),
                          range(counts.deployments)):
            pass


def _record_memory(result: ScenarioResult, cp: ControlPlane, hollow: ComponentProcess, when: str) -> None:
    for name in (*COMPONENTS, hollow.name):
        process = hollow if name == hollow.name else ComponentProcess(name, cp.cfg.state_dir)
        mem = memory(process.pid())
        if mem is None:
            continue
        target = RSS_TARGET if name == "apiserver" and when == "end" else None
        key = name.replace("-", "_")
        if when == "end":
            result.add(f"{key}_peak_rss", mem.peak_mib, "MiB", None, target)
        else:
            result.add(f"{key}_rss_{when}", mem.rss_mib, "MiB")


def measure(cp: ControlPlane, counts: Counts, result: ScenarioResult) -> None:
    hollow = ComponentProcess("hollow-nodes", cp.cfg.state_dir)
    client = _client(cp)
    tracker = PodTracker(client, counts.pods)
    try:
        progress(f"starting {counts.nodes} hollow nodes")
        start = time.perf_counter()
        hollow.start(minik_command("hollow-nodes", "--count", str(counts.nodes),
                                   "--kubeconfig", str(cp.cfg.admin_kubeconfig)))
        ready = [0]

        def nodes_ready() -> bool:
            ready[0] = _ready_nodes(client)
            return ready[0] >= counts.nodes

        _wait("hollow nodes", nodes_ready, lambda: f"{ready[0]}/{counts.nodes} Ready", lambda: _alive(cp, hollow))
        result.add("nodes_registered", time.perf_counter() - start, "s")

        client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        tracker.start()
        progress(f"creating {counts.deployments} deployments x {counts.replicas} replicas")
        start = time.perf_counter()
        _create_all(client, counts)

        def status() -> str:
            pods, bound, running = tracker.counts()
            return f"{pods} pods, {bound} bound, {running} Running of {counts.pods}"

        _wait("pods", tracker.done.is_set, status, lambda: _alive(cp, hollow))
        assert tracker.bound_at is not None and tracker.running_at is not None
        result.add("all_scheduled", tracker.bound_at - start, "s")
        result.add("all_running", tracker.running_at - start, "s")
        result.add("pods_running", float(tracker.counts()[2]), "pods", None, Target(">=", counts.pods))
        result.add("pods_running_per_s", counts.pods / (tracker.running_at - start), "pods/s")
        _record_memory(result, cp, hollow, "running")
        tracker.stop()

        progress(f"listing all {counts.pods} pods {counts.lists} times (and the etcd range)")
        etcd = asyncio.run(_etcd_range(cp, counts.lists, counts.pods))
        lists, size = _list_pods(cp, counts.lists, counts.pods, None)
        p50 = math.inf if math.inf in lists else percentile(lists, 50)  # a failed list fails the row
        result.add("list_all_pods_p50", p50, "s", percentile(etcd, 50), LIST_TARGET)
        result.add("list_all_pods_max", max(lists), "s", max(etcd))
        # what kubectl get pods -A does (--chunk-size 500), and every informer's first list
        _alive(cp, hollow)
        paged, paged_size = _list_pods(cp, counts.lists, counts.pods, LIST_PAGE)
        p50 = math.inf if math.inf in paged else percentile(paged, 50)
        result.add(f"list_all_pods_limit{LIST_PAGE}_p50", p50, "s", percentile(etcd, 50))
        result.add("list_all_pods_size", size or paged_size, "MiB")
        _record_memory(result, cp, hollow, "end")
    finally:
        tracker.stop()
        client.close()
        hollow.stop()


@scenario("scale")
def run(opts: Options) -> ScenarioResult:
    """One control plane as `minik up` runs it, hollow nodes as its kubelets."""
    counts = Counts.of(opts)
    result = ScenarioResult("scale")
    with control_plane("scale", COMPONENTS) as cp:
        measure(cp, counts, result)
    return result
