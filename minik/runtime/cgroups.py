"""Cgroups v1 and v2: pod and container cgroups under the `minik` parent, limits, stats, OOM counts.

Detected once at start: v2 when /sys/fs/cgroup is a cgroup2 mount (Ubuntu 22.04+), otherwise v1
with one hierarchy per controller (Debian hybrid hosts; the empty `unified` mount is ignored).
Values follow the kubelet's conversions so a learner sees the same numbers Kubernetes writes:
cpu request -> cpu.shares (v1) / cpu.weight (v2), cpu limit -> CFS quota, memory limit -> limit.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minik.runtime.state import CRIError, log

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids")
V2_CONTROLLERS = ("cpu", "memory", "pids")

MIN_SHARES = 2
MAX_SHARES = 262144
SHARES_PER_CPU = 1024
DEFAULT_PERIOD_US = 100_000
MIN_QUOTA_US = 1000


# ---------------------------------------------------------------- value math (pure)


def milli_cpu_to_shares(milli: int) -> int:
    """Kubernetes' MilliCPUToShares: 1000m -> 1024, never below 2."""
    if milli <= 0:
        return MIN_SHARES
    return max(MIN_SHARES, min(MAX_SHARES, milli * SHARES_PER_CPU // 1000))


def milli_cpu_to_quota(milli: int, period_us: int = DEFAULT_PERIOD_US) -> int:
    """Kubernetes' MilliCPUToQuota: 500m with a 100ms period -> 50000us, at least 1ms."""
    if milli <= 0:
        return 0
    return max(MIN_QUOTA_US, milli * period_us // 1000)


def shares_to_weight(shares: int) -> int:
    """The v1 -> v2 mapping runc and the kubelet use: shares [2, 262144] -> weight [1, 10000]."""
    shares = max(MIN_SHARES, min(MAX_SHARES, shares))
    return 1 + ((shares - 2) * 9999) // 262142


def v2_cpu_max(quota_us: int | None, period_us: int | None) -> str:
    period = period_us or DEFAULT_PERIOD_US
    if quota_us is None or quota_us <= 0:
        return f"max {period}"
    return f"{quota_us} {period}"


@dataclass(frozen=True)
class Resources:
    """CRI LinuxContainerResources, the subset minik enforces."""

    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    memory_limit: int | None = None
    pids_limit: int | None = None

    @classmethod
    def from_cri(cls, data: dict[str, Any] | None) -> Resources:
        data = data or {}

        def positive(key: str) -> int | None:
            value = data.get(key)
            return int(value) if isinstance(value, int) and value > 0 else None

        return cls(
            cpu_shares=positive("cpu_shares"),
            cpu_quota=positive("cpu_quota"),
            cpu_period=positive("cpu_period"),
            memory_limit=positive("memory_limit_in_bytes"),
            pids_limit=positive("pids_limit"),
        )

    def v1_files(self) -> dict[tuple[str, str], str]:
        """(controller, file) -> value, in write order (memsw after the memory limit)."""
        files: dict[tuple[str, str], str] = {}
        if self.cpu_shares is not None:
            files[("cpu", "cpu.shares")] = str(self.cpu_shares)
        if self.cpu_quota is not None:
            files[("cpu", "cpu.cfs_period_us")] = str(self.cpu_period or DEFAULT_PERIOD_US)
            files[("cpu", "cpu.cfs_quota_us")] = str(self.cpu_quota)
        if self.memory_limit is not None:
            files[("memory", "memory.limit_in_bytes")] = str(self.memory_limit)
            files[("memory", "memory.memsw.limit_in_bytes")] = str(self.memory_limit)  # no swap, like k8s
        if self.pids_limit is not None:
            files[("pids", "pids.max")] = str(self.pids_limit)
        return files

    def v2_files(self) -> dict[str, str]:
        files: dict[str, str] = {}
        if self.cpu_shares is not None:
            files["cpu.weight"] = str(shares_to_weight(self.cpu_shares))
        if self.cpu_quota is not None:
            files["cpu.max"] = v2_cpu_max(self.cpu_quota, self.cpu_period)
        if self.memory_limit is not None:
            files["memory.max"] = str(self.memory_limit)
            files["memory.swap.max"] = "0"
        if self.pids_limit is not None:
            files["pids.max"] = str(self.pids_limit)
        return files


# ---------------------------------------------------------------- drivers


def _write(path: Path, value: str, optional: bool = False) -> None:
    try:
        path.write_text(value)
    except FileNotFoundError:
        if not optional:
            raise CRIError(f"cgroup file {path} does not exist (controller not enabled?)") from None
    except OSError as error:
        if not optional:
            raise CRIError(f"cannot write {value!r} to {path}: {error}") from error


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _flat_keyed(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (_read(path) or "").splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            out[key] = int(value.split()[0]) if value else 0
    return out


def remove_tree(directory: Path) -> None:
    """Remove a cgroup tree bottom-up, SIGKILLing any process still inside (leftovers of a killed run)."""
    try:  # scandir's d_type: no stat() for each of the dozens of control files in a cgroup dir
        children = [Path(e.path) for e in os.scandir(directory) if e.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return
    for child in sorted(children, reverse=True):
        remove_tree(child)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pids = [int(p) for p in (_read(directory / "cgroup.procs") or "").split()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno != errno.EBUSY:
                raise
        time.sleep(0.01)  # EBUSY: the killed processes are still exiting
    log.warning("cgroup %s still busy; left in place", directory)


class Cgroups:
    """A cgroup driver bound to one parent (e.g. `minik`); paths given to it are relative to that parent."""

    version: str = ""

    def __init__(self, parent: str = "minik", root: Path = CGROUP_ROOT) -> None:
        if not parent.split("/")[-1].startswith("minik"):
            raise CRIError(f"cgroup parent {parent!r} must carry the minik prefix")
        self.parent = parent.strip("/")
        self.root = root

    def dirs(self, rel: str) -> dict[str, Path]:
        """Controller -> directory of one cgroup (v2 has a single directory under key 'unified')."""
        raise NotImplementedError

    def create(self, rel: str, resources: Resources | None = None) -> None:
        raise NotImplementedError

    def add_process(self, rel: str, pid: int) -> None:
        for directory in self.dirs(rel).values():
            _write(directory / "cgroup.procs", str(pid))

    def procs_files(self, rel: str) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs(rel).values()]

    def remove(self, rel: str) -> None:
        for directory in self.dirs(rel).values():
            remove_tree(directory)

    def remove_parent(self) -> None:
        """Remove the whole parent (tests and `minik down`): kills whatever is still in it."""
        for directory in self.dirs("").values():
            remove_tree(directory)

    def oom_kills(self, rel: str) -> int:
        raise NotImplementedError

    def oom_files(self, rel: str) -> list[str]:
        raise NotImplementedError

    def stats(self, rel: str) -> dict[str, int]:
        raise NotImplementedError

    def limits(self, rel: str) -> dict[str, str]:
        """The limit files as the kernel reports them (what `inspect` shows)."""
        raise NotImplementedError


class CgroupsV1(Cgroups):
    version = "v1"

    def __init__(self, parent: str = "minik", root: Path = CGROUP_ROOT) -> None:
        super().__init__(parent, root)
        self.mounts = v1_mounts()
        missing = [c for c in V1_CONTROLLERS if c not in self.mounts]
        if missing:
            raise CRIError(f"cgroup v1 controllers not mounted: {', '.join(missing)}")

    def dirs(self, rel: str) -> dict[str, Path]:
        path = "/".join(p for p in (self.parent, rel.strip("/")) if p)
        return {c: self.mounts[c] / path for c in V1_CONTROLLERS}

    def create(self, rel: str, resources: Resources | None = None) -> None:
        for controller, directory in self.dirs(rel).items():
            directory.mkdir(parents=True, exist_ok=True)
            if controller == "memory":
                _write(directory / "memory.use_hierarchy", "1", optional=True)
        if resources is None:
            return
        dirs = self.dirs(rel)
        for (controller, name), value in resources.v1_files().items():
            _write(dirs[controller] / name, value, optional=name.startswith("memory.memsw"))

    def oom_files(self, rel: str) -> list[str]:
        return [str(self.dirs(rel)["memory"] / "memory.oom_control")]

    def oom_kills(self, rel: str) -> int:
        return _flat_keyed(self.dirs(rel)["memory"] / "memory.oom_control").get("oom_kill", 0)

    def stats(self, rel: str) -> dict[str, int]:
        dirs = self.dirs(rel)
        memory_stat = _flat_keyed(dirs["memory"] / "memory.stat")
        usage = int(_read(dirs["memory"] / "memory.usage_in_bytes") or 0)
        inactive = memory_stat.get("total_inactive_file", 0)
        return {
            "cpu_usage_ns": int(_read(dirs["cpuacct"] / "cpuacct.usage") or 0),
            "memory_usage_bytes": usage,
            "memory_working_set_bytes": max(0, usage - inactive),
            "pids": len((_read(dirs["pids"] / "cgroup.procs") or "").split()),
        }

    def limits(self, rel: str) -> dict[str, str]:
        dirs = self.dirs(rel)
        files = {
            "cpu.shares": dirs["cpu"] / "cpu.shares",
            "cpu.cfs_quota_us": dirs["cpu"] / "cpu.cfs_quota_us",
            "cpu.cfs_period_us": dirs["cpu"] / "cpu.cfs_period_us",
            "memory.limit_in_bytes": dirs["memory"] / "memory.limit_in_bytes",
            "pids.max": dirs["pids"] / "pids.max",
        }
        return {name: value for name, path in files.items() if (value := _read(path)) is not None}


class CgroupsV2(Cgroups):
    version = "v2"

    def dirs(self, rel: str) -> dict[str, Path]:
        path = "/".join(p for p in (self.parent, rel.strip("/")) if p)
        return {"unified": self.root / path}

    def _enable_controllers(self, directory: Path) -> None:
        """Delegate cpu/memory/pids down to `directory` (each ancestor's subtree_control)."""
        chain = []
        current = directory.parent
        while current != self.root.parent and self.root in (current, *current.parents):
            chain.append(current)
            if current == self.root:
                break
            current = current.parent
        for ancestor in reversed(chain):
            available = set((_read(ancestor / "cgroup.controllers") or "").split())
            enabled = set((_read(ancestor / "cgroup.subtree_control") or "").split())
            for controller in V2_CONTROLLERS:
                if controller in available and controller not in enabled:
                    _write(ancestor / "cgroup.subtree_control", f"+{controller}", optional=True)

    def create(self, rel: str, resources: Resources | None = None) -> None:
        directory = self.dirs(rel)["unified"]
        directory.mkdir(parents=True, exist_ok=True)
        self._enable_controllers(directory)
        if resources is None:
            return
        for name, value in resources.v2_files().items():
            _write(directory / name, value, optional=name == "memory.swap.max")

    def oom_files(self, rel: str) -> list[str]:
        return [str(self.dirs(rel)["unified"] / "memory.events")]

    def oom_kills(self, rel: str) -> int:
        return _flat_keyed(self.dirs(rel)["unified"] / "memory.events").get("oom_kill", 0)

    def stats(self, rel: str) -> dict[str, int]:
        directory = self.dirs(rel)["unified"]
        cpu = _flat_keyed(directory / "cpu.stat")
        memory_stat = _flat_keyed(directory / "memory.stat")
        usage = int(_read(directory / "memory.current") or 0)
        return {
            "cpu_usage_ns": cpu.get("usage_usec", 0) * 1000,
            "memory_usage_bytes": usage,
            "memory_working_set_bytes": max(0, usage - memory_stat.get("inactive_file", 0)),
            "pids": len((_read(directory / "cgroup.procs") or "").split()),
        }

    def limits(self, rel: str) -> dict[str, str]:
        directory = self.dirs(rel)["unified"]
        names = ("cpu.weight", "cpu.max", "memory.max", "memory.swap.max", "pids.max")
        return {name: value for name in names if (value := _read(directory / name)) is not None}


def v1_mounts(mountinfo: str = "/proc/self/mountinfo") -> dict[str, Path]:
    """Controller -> mount point of each v1 hierarchy (handles co-mounts like cpu,cpuacct)."""
    mounts: dict[str, Path] = {}
    try:
        lines = Path(mountinfo).read_text().splitlines()
    except OSError:
        return mounts
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = right.split()
        if len(fields) < 3 or fields[0] != "cgroup":
            continue
        mount_point = Path(left.split()[4])
        for option in fields[2].split(","):
            if option in V1_CONTROLLERS and option not in mounts:
                mounts[option] = mount_point
    return mounts


def detect_version(root: Path = CGROUP_ROOT) -> str:
    """'v2' when `root` itself is cgroup2 (it has cgroup.controllers), else 'v1'."""
    return "v2" if (root / "cgroup.controllers").exists() else "v1"


def open_cgroups(parent: str = "minik", root: Path = CGROUP_ROOT) -> Cgroups:
    return CgroupsV2(parent, root) if detect_version(root) == "v2" else CgroupsV1(parent, root)
