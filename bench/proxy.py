"""proxy scenario: how long one proxy sync takes for 100 and 1000 Services, next to the kernel's share.

Each Service has one TCP port and 3 endpoints (so ~6 rules and 4 chains per Service, like a small
Deployment behind a ClusterIP). Measured inside a throwaway network namespace
(`minik-bench-<pid>-proxy`), never on the host's tables:
- full sync: iptables-save + render + one iptables-restore (the first sync, and every --sync-period);
- partial sync: one endpoint changed, render + restore (what a change costs after --min-sync-period);
the reference for both is a bare `iptables-restore --noflush` of the very same payload, i.e. what a
kube-proxy-like single restore of that ruleset costs the kernel and iptables; the ratio is the
price of doing it from Python (listing, rendering, iptables-save on full syncs).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any

from bench.framework import PREFIX, BenchError, Options, ScenarioResult, Target, progress, scenario
from minik.proxy.cleanup import cleanup
from minik.proxy.iptables import IPTables
from minik.proxy.proxier import Proxier
from minik.proxy.rules import ProxyConfig, owned_chains


def services(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    svcs, eps = [], []
    for i in range(n):
        name = f"svc-{i}"
        ip = f"10.96.{i // 250}.{i % 250 + 1}"
        svcs.append({"metadata": {"namespace": "bench", "name": name},
                     "spec": {"clusterIP": ip, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
        eps.append({"metadata": {"namespace": "bench", "name": name},
                    "subsets": [{"addresses": [{"ip": f"10.244.{(3 * i + k) // 250}.{(3 * i + k) % 250 + 2}"}
                                               for k in range(3)],
                                 "ports": [{"name": "http", "port": 8080}]}]})
    return svcs, eps


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(ipt: IPTables, n: int, rounds: int) -> dict[str, float]:
    svcs, eps = services(n)
    proxier = Proxier(ipt, ProxyConfig(cluster_cidr="10.244.0.0/16"), services=lambda: svcs, endpoints=lambda: eps)
    proxier.sync_proxy_rules(full=True)  # warm: the chains exist, as on a running node
    full, partial, restore_full, restore_partial, render = [], [], [], [], []
    for r in range(rounds):
        full.append(_timed(lambda: proxier.sync_proxy_rules(full=True)))
        saved = ipt.save()
        _, ruleset = proxier.render()
        payload = ruleset.payload(stale=owned_chains(saved))
        restore_full.append(_timed(lambda p=payload: ipt.restore(p)))  # type: ignore[misc]
        eps[r % n]["subsets"][0]["addresses"][0]["ip"] = f"10.244.250.{r % 250 + 2}"
        partial.append(_timed(lambda: proxier.sync_proxy_rules(full=False)))
        render.append(_timed(proxier.render))
        _, ruleset = proxier.render()
        payload = ruleset.payload()
        restore_partial.append(_timed(lambda p=payload: ipt.restore(p)))  # type: ignore[misc]
    return {"full": _median_ms(full), "full_ref": _median_ms(restore_full),
            "partial": _median_ms(partial), "partial_ref": _median_ms(restore_partial),
            "render": _median_ms(render)}


@scenario("proxy")
def run(opts: Options) -> ScenarioResult:
    if os.geteuid() != 0:
        raise BenchError("the proxy scenario needs root (a network namespace and iptables)")
    netns = f"{PREFIX}-{os.getpid()}-proxy"
    rounds = opts.pick(5, 2)
    result = ScenarioResult("proxy")
    subprocess.run(["ip", "netns", "add", netns], check=True, capture_output=True)
    try:
        ipt = IPTables(netns)
        for n in (100, 1000) if not opts.quick else (20, 100):
            progress(f"proxy: {n} services x 3 endpoints, {rounds} rounds")
            m = measure(ipt, n, rounds)
            # the goal: a 1,000-service full sync under 1 s
            result.add(f"n{n}_full_sync", m["full"], "ms", m["full_ref"], Target("<", 1000.0) if n == 1000 else None)
            result.add(f"n{n}_partial_sync", m["partial"], "ms", m["partial_ref"])
            result.add(f"n{n}_render", m["render"], "ms")
            cleanup(ipt)
        return result
    finally:
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
