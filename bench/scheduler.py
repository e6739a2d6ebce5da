"""scheduler scenario: pods bound per second, end to end through the real apiserver and etcd.

N Node objects (no kubelets) and M pending copies of the lab's app pod (with a small request, so
the resource filter does real work) are created first; then the scheduler starts in this process
and the clock runs until a watch of bound pods has seen all M. The reference, in the same run on
the same control plane, binds another M pods directly (round-robin, as many concurrent binds as
the scheduler uses, no decisions at all): it is the most the apiserver lets any scheduler bind,
so `ratio` says how much of it scheduling keeps. Per-stage numbers say where the time goes:
filter and score are CPU time of the one scheduling thread per pod, bind is the mean latency of
the binding call (those run in parallel with the next decisions).
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.framework import (
    PREFIX,
    BenchError,
    ControlPlane,
    Options,
    ScenarioResult,
    Target,
    control_plane,
    progress,
    scenario,
)
from minik.api.resources import require
from minik.client.rest import Client
from minik.scheduler.scheduler import Scheduler

Obj = dict[str, Any]

APP_POD = Path(__file__).resolve().parents[1] / "manifests" / "app-pod.yaml"
BIND_WORKERS = 16  # the scheduler's binding pool, and the reference's concurrency
CREATE_WORKERS = 16
WAIT_TIMEOUT = 600.0
# From the issue: at 1000 nodes, at least 300 pods bound per second.
THROUGHPUT_TARGET = Target(">=", 300)
TARGET_NODES = 1000




PODS, NODES, NAMESPACES = require("pods"), require("nodes"), require("namespaces")


@dataclass(frozen=True)
class Counts:
    nodes: tuple[int, ...]
    pods: int

    @classmethod
    def of(cls, opts: Options) -> Counts:
        return cls(nodes=(100, TARGET_NODES) if not opts.quick else (20, 100), pods=opts.pick(1000, 100))


def node(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {PREFIX: "true"}}}


NODE_STATUS = {"capacity": {"cpu": "32", "memory": "64Gi", "pods": "110"},
               "allocatable": {"cpu": "32", "memory": "64Gi", "pods": "110"},
               "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}


def app_pod(name: str, namespace: str, scheduler_name: str) -> Obj:
    pod: Obj = copy.deepcopy(yaml.safe_load(APP_POD.read_text()))
    pod["metadata"].update(name=name, namespace=namespace)
    pod["metadata"].setdefault("labels", {})[PREFIX] = "true"
    pod["spec"]["schedulerName"] = scheduler_name
    pod["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "100m", "memory": "64Mi"}}
    return pod


def parallel(workers: int, items: list[Any], fn: Callable[[Any], object]) -> None:
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{PREFIX}-create") as pool:
        for _ in pool.map(fn, items):
            pass


class BoundWatch:
    """Counts pods of one namespace entering `spec.nodeName!=` (i.e. bound), on its own thread."""

    def __init__(self, client: Client, namespace: str, expected: int) -> None:
        self.expected = expected
        self.bound: set[str] = set()
        self.done = threading.Event()
        self.finished_at = 0.0
        self._watch = client.watch(PODS, namespace, field_selector="spec.nodeName!=", resource_version="0")
        self._thread = threading.Thread(target=self._run, name=f"{PREFIX}-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(Exception):
            for event in self._watch:
                if event.type == "ADDED":
                    self.bound.add(event.object["metadata"]["name"])
                    if len(self.bound) >= self.expected:
                        self.finished_at = time.perf_counter()
                        self.done.set()
                        return

    def wait(self, what: str) -> float:
        if not self.done.wait(WAIT_TIMEOUT):
            raise BenchError(f"{what}: only {len(self.bound)}/{self.expected} pods bound after {WAIT_TIMEOUT:g}s")
        return self.finished_at

    def close(self) -> None:
        self._watch.stop()
        self._thread.join(5)


@dataclass
class Run:
    pods_per_s: float
    reference_pods_per_s: float
    sync_s: float
    filter_ms: float
    score_ms: float
    bind_ms: float


def _client(cp: ControlPlane) -> Client:
    return Client(cp.server, token=cp.token, ca_data=cp.cfg.pki.ca_cert.read_bytes())


def measure(cp: ControlPlane, nodes: int, pods: int) -> Run:
    client = _client(cp)
    try:
        progress(f"{nodes} nodes: creating them")
        names = [f"{PREFIX}-node-{i:04}" for i in range(nodes)]

        def add_node(name: str) -> None:
            client.create(NODES, node(name))
            client.patch(NODES, name, {"status": NODE_STATUS}, subresource="status")

        parallel(CREATE_WORKERS, names, add_node)
        for ns in ("reference", "scheduled"):
            client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

        # Reference: the same number of binds, no decisions.
        progress(f"{nodes} nodes: {pods} direct binds (reference)")
        pod_names = [f"app-{i:05}" for i in range(pods)]
        parallel(CREATE_WORKERS, pod_names,
                 lambda n: client.create(PODS, app_pod(n, "reference", f"{PREFIX}-nobody"), "reference"))
        watch = BoundWatch(client, "reference", pods)
        try:
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=BIND_WORKERS) as pool:
                for _ in pool.map(lambda i: client.bind("reference", pod_names[i], names[i % nodes]), range(pods)):
                    pass
            reference = pods / (watch.wait("reference binds") - start)
        finally:
            watch.close()

        # The scheduler: every pod pending before it starts, so it runs flat out.
        progress(f"{nodes} nodes: {pods} pods through the scheduler")
        parallel(CREATE_WORKERS, pod_names,
                 lambda n: client.create(PODS, app_pod(n, "scheduled", "default-scheduler"), "scheduled"))
        watch = BoundWatch(client, "scheduled", pods)
        sched_client = _client(cp)
        scheduler = Scheduler(sched_client, bind_workers=BIND_WORKERS)
        try:
            t0 = time.perf_counter()
            scheduler.start(sync_timeout=120)
            start = time.perf_counter()
            elapsed = watch.wait("scheduler") - start
        finally:
            watch.close()
            scheduler.stop()
            sched_client.close()
        times, scheduled = scheduler.algorithm.times, max(scheduler.scheduled, 1)
        return Run(pods_per_s=pods / elapsed, reference_pods_per_s=reference, sync_s=start - t0,
                   filter_ms=times.filter / scheduled * 1000, score_ms=times.score / scheduled * 1000,
                   bind_ms=scheduler.bind_seconds / scheduled * 1000)
    finally:
        client.close()


@scenario("scheduler")
def run(opts: Options) -> ScenarioResult:
    """Per node count a fresh etcd + apiserver; the scheduler in-process, measured against direct binds."""
    counts = Counts.of(opts)
    result = ScenarioResult("scheduler")
    for nodes in counts.nodes:
        with control_plane(f"scheduler-{nodes}", ("etcd", "apiserver")) as cp:
            r = measure(cp, nodes, counts.pods)
        target = THROUGHPUT_TARGET if nodes == TARGET_NODES else None
        result.add(f"n{nodes}_bound_pods_per_s", r.pods_per_s, "pods/s", r.reference_pods_per_s, target)
        result.add(f"n{nodes}_filter_per_pod", r.filter_ms, "ms")
        result.add(f"n{nodes}_score_per_pod", r.score_ms, "ms")
        result.add(f"n{nodes}_bind_latency", r.bind_ms, "ms")
        result.add(f"n{nodes}_cache_sync", r.sync_s, "s")
    return result
