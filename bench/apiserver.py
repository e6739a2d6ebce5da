"""apiserver scenario: minik's REST verbs and watch delivery, next to raw etcd, in one run.

The reference is what the apiserver is built on: the same etcd, reached through the same aetcd
client library, doing the same number of operations at the same concurrency with a value the
size of a stored pod. `ratio` is minik / etcd, so it says how much the apiserver keeps of its
store's speed (throughput: higher is better; latency: lower is better).

Clients talk to minik like users do: HTTPS with a bearer token, one keep-alive httpx.Client per
thread. Pods are the lab's app pod (manifests/app-pod.yaml).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aetcd
import httpx
import yaml

from bench.framework import (
    PREFIX,
    BenchError,
    ControlPlane,
    Options,
    RunStats,
    ScenarioResult,
    Target,
    control_plane,
    percentile,
    progress,
    run_tasks,
    run_threads,
    scenario,
)

Obj = dict[str, Any]

LEVELS = (1, 8, 32)  # concurrent clients
VERBS = ("create", "get", "list", "update")
WATCHERS = (1, 100)
LIST_SIZE = 100  # pods in the namespace that `list` reads
PACED_RATE = 100.0  # creates per second in the paced run
PACED_CLIENTS = 4
WATCH_TIMEOUT = 30.0  # seconds for every watcher to see one event before the run is declared broken
RAW_PREFIX = "/minik-bench-raw"  # etcd keys of the reference, apart from the apiserver's /registry
APP_POD = Path(__file__).resolve().parents[1] / "manifests" / "app-pod.yaml"

# From the project: creates at 8 clients keep at least half of etcd's put rate at 8 clients, and a
# steady 100 creates/s is served with a p99 under 50 ms.
CREATE_RATIO_TARGET = Target(">=", 0.5, on="ratio")
PACED_P99_TARGET = Target("<", 50)


@dataclass(frozen=True)
class Counts:
    ops: int  # per verb and concurrency level
    paced: int  # creates at PACED_RATE
    watch_events: dict[int, int]  # events per number of watchers
    warmup: int  # unmeasured events before each watch measurement

    @classmethod
    def of(cls, opts: Options) -> Counts:
        return cls(
            ops=opts.pick(400, 60),
            paced=opts.pick(500, 150),
            watch_events={1: opts.pick(200, 20), 100: opts.pick(50, 10)},
            warmup=opts.pick(5, 2),
        )


# ---------------------------------------------------------------- objects and HTTP


@cache
def _app_pod_template() -> str:
    return json.dumps(yaml.safe_load(APP_POD.read_text()))


def app_pod(name: str) -> Obj:
    pod: Obj = json.loads(_app_pod_template())
    pod["metadata"]["name"] = name
    pod["metadata"].setdefault("labels", {})[PREFIX] = "true"
    return pod


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def pods_path(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods"


def check(response: httpx.Response, code: int) -> httpx.Response:
    """The status we expect, or a BenchError with the server's Status message."""
    if response.status_code != code:
        if not response.is_closed:
            response.read()
        raise BenchError(
            f"{response.request.method} {response.request.url.path}: HTTP {response.status_code}, "
            f"wanted {code}: {response.text[:400]}"
        )
    return response


async def acheck(response: httpx.Response, code: int) -> httpx.Response:
    if response.status_code != code and not response.is_closed:
        await response.aread()
    return check(response, code)


def open_client(cp: ControlPlane) -> httpx.Client:
    """A client with its TLS connection already up, so handshakes stay out of the timings."""
    client = cp.http()
    check(client.get("/version"), 200)
    return client


def close_client(client: httpx.Client) -> None:
    client.close()


@dataclass
class Updater:
    """One update worker: its own client and its own pod, so updates never conflict."""

    client: httpx.Client
    path: str
    obj: Obj


# ---------------------------------------------------------------- watch fan-out measurement


class Fanout:
    """Write objects one at a time; each waits until every watcher saw it. Collects write-to-arrival."""

    def __init__(self, watchers: int) -> None:
        self.watchers = watchers
        self.sent: dict[str, float] = {}
        self.arrivals: dict[str, list[float]] = {}
        self._complete: dict[str, asyncio.Event] = {}

    def arrived(self, name: str, at: float) -> None:
        times = self.arrivals.setdefault(name, [])
        times.append(at)
        if len(times) >= self.watchers and name in self._complete:
            self._complete[name].set()

    async def run(
        self,
        consumers: list[Coroutine[Any, Any, None]],
        write: Callable[[str], Awaitable[None]],
        events: int,
        warmup: int,
    ) -> list[float]:
        """Latencies in seconds over all (watcher, measured event) pairs."""
        tasks = [asyncio.create_task(consumer) for consumer in consumers]
        try:
            for k in range(warmup + events):
                name = f"watch-{k}"
                done = self._complete[name] = asyncio.Event()
                self.sent[name] = time.perf_counter()
                await write(name)
                waiter = asyncio.create_task(done.wait())
                finished, _ = await asyncio.wait(
                    [waiter, *tasks], timeout=WATCH_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
                )
                if waiter in finished:
                    continue
                waiter.cancel()
                for task in tasks:
                    if task.done():
                        task.result()  # a watcher's error, if it had one
                        raise BenchError("a watch stream ended while events were still expected")
                seen = len(self.arrivals.get(name, []))
                raise BenchError(f"{name}: {seen} of {self.watchers} watchers saw it within {WATCH_TIMEOUT:g}s")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        measured = [f"watch-{k}" for k in range(warmup, warmup + events)]
        return [at - self.sent[name] for name in measured for at in self.arrivals[name][: self.watchers]]


# ---------------------------------------------------------------- the scenario


class ApiserverBench:
    """Runs each measurement against minik and then against raw etcd, back to back."""

    def __init__(self, cp: ControlPlane, runner: asyncio.Runner, counts: Counts) -> None:
        self.cp = cp
        self.runner = runner
        self.counts = counts
        url = urlparse(cp.etcd_endpoint)
        self.etcd_host = url.hostname or "127.0.0.1"
        self.etcd_port = url.port or 2379
        self.etcd = self.etcd_client()
        self.value = b""  # what the apiserver stores for one app pod: the reference's value
        self.stats: dict[tuple[str, int], tuple[RunStats, RunStats]] = {}

    def etcd_client(self) -> aetcd.Client:
        return aetcd.Client(host=self.etcd_host, port=self.etcd_port, timeout=30)

    def raw_key(self, *parts: object) -> bytes:
        return "/".join((RAW_PREFIX, *map(str, parts))).encode()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.runner.run(self.etcd.close())

    # --- setup -----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Namespaces, the 100 pods `list` reads (in minik and in etcd), and the reference value."""
        self.runner.run(self.etcd.connect())
        with contextlib.closing(open_client(self.cp)) as http:
            for ns in [f"{PREFIX}-c{level}" for level in LEVELS] + [f"{PREFIX}-list", f"{PREFIX}-paced"]:
                check(http.post("/api/v1/namespaces", json=namespace(ns)), 201)
            stored = check(http.post(pods_path(f"{PREFIX}-list"), json=app_pod("app-0")), 201).json()
        stored["metadata"].pop("resourceVersion", None)
        self.value = json.dumps(stored, separators=(",", ":")).encode()
        progress(f"reference value: {len(self.value)} bytes of pod JSON")
        list_path = pods_path(f"{PREFIX}-list")

        def create(c: httpx.Client, i: int) -> None:
            check(c.post(list_path, json=app_pod(f"app-{i + 1}")), 201)

        run_threads(8, LIST_SIZE - 1, lambda _: open_client(self.cp), create, close_client)

        async def fill() -> None:
            for i in range(LIST_SIZE):
                await self.etcd.put(self.raw_key("list", i), self.value)

        self.runner.run(fill())

    # --- verbs at 1, 8, 32 clients -----------------------------------------------------------

    def etcd_run(self, level: int, op: Callable[[int, int], Awaitable[None]], total: int | None = None,
                 rate: float | None = None) -> RunStats:
        return self.runner.run(run_tasks(level, total or self.counts.ops, op, rate))

    def verbs(self, level: int) -> None:
        n = self.counts.ops
        ns = f"{PREFIX}-c{level}"
        path = pods_path(ns)
        names = [f"app-{i}" for i in range(n)]
        etcd = self.etcd

        def open_(_: int) -> httpx.Client:
            return open_client(self.cp)

        progress(f"create at {level} clients")

        def create(c: httpx.Client, i: int) -> None:
            check(c.post(path, json=app_pod(names[i])), 201)

        async def put_new(_: int, i: int) -> None:
            await etcd.put(self.raw_key(f"c{level}", i), self.value)

        self.stats[("create", level)] = (
            run_threads(level, n, open_, create, close_client),
            self.etcd_run(level, put_new),
        )

        progress(f"get at {level} clients")

        def get(c: httpx.Client, i: int) -> None:
            check(c.get(f"{path}/{names[i]}"), 200)

        async def get_raw(_: int, i: int) -> None:
            if await etcd.get(self.raw_key(f"c{level}", i)) is None:
                raise BenchError(f"etcd lost key {i}")

        self.stats[("get", level)] = (
            run_threads(level, n, open_, get, close_client),
            self.etcd_run(level, get_raw),
        )

        progress(f"list of {LIST_SIZE} at {level} clients")
        list_path = pods_path(f"{PREFIX}-list")
        with contextlib.closing(open_client(self.cp)) as http:
            listed = len(check(http.get(list_path), 200).json()["items"])
        if listed != LIST_SIZE:
            raise BenchError(f"{list_path} lists {listed} pods, wanted {LIST_SIZE}")

        def list_(c: httpx.Client, _: int) -> None:
            check(c.get(list_path), 200)

        list_prefix = self.raw_key("list", "")

        async def range_raw(_: int, i: int) -> None:
            found = await etcd.get_prefix(list_prefix)
            if found.count != LIST_SIZE:
                raise BenchError(f"etcd range found {found.count} keys, wanted {LIST_SIZE}")

        self.stats[("list", level)] = (
            run_threads(level, n, open_, list_, close_client),
            self.etcd_run(level, range_raw),
        )

        progress(f"update at {level} clients")

        def open_updater(worker: int) -> Updater:
            client = open_client(self.cp)
            own = f"{path}/{names[worker]}"
            return Updater(client, own, check(client.get(own), 200).json())

        def update(u: Updater, i: int) -> None:
            u.obj["metadata"].setdefault("annotations", {})[f"{PREFIX}/seq"] = str(i)
            u.obj = check(u.client.put(u.path, json=u.obj), 200).json()

        async def put_existing(worker: int, _: int) -> None:
            await etcd.put(self.raw_key(f"c{level}", worker), self.value)

        self.stats[("update", level)] = (
            run_threads(level, n, open_updater, update, lambda u: u.client.close()),
            self.etcd_run(level, put_existing),
        )

    # --- paced creates -----------------------------------------------------------------------

    def paced(self) -> tuple[RunStats, RunStats]:
        n = self.counts.paced
        path = pods_path(f"{PREFIX}-paced")
        etcd = self.etcd
        progress(f"{n} creates paced at {PACED_RATE:g}/s by {PACED_CLIENTS} clients")

        def create(c: httpx.Client, i: int) -> None:
            check(c.post(path, json=app_pod(f"app-{i}")), 201)

        async def put_new(_: int, i: int) -> None:
            await etcd.put(self.raw_key("paced", i), self.value)

        minik = run_threads(PACED_CLIENTS, n, lambda _: open_client(self.cp), create, close_client, rate=PACED_RATE)
        return minik, self.etcd_run(PACED_CLIENTS, put_new, n, rate=PACED_RATE)

    # --- watch delivery ------------------------------------------------------------------------

    async def minik_watch(self, watchers: int, events: int) -> list[float]:
        ns = f"{PREFIX}-w{watchers}"
        path = pods_path(ns)
        streams: list[httpx.Response] = []
        async with self.cp.async_http(connections=watchers + 2) as watch_http, self.cp.async_http() as writer:
            await acheck(await writer.post("/api/v1/namespaces", json=namespace(ns)), 201)
            rv = (await acheck(await writer.get(path), 200)).json()["metadata"]["resourceVersion"]
            try:
                for _ in range(watchers):
                    request = watch_http.build_request("GET", path, params={"watch": "1", "resourceVersion": rv})
                    streams.append(await watch_http.send(request, stream=True))
                    await acheck(streams[-1], 200)
                fanout = Fanout(watchers)

                async def consume(response: httpx.Response) -> None:
                    async for line in response.aiter_lines():
                        arrived = time.perf_counter()
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        if event.get("type") == "ERROR":
                            raise BenchError(f"watch ERROR event: {event.get('object')}")
                        if event.get("type") == "ADDED":
                            fanout.arrived(event["object"]["metadata"]["name"], arrived)

                async def write(name: str) -> None:
                    await acheck(await writer.post(path, json=app_pod(name)), 201)

                return await fanout.run([consume(s) for s in streams], write, events, self.counts.warmup)
            finally:
                for stream in streams:
                    with contextlib.suppress(Exception):
                        await stream.aclose()

    async def etcd_watch(self, watchers: int, events: int) -> list[float]:
        """The same fan-out straight from etcd: one aetcd client (own gRPC watch stream) per watcher."""
        prefix = self.raw_key(f"w{watchers}", "")
        clients = [self.etcd_client() for _ in range(watchers)]
        watches: list[Any] = []
        try:
            for client in clients:
                await client.connect()
                watches.append(await client.watch_prefix(prefix))
            fanout = Fanout(watchers)

            async def consume(watch: Any) -> None:
                async for event in watch:
                    arrived = time.perf_counter()
                    fanout.arrived(event.kv.key[len(prefix):].decode(), arrived)

            async def write(name: str) -> None:
                await self.etcd.put(prefix + name.encode(), self.value)

            return await fanout.run([consume(w) for w in watches], write, events, self.counts.warmup)
        finally:
            for watch in watches:
                with contextlib.suppress(Exception):
                    await watch.cancel()
            for client in clients:
                with contextlib.suppress(Exception):
                    await client.close()

    def watch(self, watchers: int) -> tuple[list[float], list[float]]:
        events = self.counts.watch_events[watchers]
        progress(f"watch delivery: {events} creates, {watchers} watcher(s)")
        return (self.runner.run(self.minik_watch(watchers, events)),
                self.runner.run(self.etcd_watch(watchers, events)))

    # --- report ------------------------------------------------------------------------------

    def report(self, result: ScenarioResult) -> None:
        for verb in VERBS:
            for level in LEVELS:
                minik, etcd = self.stats[(verb, level)]
                target = CREATE_RATIO_TARGET if (verb, level) == ("create", 8) else None
                result.add(f"{verb}_c{level}_throughput", minik.ops_per_s, "ops/s", etcd.ops_per_s, target)
                result.add(f"{verb}_c{level}_p50", minik.p50_ms, "ms", etcd.p50_ms)
                result.add(f"{verb}_c{level}_p99", minik.p99_ms, "ms", etcd.p99_ms)


def _ms(samples: list[float], p: float) -> float:
    return percentile(samples, p) * 1000


@scenario("apiserver")
def run(opts: Options) -> ScenarioResult:
    """One etcd, one apiserver (HTTPS + token) on 127.0.0.1; minik and raw etcd measured side by side."""
    counts = Counts.of(opts)
    result = ScenarioResult("apiserver")
    with control_plane("apiserver", ("etcd", "apiserver")) as cp, asyncio.Runner() as runner:
        bench = ApiserverBench(cp, runner, counts)
        try:
            bench.prepare()
            for level in LEVELS:
                bench.verbs(level)
            paced = bench.paced()
            watches = {n: bench.watch(n) for n in WATCHERS}
        finally:
            bench.close()
    bench.report(result)
    minik, etcd = paced
    result.add(f"create_paced{PACED_RATE:g}_p50", minik.p50_ms, "ms", etcd.p50_ms)
    result.add(f"create_paced{PACED_RATE:g}_p99", minik.p99_ms, "ms", etcd.p99_ms, PACED_P99_TARGET)
    result.add(f"create_paced{PACED_RATE:g}_rate", minik.ops_per_s, "ops/s", etcd.ops_per_s)
    for n, (minik_lat, etcd_lat) in watches.items():
        result.add(f"watch_w{n}_p50", _ms(minik_lat, 50), "ms", _ms(etcd_lat, 50))
        result.add(f"watch_w{n}_p99", _ms(minik_lat, 99), "ms", _ms(etcd_lat, 99))
    return result
