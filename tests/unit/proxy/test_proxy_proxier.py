"""The proxier's sync logic against a recording fake of iptables, the runner, and the flags."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from util import wait_for

from minik.proxy.iptables import SavedTable, parse_save
from minik.proxy.main import parse_args
from minik.proxy.proxier import Proxier
from minik.proxy.rules import JUMPS, ProxyConfig
from minik.proxy.runner import BoundedFrequencyRunner


class FakeIPTables:
    """Applies restore payloads to an in-memory chain set, like iptables-restore --noflush would."""

    def __init__(self) -> None:
        self.payloads: list[str] = []
        self.saves = 0
        self.chains: dict[str, set[str]] = {"filter": set(), "nat": set()}
        self.jumps: dict[str, list[tuple[str, str]]] = {"filter": [], "nat": []}

    def save(self) -> dict[str, SavedTable]:
        self.saves += 1
        return {t: SavedTable(set(self.chains[t]), list(self.jumps[t])) for t in self.chains}

    def restore(self, payload: str) -> None:
        self.payloads.append(payload)
        table = ""
        for line in payload.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith(":"):
                self.chains[table].add(line[1:].split()[0])
            elif line.startswith("-X "):
                self.chains[table].discard(line.split()[1])
            elif line.startswith("-I "):
                parts = line.split(" ", 3)
                self.jumps[table].append((parts[1], parts[3]))


def svc(name: str, protocol: str = "TCP") -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name},
            "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 53, "protocol": protocol}]}}


def eps(name: str, *ips: str, protocol: str = "TCP") -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name},
            "subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": [{"port": 53, "protocol": protocol}]}]}


class FakeConntrack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def clear_service(self, cluster_ip: str, protocol: str = "udp") -> None:
        self.calls.append(("service", cluster_ip))

    def clear_endpoint(self, cluster_ip: str, endpoint_ip: str, protocol: str = "udp") -> None:
        self.calls.append(("endpoint", cluster_ip, endpoint_ip))


def make(services: list[Any], endpoints: list[Any], conntrack: Any = None,
         node: Any = None) -> tuple[Proxier, FakeIPTables]:
    fake = FakeIPTables()
    proxier = Proxier(fake, ProxyConfig(), services=lambda: services, endpoints=lambda: endpoints,  # type: ignore[arg-type]
                      node=lambda: node, conntrack=conntrack)
    return proxier, fake


def test_first_sync_reads_the_kernel_and_adds_the_jumps_once() -> None:
    proxier, fake = make([svc("a")], [eps("a", "10.244.1.2")])
    first = proxier.sync_proxy_rules(full=False)  # no memory yet: forced full
    assert first.full and fake.saves == 1
    assert sorted(fake.jumps["nat"]) == sorted((j.chain, j.rule) for j in JUMPS if j.table == "nat")
    proxier.sync_proxy_rules(full=True)
    assert fake.payloads[1].count("-I ") == 0  # the jumps exist now: never added twice


def test_partial_sync_skips_save_but_still_removes_chains_it_wrote() -> None:
    services, endpoints = [svc("a"), svc("b")], [eps("a", "10.244.1.2"), eps("b", "10.244.1.3")]
    proxier, fake = make(services, endpoints)
    proxier.sync_proxy_rules()
    before = {c for c in fake.chains["nat"] if c.startswith("MINIK-S")}
    services.pop()
    result = proxier.sync_proxy_rules(full=False)
    assert not result.full and fake.saves == 1
    after = {c for c in fake.chains["nat"] if c.startswith("MINIK-S")}
    assert len(before - after) == 2 and after < before  # b's SVC and SEP chains deleted


def test_partial_sync_writes_only_the_service_chains_that_changed() -> None:
    endpoints = [eps("a", "10.244.1.2"), eps("b", "10.244.1.3")]
    proxier, fake = make([svc("a"), svc("b")], endpoints)
    proxier.sync_proxy_rules()
    endpoints[1] = eps("b", "10.244.1.4")
    result = proxier.sync_proxy_rules(full=False)
    payload = fake.payloads[-1]
    assert "10.244.1.4" in payload and "10.244.1.2" not in payload  # a's chains are left as they are
    assert "\n-A MINIK-SERVICES " in payload and "MINIK-POSTROUTING" in payload  # fixed chains: always
    assert result.rules < proxier.sync_proxy_rules(full=True).rules
    assert "10.244.1.2" in fake.payloads[-1]  # a full sync writes everything again


def test_a_failed_restore_makes_the_next_sync_a_full_one() -> None:
    proxier, fake = make([svc("a")], [eps("a", "10.244.1.2")])
    proxier.sync_proxy_rules()

    def broken(payload: str) -> None:
        raise RuntimeError("iptables-restore: line 3 failed")

    fake.restore, working = broken, fake.restore  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        proxier.sync_proxy_rules(full=False)
    fake.restore = working  # type: ignore[method-assign]
    assert proxier.sync_proxy_rules(full=False).full and "10.244.1.2" in fake.payloads[-1]


def test_restart_removes_chains_an_earlier_process_left() -> None:
    proxier, fake = make([], [])
    fake.chains["nat"] |= {"MINIK-SVC-LEFTOVER", "MINIK-CNI-POSTRTG", "KUBE-SVC-X"}
    proxier.sync_proxy_rules()
    assert "MINIK-SVC-LEFTOVER" not in fake.chains["nat"]
    assert {"MINIK-CNI-POSTRTG", "KUBE-SVC-X"} <= fake.chains["nat"]  # not ours: untouched


def test_cluster_cidr_falls_back_to_the_node_pod_cidr() -> None:
    proxier, fake = make([svc("a")], [eps("a", "10.244.1.2")], node={"spec": {"podCIDR": "10.244.1.0/24"}})
    proxier.sync_proxy_rules()
    assert "! -s 10.244.1.0/24 -j MINIK-MARK-MASQ" in fake.payloads[0]


def test_stale_udp_conntrack_entries_are_cleared() -> None:
    services, endpoints = [svc("dns", "UDP")], [eps("dns", protocol="UDP")]
    conntrack = FakeConntrack()
    proxier, _ = make(services, endpoints, conntrack)
    proxier.sync_proxy_rules()
    endpoints[0] = eps("dns", "10.244.1.2", "10.244.1.3", protocol="UDP")
    proxier.sync_proxy_rules(full=False)
    assert conntrack.calls == [("service", "10.96.0.10")]  # rejected flows before the first endpoint
    endpoints[0] = eps("dns", "10.244.1.3", protocol="UDP")
    proxier.sync_proxy_rules(full=False)
    assert conntrack.calls[1:] == [("endpoint", "10.96.0.10", "10.244.1.2")]


def test_sync_logs_its_duration(caplog: pytest.LogCaptureFixture) -> None:
    proxier, _ = make([svc("a")], [eps("a", "10.244.1.2")])
    with caplog.at_level("INFO", logger="minik.proxy.proxier"):
        proxier.sync_proxy_rules()
    assert any("sync of iptables rules took" in r.getMessage() and "1 service ports" in r.getMessage()
               for r in caplog.records)


def test_runner_coalesces_requests_into_one_sync() -> None:
    gate, calls = threading.Event(), []

    def sync(full: bool) -> None:
        calls.append(full)
        gate.wait(30)

    runner = BoundedFrequencyRunner(sync, min_interval=0.0, max_interval=3600)
    runner.start()
    try:
        wait_for(lambda: len(calls) == 1, message="first sync")
        for _ in range(20):
            runner.run()  # all while the first sync is still running
        gate.set()
        wait_for(lambda: len(calls) == 2, message="one coalesced sync")
        assert calls == [True, False]
    finally:
        gate.set()
        runner.stop()
    assert len(calls) == 2


def test_runner_retries_a_failed_sync_as_a_full_one() -> None:
    calls: list[bool] = []

    def sync(full: bool) -> None:
        calls.append(full)
        if len(calls) == 2:
            raise RuntimeError("iptables-restore failed")

    runner = BoundedFrequencyRunner(sync, min_interval=0.0, max_interval=3600)
    runner.start()
    try:
        wait_for(lambda: len(calls) == 1, message="first sync")
        runner.run()
        wait_for(lambda: len(calls) == 3, message="retry after the failure")
        assert calls == [True, False, True]
    finally:
        runner.stop()


def test_runner_resyncs_periodically_without_requests() -> None:
    calls: list[bool] = []
    runner = BoundedFrequencyRunner(calls.append, min_interval=0.0, max_interval=0.05)
    runner.start()
    try:
        wait_for(lambda: len(calls) >= 3, message="periodic full syncs")
        assert all(calls)
    finally:
        runner.stop()


def test_flags() -> None:
    args = parse_args(["--cluster-cidr", "10.244.0.0/16", "--min-sync-period", "1s", "--sync-period", "30s",
                       "--iptables-netns", "minik-test-x", "--hostname-override", "w1", "--node-ip", "10.0.0.5"])
    assert (args.cluster_cidr, args.min_sync_period, args.sync_period) == ("10.244.0.0/16", 1.0, 30.0)
    assert (args.iptables_netns, args.hostname_override, args.node_ip) == ("minik-test-x", "w1", "10.0.0.5")
    for bad in (["--cluster-cidr", "nope"], ["--node-ip", "1.2.3"], ["--min-sync-period", "0"],
                ["--min-sync-period", "10", "--sync-period", "5"], ["--masquerade-bit", "40"]):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_parse_save_reads_chains_and_rules() -> None:
    saved = parse_save("*nat\n:PREROUTING ACCEPT [0:0]\n:MINIK-SERVICES - [0:0]\n"
                       '-A PREROUTING -m comment --comment "a b" -j MINIK-SERVICES\nCOMMIT\n')
    assert saved["nat"].chains == {"PREROUTING", "MINIK-SERVICES"}
    assert saved["nat"].jumps("PREROUTING", "MINIK-SERVICES") == ['-m comment --comment "a b" -j MINIK-SERVICES']
