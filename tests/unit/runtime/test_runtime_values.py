"""Pure value logic: CRI log records and rotation, cgroup conversions, layer entry names, challenges."""

from __future__ import annotations

import logging
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from minik.runtime import linux
from minik.runtime.cgroups import (
    Resources,
    milli_cpu_to_quota,
    milli_cpu_to_shares,
    shares_to_weight,
    v1_mounts,
    v2_cpu_max,
)
from minik.runtime.images.extract import Entry, UnsafeLayerError, check_symlink, classify, safe_name
from minik.runtime.images.registry import RegistryConfig, parse_challenge
from minik.runtime.logs import MAX_LINE, LogWriter, format_record, parse_record, read_lines, tail
from minik.runtime.sandboxes import SANDBOX_NOTREADY, SANDBOX_READY, Sandboxes
from minik.runtime.state import RecordStore, rfc3339_nano, write_json

# ---------------------------------------------------------------- logs


def test_record_format_is_rfc3339nano_stream_tag_content() -> None:
    ns = 1_700_000_000_123_456_789
    assert rfc3339_nano(ns) == "2023-11-14T22:13:20.123456789Z"
    assert format_record("stdout", b"hello", False, ns) == b"2023-11-14T22:13:20.123456789Z stdout F hello\n"
    assert format_record("stderr", b"par", True, ns).split(b" ")[1:3] == [b"stderr", b"P"]
    record = parse_record(b"2023-11-14T22:13:20.123456789Z stdout F with spaces inside\n")
    assert record is not None and record.content == b"with spaces inside" and not record.partial
    assert parse_record(b"garbage") is None
    assert parse_record(b"2023 stdin F x") is None


def test_writer_splits_lines_keeps_streams_apart_and_flushes_partial_at_close(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "c.log", clock=lambda: 0)
    writer.write("stdout", b"one\ntw")
    writer.write("stderr", b"err\n")
    writer.write("stdout", b"o\nthree")
    writer.close()
    lines = (tmp_path / "c.log").read_bytes().splitlines()
    assert [line.split(b" ", 1)[1] for line in lines] == [
        b"stdout F one", b"stderr F err", b"stdout F two", b"stdout F three"]


def test_long_lines_become_partial_records_and_are_joined_when_read(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "c.log")
    writer.write("stdout", b"x" * (MAX_LINE * 2 + 5) + b"\n")
    writer.close()
    tags = [line.split(b" ")[2] for line in (tmp_path / "c.log").read_bytes().splitlines()]
    assert tags == [b"P", b"P", b"F"]
    assert [content for _, _, content in read_lines(tmp_path / "c.log")] == [b"x" * (MAX_LINE * 2 + 5)]


def test_rotation_keeps_max_files_and_reading_spans_them(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    writer = LogWriter(path, max_size=200, max_files=3)
    for i in range(40):
        writer.write("stdout", f"line {i:02d}\n".encode())
    writer.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["c.log", "c.log.1", "c.log.2"]
    assert all(p.stat().st_size <= 200 for p in tmp_path.iterdir())
    contents = [c.decode() for _, _, c in read_lines(path)]
    assert contents[-1] == "line 39" and contents == sorted(contents)  # oldest first, newest last
    assert [c for _, _, c in tail(path, 2)] == [b"line 38", b"line 39"]


# ---------------------------------------------------------------- cgroups


def test_cpu_conversions_match_the_kubelet() -> None:
    assert milli_cpu_to_shares(1000) == 1024
    assert milli_cpu_to_shares(500) == 512
    assert milli_cpu_to_shares(0) == 2 and milli_cpu_to_shares(1) == 2
    assert milli_cpu_to_quota(500) == 50_000 and milli_cpu_to_quota(1) == 1000 and milli_cpu_to_quota(0) == 0
    assert (shares_to_weight(2), shares_to_weight(1024), shares_to_weight(262144)) == (1, 39, 10000)
    assert v2_cpu_max(50_000, 100_000) == "50000 100000" and v2_cpu_max(None, None) == "max 100000"


def test_resources_map_to_v1_and_v2_files() -> None:
    resources = Resources.from_cri({"cpu_shares": 512, "cpu_quota": 50_000, "cpu_period": 100_000,
                                    "memory_limit_in_bytes": 104857600, "pids_limit": 0})
    assert resources.v1_files() == {
        ("cpu", "cpu.shares"): "512",
        ("cpu", "cpu.cfs_period_us"): "100000",
        ("cpu", "cpu.cfs_quota_us"): "50000",
        ("memory", "memory.limit_in_bytes"): "104857600",
        ("memory", "memory.memsw.limit_in_bytes"): "104857600",
    }
    assert resources.v2_files() == {"cpu.weight": "20", "cpu.max": "50000 100000", "memory.max": "104857600",
                                    "memory.swap.max": "0"}
    assert Resources.from_cri({"cpu_quota": -1, "memory_limit_in_bytes": "lots"}).v1_files() == {}


def test_v1_mounts_handle_comounted_controllers(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    )
    mounts = v1_mounts(str(info))
    assert mounts["cpu"] == mounts["cpuacct"] == Path("/sys/fs/cgroup/cpu,cpuacct")
    assert mounts["memory"] == Path("/sys/fs/cgroup/memory") and "pids" not in mounts


# ---------------------------------------------------------------- layer entries


def test_safe_names_reject_escapes() -> None:
    assert safe_name("./usr/bin/") == "usr/bin"
    assert safe_name("./") == "."
    for bad in ("/etc/passwd", "../x", "a/../../x", "a/..", "x\0y"):
        with pytest.raises(UnsafeLayerError):
            safe_name(bad)


def test_whiteout_names_are_classified() -> None:
    assert classify("etc/.wh.passwd") == Entry("whiteout", "etc/passwd")
    assert classify(".wh.tmp") == Entry("whiteout", "tmp")
    assert classify("var/lib/.wh..wh..opq") == Entry("opaque", "var/lib")
    assert classify(".wh..wh..opq") == Entry("opaque", ".")
    assert classify("etc/passwd") == Entry("entry", "etc/passwd")
    with pytest.raises(UnsafeLayerError):
        classify("a/.wh...")


def test_symlink_targets_may_not_climb_out() -> None:
    check_symlink("bin/sh", "busybox")
    check_symlink("etc/mtab", "/proc/mounts")  # absolute: rooted in the container
    check_symlink("a/b/c", "../../x")
    for name, target in (("a", "../x"), ("a/b", "../../../etc"), ("x", "..")):
        with pytest.raises(UnsafeLayerError):
            check_symlink(name, target)
    assert tarfile.SYMTYPE  # the module the extractor reads with


# ---------------------------------------------------------------- registry


def test_bearer_challenge_parsing_and_insecure_registries() -> None:
    scheme, params = parse_challenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"')
    assert scheme == "bearer" and params == {"realm": "https://auth.example/token", "service": "reg",
                                             "scope": "repository:a:pull"}
    config = RegistryConfig(insecure=["reg.lab:5000"])
    assert config.endpoint("reg.lab:5000") == "http://reg.lab:5000"
    assert config.endpoint("127.0.0.1:5000") == "http://127.0.0.1:5000"  # loopback, like Docker
    assert config.endpoint("docker.io") == "https://registry-1.docker.io"
    assert config.endpoint("other:5000") == "https://other:5000"


def test_a_record_being_created_is_skipped_quietly_and_not_ready(tmp_path: Path, caplog: Any) -> None:
    """Parallel sandbox creation: a list may meet a directory whose record is not written yet (skip
    it without a warning) or one whose network is not set up yet ("creating": never ready)."""
    store = RecordStore(tmp_path)
    (tmp_path / "half").mkdir()
    write_json(tmp_path / "whole" / "record.json", {"id": "whole"})
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "record.json").write_text("{")
    with caplog.at_level(logging.WARNING, logger="minik.runtime"):
        assert [r["id"] for r in store.all()] == ["whole"]
    assert "half" not in caplog.text and "corrupt" in caplog.text

    sandboxes = Sandboxes.__new__(Sandboxes)
    live = {"id": "s", "pause_pid": os.getpid(), "pause_start": linux.process_start_time(os.getpid())}
    assert sandboxes.state(live) == SANDBOX_READY
    assert sandboxes.state({**live, "creating": True}) == SANDBOX_NOTREADY
