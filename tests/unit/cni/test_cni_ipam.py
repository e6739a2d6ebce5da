"""host-local IPAM: allocation order, release, exhaustion, and consistency after crashes/restarts."""

from __future__ import annotations

import ipaddress
import multiprocessing
import os
from pathlib import Path

import pytest

from minik.cni.config import parse_ipam
from minik.cni.errors import CNIError
from minik.cni.ipam import LAST_RESERVED, TMP_PREFIX, HostLocal


def store(tmp_path: Path, subnet: str = "10.244.1.0/24", **extra: str) -> HostLocal:
    return HostLocal("minik", parse_ipam({"subnet": subnet, "dataDir": str(tmp_path), **extra}))


def alloc(ipam: HostLocal, cid: str, ifname: str = "eth0") -> str:
    with ipam.locked():
        return str(ipam.allocate(cid, ifname))


def release(ipam: HostLocal, cid: str, ifname: str = "eth0") -> list[str]:
    with ipam.locked():
        return [str(a) for a in ipam.release(cid, ifname)]


def test_allocates_in_order_skipping_the_gateway_and_records_the_owner(tmp_path: Path) -> None:
    ipam = store(tmp_path)
    assert [alloc(ipam, f"c{i}") for i in range(3)] == ["10.244.1.2", "10.244.1.3", "10.244.1.4"]
    assert (tmp_path / "minik" / "10.244.1.3").read_text() == "c1\neth0\n"
    assert (tmp_path / "minik" / LAST_RESERVED).read_text() == "10.244.1.4"


def test_same_attachment_gets_the_same_ip_never_two(tmp_path: Path) -> None:
    ipam = store(tmp_path)
    first = alloc(ipam, "c1")
    assert alloc(ipam, "c1") == first
    assert alloc(ipam, "c1", "net1") != first  # another interface of the same container is another attachment
    assert len(ipam.allocations()) == 2


def test_release_frees_only_the_attachment_and_is_idempotent(tmp_path: Path) -> None:
    ipam = store(tmp_path)
    a, b = alloc(ipam, "a"), alloc(ipam, "b")
    assert release(ipam, "a") == [a]
    assert release(ipam, "a") == []
    assert {str(ip) for ip in ipam.allocations()} == {b}


def test_freed_ip_is_not_reused_at_once(tmp_path: Path) -> None:
    ipam = store(tmp_path)
    a = alloc(ipam, "a")
    release(ipam, "a")
    assert alloc(ipam, "b") != a  # round-robin after the last reserved, like the reference plugin


def test_allocation_wraps_around_to_freed_addresses(tmp_path: Path) -> None:
    ipam = store(tmp_path, rangeStart="10.244.1.10", rangeEnd="10.244.1.12")
    assert [alloc(ipam, c) for c in "abc"] == ["10.244.1.10", "10.244.1.11", "10.244.1.12"]
    release(ipam, "a")
    assert alloc(ipam, "d") == "10.244.1.10"


def test_exhaustion_is_a_clear_error_and_changes_nothing(tmp_path: Path) -> None:
    ipam = store(tmp_path, "10.244.1.0/29")  # .1 gateway, .2-.6 for pods
    ips = [alloc(ipam, f"c{i}") for i in range(5)]
    before = sorted(p.name for p in (tmp_path / "minik").iterdir())
    with pytest.raises(CNIError) as error:
        alloc(ipam, "one-too-many")
    assert error.value.code == 100
    assert error.value.msg == "no IP addresses available in range 10.244.1.1-10.244.1.6"
    assert "all 5 addresses" in error.value.details
    assert sorted(p.name for p in (tmp_path / "minik").iterdir()) == before
    assert ips == [f"10.244.1.{i}" for i in range(2, 7)]


def test_restart_continues_from_the_store_on_disk(tmp_path: Path) -> None:
    alloc(store(tmp_path), "a")
    alloc(store(tmp_path), "b")
    fresh = store(tmp_path)  # a new process: only the files are shared
    assert fresh.get("a", "eth0") == ipaddress.IPv4Address("10.244.1.2")
    assert alloc(fresh, "c") == "10.244.1.4"


def test_crash_leftovers_are_swept_and_unreadable_reservations_stay_reserved(tmp_path: Path) -> None:
    ipam = store(tmp_path, "10.244.1.0/29")
    directory = tmp_path / "minik"
    directory.mkdir()
    (directory / f"{TMP_PREFIX}10.244.1.2-99999").write_text("half")  # killed between write and link
    (directory / "10.244.1.2").write_text("")  # written by something that died mid-way: still taken
    (directory / LAST_RESERVED).write_text("garbage")
    assert alloc(ipam, "a") == "10.244.1.3"
    assert not list(directory.glob(f"{TMP_PREFIX}*"))
    assert ipaddress.IPv4Address("10.244.1.2") in ipam.allocations()


def test_gc_frees_what_no_live_attachment_owns(tmp_path: Path) -> None:
    ipam = store(tmp_path)
    keep, gone = alloc(ipam, "keep"), alloc(ipam, "gone")
    with ipam.locked():
        freed = ipam.gc({("keep", "eth0")})
    assert [str(a) for a in freed] == [gone]
    assert {str(a) for a in ipam.allocations()} == {keep}


def _worker(data_dir: str, prefix: str, count: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    ipam = HostLocal("minik", parse_ipam({"subnet": "10.244.1.0/24", "dataDir": data_dir}))
    queue.put([alloc(ipam, f"{prefix}-{i}") for i in range(count)])


def test_concurrent_processes_never_get_the_same_ip(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(str(tmp_path), f"p{n}", 20, queue)) for n in range(4)]
    for w in workers:
        w.start()
    results = [queue.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(60)
    ips = [ip for result in results for ip in result]
    assert len(ips) == 80 and len(set(ips)) == 80
    assert len(store(tmp_path).allocations()) == 80


def test_free_count(tmp_path: Path) -> None:
    ipam = store(tmp_path, "10.244.1.0/29")
    assert ipam.free_count() == 5
    alloc(ipam, "a")
    assert ipam.free_count() == 4
    assert os.path.isdir(tmp_path / "minik")
