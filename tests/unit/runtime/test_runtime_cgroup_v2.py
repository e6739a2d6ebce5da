"""The cgroup v2 driver against a fake /sys/fs/cgroup tree (this CI host is v1; lab VMs are v2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from minik.runtime.cgroups import CgroupsV2, Resources, detect_version, open_cgroups
from minik.runtime.state import CRIError


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    return tmp_path


def test_v2_is_detected_by_cgroup_controllers_at_the_root(fake_root: Path, tmp_path: Path) -> None:
    assert detect_version(fake_root) == "v2"
    assert isinstance(open_cgroups("minik", fake_root), CgroupsV2)
    assert detect_version(tmp_path / "nothing") == "v1"


def test_v2_writes_weight_max_and_delegates_controllers(fake_root: Path) -> None:
    cgroups = CgroupsV2("minik", fake_root)
    resources = Resources(cpu_shares=512, cpu_quota=50_000, cpu_period=100_000, memory_limit=100 << 20, pids_limit=32)
    cgroups.create("podabc")
    (fake_root / "minik" / "cgroup.controllers").write_text("cpu memory pids\n")
    cgroups.create("podabc/c1", resources)
    directory = fake_root / "minik/podabc/c1"
    assert cgroups.dirs("podabc/c1") == {"unified": directory}
    assert (directory / "cpu.weight").read_text() == "20"
    assert (directory / "cpu.max").read_text() == "50000 100000"
    assert (directory / "memory.max").read_text() == str(100 << 20)
    assert (directory / "memory.swap.max").read_text() == "0"
    assert (directory / "pids.max").read_text() == "32"
    assert (fake_root / "cgroup.subtree_control").read_text().startswith("+")  # controllers enabled downwards
    assert cgroups.procs_files("podabc/c1") == [str(directory / "cgroup.procs")]
    (directory / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    assert cgroups.oom_kills("podabc/c1") == 1
    assert cgroups.limits("podabc/c1")["cpu.max"] == "50000 100000"


def test_parent_must_carry_the_minik_prefix(fake_root: Path) -> None:
    with pytest.raises(CRIError, match="minik prefix"):
        CgroupsV2("kubepods", fake_root)
