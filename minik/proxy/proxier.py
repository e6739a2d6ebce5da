"""The proxier: turns the cached Services and Endpoints into iptables rules, one full sync at a time.

Every sync renders the complete ruleset and applies it with a single `iptables-restore --noflush`,
so the kernel never sees a half-written state and rules we do not own are never touched. A
"full" sync (the first, the periodic one, and any retry) also re-reads the kernel's tables, so
chains left behind by an earlier run are removed and missing jumps from the built-in chains are
put back; the other syncs trust what the previous sync wrote and skip the (slow) iptables-save.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minik.proxy.conntrack import Conntrack
from minik.proxy.iptables import TABLES, IPTables
from minik.proxy.rules import ProxyConfig, Ruleset, missing_jumps, owned_chains, per_service_chain, render
from minik.proxy.runner import BoundedFrequencyRunner
from minik.proxy.serviceport import Endpoint, ProxyState, ServicePortName

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass(frozen=True)
class SyncResult:
    full: bool
    seconds: float
    service_ports: int
    endpoints: int
    rules: int  # rules written by this sync (a partial sync skips unchanged service chains)


class Proxier:
    """Holds what the last sync wrote; `sync_proxy_rules` is safe to call from one thread at a time."""

    def __init__(self, iptables: IPTables, config: ProxyConfig,
                 services: Callable[[], list[Obj]], endpoints: Callable[[], list[Obj]],
                 node: Callable[[], Obj | None] = lambda: None,
                 conntrack: Conntrack | None = None) -> None:
        self.iptables = iptables
        self.config = config
        self.services = services
        self.endpoints = endpoints
        self.node = node
        self.conntrack = conntrack
        self._lock = threading.Lock()
        self._written: dict[str, set[str]] | None = None  # chains the last successful sync left
        self._written_rules: dict[str, dict[str, tuple[str, ...]]] = {}  # and their rules
        self._state: ProxyState | None = None
        self.last_result: SyncResult | None = None

    def effective_config(self) -> ProxyConfig:
        """--cluster-cidr, else this node's pod CIDR (traffic from other sources gets masqueraded)."""
        if self.config.cluster_cidr:
            return self.config
        node = self.node() or {}
        pod_cidr = (node.get("spec") or {}).get("podCIDR")
        return dataclasses.replace(self.config, cluster_cidr=pod_cidr) if pod_cidr else self.config

    def render(self) -> tuple[ProxyState, Ruleset]:
        state = ProxyState.build(self.services(), self.endpoints())
        return state, render(state, self.effective_config())

    def sync_proxy_rules(self, full: bool = True) -> SyncResult:
        with self._lock:
            start = time.perf_counter()
            state, ruleset = self.render()
            rules = {table: ruleset.chain_rules(table) for table in TABLES}
            unchanged: dict[str, set[str]] = {}
            if full or self._written is None:
                saved = self.iptables.save()
                existing, jumps = owned_chains(saved), missing_jumps(saved)
                full = True
            else:
                # kube-proxy's MinimizeIPTablesRestore: a service's chains that read as they did
                # after the last successful write are left out of the payload (--noflush keeps them)
                existing, jumps = self._written, []
                unchanged = {table: {chain for chain, chain_rules in rules[table].items() if per_service_chain(chain)
                                     and self._written_rules.get(table, {}).get(chain) == chain_rules}
                             for table in TABLES}
            try:
                self.iptables.restore(ruleset.payload(stale=existing, jumps=jumps, unchanged=unchanged))
            except Exception:
                self._written = None  # what is in the kernel is unknown now: the next sync is a full one
                raise
            self._written = {table: ruleset.all_chains(table) for table in TABLES}
            self._written_rules = rules
            previous, self._state = self._state, state
            if self.conntrack is not None and previous is not None:
                self._clear_stale_udp(previous, state)
            written = sum(len(r) for t in TABLES for c, r in rules[t].items() if c not in unchanged.get(t, set()))
            result = SyncResult(full, time.perf_counter() - start, len(state.ports),
                                sum(len(state.endpoints_of(p)) for p in state.ports), written)
            self.last_result = result
        log.info("%s sync of iptables rules took %.1f ms (%d service ports, %d endpoints, %d rules%s)",
                 "full" if result.full else "partial", result.seconds * 1000, result.service_ports,
                 result.endpoints, result.rules, f", {len(jumps)} jumps restored" if jumps else "")
        return result

    def _clear_stale_udp(self, before: ProxyState, after: ProxyState) -> None:
        assert self.conntrack is not None
        old: dict[ServicePortName, tuple[str, list[Endpoint]]] = {
            p.name: (p.cluster_ip, before.endpoints_of(p)) for p in before.ports if p.protocol == "UDP"}
        for port in after.ports:
            if port.protocol != "UDP" or port.name not in old:
                continue
            cluster_ip, endpoints = old[port.name]
            now = {e.ip for e in after.endpoints_of(port)}
            if not endpoints and now:
                self.conntrack.clear_service(port.cluster_ip)
            for ip in sorted({e.ip for e in endpoints} - now):
                self.conntrack.clear_endpoint(cluster_ip, ip)


class ProxyServer:
    """The proxier driven by a bounded-frequency runner; informer handlers just call `request_sync`."""

    def __init__(self, proxier: Proxier, min_sync_period: float = 1.0, sync_period: float = 30.0) -> None:
        self.proxier = proxier
        self.runner = BoundedFrequencyRunner(lambda full: self.proxier.sync_proxy_rules(full),
                                             min_sync_period, sync_period)

    def request_sync(self, *_: object) -> None:
        self.runner.run()

    def start(self) -> None:
        self.runner.start()

    def stop(self) -> None:
        self.runner.stop()
