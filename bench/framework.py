"""What every scenario shares: the registry, timing helpers, a throwaway control plane, reports.

Speed lives in bench/, never in tests (CONTRIBUTING rule 4), and only as a comparison: each metric
may carry a reference measured in the same run on the same machine, so the ratio means something
even on a slow or busy host where the absolute numbers do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import json
import math
import os
import pkgutil
import platform
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx

from minik.client.kubeconfig import merge_context
from minik.cluster.components import CONTROL_PLANE
from minik.cluster.config import CONTEXT_NAME, ClusterConfig
from minik.cluster.down import stop_components
from minik.cluster.etcd import EtcdError
from minik.cluster.pki import ensure_pki
from minik.cluster.process import StartError
from minik.cluster.tokens import ensure_token_file

PREFIX = "minik-bench"
BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
NOT_SCENARIOS = {"framework", "__main__"}

S = TypeVar("S")


class BenchError(RuntimeError):
    """A scenario could not measure what it meant to (a server answered wrongly or died)."""


def progress(text: str) -> None:
    """Progress goes to stderr, so stdout carries only the Markdown tables."""
    print(f"bench: {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- options and registry


@dataclass(frozen=True)
class Options:
    """How big a run is: --quick shrinks every count for a smoke run."""

    quick: bool = False

    def pick(self, full: int, quick: int) -> int:
        return quick if self.quick else full


ScenarioFn = Callable[[Options], "ScenarioResult"]
_SCENARIOS: dict[str, ScenarioFn] = {}


def scenario(name: str) -> Callable[[ScenarioFn], ScenarioFn]:
    """Register a scenario function under `name` (the name of its results file too)."""

    def register(fn: ScenarioFn) -> ScenarioFn:
        if name in _SCENARIOS and _SCENARIOS[name] is not fn:
            raise ValueError(f"two scenarios are named {name!r}")
        _SCENARIOS[name] = fn
        return fn

    return register


def load_scenarios() -> dict[str, ScenarioFn]:
    """Import every scenario module in bench/ (each registers itself) and return them by name."""
    for info in pkgutil.iter_modules([str(BENCH_DIR)]):
        if info.name not in NOT_SCENARIOS and not info.name.startswith("_"):
            importlib.import_module(f"{__package__}.{info.name}")
    return dict(sorted(_SCENARIOS.items()))


# ---------------------------------------------------------------- statistics and workers


def percentile(samples: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) with linear interpolation between closest ranks."""
    if not samples:
        raise ValueError("percentile of no samples")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * p / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class RunStats:
    """Outcome of a fixed number of operations: wall time and each operation's latency (seconds)."""

    ops: int
    elapsed: float
    latencies: list[float]

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.elapsed if self.elapsed > 0 else math.inf

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000


class _OpCounter:
    """Hands out operation numbers 0..total-1 across threads; stops early on request."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._next = 0
        self._lock = threading.Lock()
        self.stop = threading.Event()

    def take(self) -> int | None:
        with self._lock:
            if self.stop.is_set() or self._next >= self.total:
                return None
            index = self._next
            self._next += 1
            return index


def run_threads(
    concurrency: int,
    total_ops: int,
    setup: Callable[[int], S],
    op: Callable[[S, int], None],
    teardown: Callable[[S], None] | None = None,
    rate: float | None = None,
) -> RunStats:
    """Run `total_ops` calls of `op(state, i)` on `concurrency` threads, each with its own state.

    `setup(worker)` runs before the clock starts (open a client, warm its connection); the clock
    starts when every worker is set up. With `rate`, operation i is not sent before start + i/rate
    (an open-loop schedule); its latency is still measured from when it was sent.
    The first error stops all workers and is raised; so is Ctrl-C, after the workers stopped.
    """
    counter = _OpCounter(total_ops)
    started: list[float] = []
    barrier = threading.Barrier(concurrency, action=lambda: started.append(time.perf_counter()))
    latencies: list[float] = []
    finished: list[float] = []
    failures: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            state = setup(index)
        except BaseException as error:
            failures.append(error)
            counter.stop.set()
            barrier.abort()
            return
        try:
            barrier.wait()
            while (i := counter.take()) is not None:
                if rate is not None:
                    delay = started[0] + i / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                begin = time.perf_counter()
                op(state, i)
                latencies.append(time.perf_counter() - begin)
            finished.append(time.perf_counter())
        except threading.BrokenBarrierError:
            pass
        except BaseException as error:
            failures.append(error)
            counter.stop.set()
            barrier.abort()
        finally:
            if teardown is not None:
                teardown(state)

    threads = [
        threading.Thread(target=worker, args=(n,), name=f"{PREFIX}-worker-{n}", daemon=True)
        for n in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        counter.stop.set()
        barrier.abort()
        for thread in threads:
            thread.join()
        raise
    if failures:
        raise failures[0]
    return RunStats(len(latencies), max(finished) - started[0], latencies)


async def run_tasks(
    concurrency: int,
    total_ops: int,
    op: Callable[[int, int], Awaitable[None]],
    rate: float | None = None,
) -> RunStats:
    """The asyncio twin of run_threads: `concurrency` tasks run `op(worker, i)` for i < total_ops."""
    next_op = 0
    latencies: list[float] = []
    start = time.perf_counter()

    async def worker(index: int) -> None:
        nonlocal next_op
        while next_op < total_ops:
            i = next_op
            next_op += 1
            if rate is not None:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            begin = time.perf_counter()
            await op(index, i)
            latencies.append(time.perf_counter() - begin)

    try:
        async with asyncio.TaskGroup() as group:
            for n in range(concurrency):
                group.create_task(worker(n))
    except BaseExceptionGroup as group_error:  # the first failure is the story; the rest were cancelled
        raise group_error.exceptions[0] from None
    return RunStats(len(latencies), time.perf_counter() - start, latencies)


# ---------------------------------------------------------------- metrics and reports


@dataclass(frozen=True)
class Target:
    """A goal from the project: `value < 50` (in the metric's unit) or `ratio >= 0.5`."""

    op: Literal["<", "<=", ">", ">="]
    bound: float
    on: Literal["value", "ratio"] = "value"

    def describe(self, unit: str) -> str:
        if self.on == "ratio":
            return f"ratio {self.op} {self.bound:g}"
        return f"{self.op} {self.bound:g} {unit}"

    def check(self, value: float, ratio: float | None) -> bool | None:
        subject = ratio if self.on == "ratio" else value
        if subject is None:
            return None
        compare: dict[str, Callable[[float, float], bool]] = {
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
        }
        return compare[self.op](subject, self.bound)


def _round(x: float | None, digits: int = 4) -> float | None:
    """Round to `digits` significant digits: more would be noise."""
    if x is None or x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


@dataclass
class Metric:
    value: float
    unit: str
    reference: float | None = None
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        """minik / reference (throughput: higher is better; latency: lower is better)."""
        if self.reference is None or self.reference == 0:
            return None
        return self.value / self.reference

    @property
    def met(self) -> bool | None:
        return self.target.check(self.value, self.ratio) if self.target is not None else None

    def to_json(self) -> dict[str, Any]:
        return {
            "value": _round(self.value),
            "unit": self.unit,
            "reference": _round(self.reference),
            "ratio": _round(self.ratio, 3),
            "target": self.target.describe(self.unit) if self.target is not None else None,
            "met": self.met,
        }


@dataclass
class ScenarioResult:
    scenario: str
    metrics: dict[str, Metric] = field(default_factory=dict)

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        reference: float | None = None,
        target: Target | None = None,
    ) -> Metric:
        metric = Metric(value, unit, reference, target)
        self.metrics[name] = metric
        return metric

    def to_json(self, machine: dict[str, Any]) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "machine": machine,
            "metrics": {name: metric.to_json() for name, metric in self.metrics.items()},
        }


def machine_info() -> dict[str, Any]:
    """Enough about the host to tell whether two results files are comparable."""
    memory_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    cpu_model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "cpu model", "hardware")):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "cpu_model": cpu_model,
    }


def write_result(result: ScenarioResult, machine: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result.scenario}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result.to_json(machine), indent=2) + "\n")
    tmp.replace(path)
    return path


def _cell(x: float | None) -> str:
    if x is None:
        return "-"
    if not math.isfinite(x):
        return str(x)
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def markdown_table(result: ScenarioResult) -> str:
    rows = [
        "| metric | value | unit | reference | ratio | target | met |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for name, m in result.metrics.items():
        target = m.target.describe(m.unit) if m.target is not None else "-"
        met = {True: "yes", False: "**no**", None: "-"}[m.met]
        rows.append(
            f"| {name} | {_cell(m.value)} | {m.unit} | {_cell(m.reference)} | {_cell(m.ratio)} | {target} | {met} |"
        )
    return "\n".join(rows)


# ---------------------------------------------------------------- processes and temp dirs


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Let cleanup finish: a Ctrl-C or SIGTERM arriving meanwhile is raised after it, not inside it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            raise KeyboardInterrupt


@contextlib.contextmanager
def bench_tempdir(kind: str) -> Iterator[Path]:
    """A temp dir named minik-bench-<kind>-*, removed afterwards whatever happens."""
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-{kind}-"))
    try:
        yield path
    finally:
        with deferred_interrupts():
            shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class ControlPlane:
    """A private etcd + apiserver on 127.0.0.1 (HTTPS, admin token), as `minik up` starts them."""

    cfg: ClusterConfig
    token: str

    @property
    def server(self) -> str:
        return self.cfg.server

    @property
    def etcd_endpoint(self) -> str:
        return self.cfg.etcd_endpoint

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cfg.pki.ca_cert))

    def http(self, timeout: float = 30.0) -> httpx.Client:
        """A keep-alive client like a user's: trusts the cluster CA, sends the admin token."""
        return httpx.Client(
            base_url=self.server, verify=self.ssl_context(), headers=self.headers, timeout=timeout, trust_env=False
        )

    def async_http(self, timeout: float = 30.0, connections: int = 10) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(
            base_url=self.server,
            verify=self.ssl_context(),
            headers=self.headers,
            timeout=timeout,
            limits=limits,
            trust_env=False,
        )


@contextlib.contextmanager
def control_plane(kind: str, components: Sequence[str] = ("etcd", "apiserver")) -> Iterator[ControlPlane]:
    """Start the named cluster components on free 127.0.0.1 ports in a minik-bench temp dir.

    Uses the same component list, certificates and token file as `minik up`; everything is
    stopped (strays included) and the dir removed on exit, also on errors and Ctrl-C.
    """
    wanted = [c for c in CONTROL_PLANE if c.name in components]
    missing = set(components) - {c.name for c in wanted}
    if missing:
        raise BenchError(f"unknown cluster components: {', '.join(sorted(missing))}")
    with bench_tempdir(kind) as workdir:
        cfg = ClusterConfig(
            state_dir=workdir,
            port=free_port(),
            etcd_port=free_port(),
            etcd_peer_port=free_port(),
            bind_address="127.0.0.1",
        )
        try:
            ensure_pki(cfg.pki.directory, cfg.service_cidr)
            token = ensure_token_file(cfg.token_file)
            # the scheduler and controller-manager read it, as under `minik up`
            merge_context(cfg.admin_kubeconfig, CONTEXT_NAME, cfg.server, token, cfg.pki.ca_cert.read_bytes())
            for component in wanted:
                progress(f"starting {component.name} in {workdir}")
                component.prepare(cfg)
                env = component.env() if component.env is not None else None
                try:
                    component.process(cfg).start_and_wait(
                        component.command(cfg), partial(component.ready, cfg), component.ready_timeout, env
                    )
                except (StartError, EtcdError) as error:  # the message ends with the log, which goes away
                    raise BenchError(str(error)) from error
            yield ControlPlane(cfg, token)
        finally:
            with deferred_interrupts():
                stop_components(cfg, io.StringIO())
