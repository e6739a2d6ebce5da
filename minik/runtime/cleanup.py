"""Leave the host clean: tear down a whole runtime state dir, and sweep leftovers of killed runs.

Everything minik creates carries the `minik` prefix; test runs add their pid (`minik-test-<pid>-...`),
so a sweep only touches leftovers whose owning process is gone and never a concurrent run's.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from minik.runtime import linux
from minik.runtime.cgroups import CGROUP_ROOT, detect_version, remove_tree, v1_mounts
from minik.runtime.state import log, read_json

TEST_PREFIX = "minik-test-"
_OWNER = re.compile(r"^minik-test-(\d+)-")


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below `root`, deepest first (so they can be unmounted in order)."""
    prefix = str(root).rstrip("/") + "/"
    points = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split()[4].replace("\\040", " ")
                if point.startswith(prefix) or point == str(root):
                    points.append(point)
    except OSError:
        return []
    return sorted(set(points), key=lambda p: p.count("/"), reverse=True)


def kill_recorded_processes(root: Path) -> None:
    """SIGKILL the pause processes and containers recorded under a runtime root."""
    for status in (root / "containers").glob("*/status.json"):
        data = read_json(status) or {}
        for pid_key, start_key in (("pid", "pid_start"), ("shim_pid", "shim_start")):
            pid = int(data.get(pid_key) or 0)
            if pid and linux.alive(pid, data.get(start_key)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
    for record in (root / "sandboxes").glob("*/sandbox.json"):
        data = read_json(record) or {}
        pid = int(data.get("pause_pid") or 0)
        if pid and linux.alive(pid, data.get("pause_start")):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


def remove_root(root: Path) -> None:
    """Kill what runs from `root`, unmount everything below it, delete it. Idempotent."""
    if not root.exists():
        return
    kill_recorded_processes(root)
    for point in mounts_under(root):
        with contextlib.suppress(OSError):
            linux.umount(point, linux.MNT_DETACH)
    shutil.rmtree(root, ignore_errors=True)


def cgroup_parents(prefix: str, root: Path = CGROUP_ROOT) -> list[Path]:
    """Top-level cgroup dirs whose name starts with `prefix`, in every hierarchy."""
    bases = [root] if detect_version(root) == "v2" else sorted(set(v1_mounts().values()))
    found = []
    for base in bases:
        with contextlib.suppress(OSError):
            found += [p for p in base.iterdir() if p.is_dir() and p.name.startswith(prefix)]
    return found


def _owner_gone(name: str) -> bool:
    match = _OWNER.match(name)
    return match is not None and not os.path.exists(f"/proc/{match.group(1)}")


def kill_stale_test_processes() -> list[int]:
    """SIGKILL processes (daemons, shims, registries) whose command line names a dead run's dir."""
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        owners = re.findall(r"minik-test-(\d+)-", cmdline)
        if owners and all(not os.path.exists(f"/proc/{owner}") for owner in owners):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), 9)
                killed.append(int(entry.name))
    return killed


def clean_stale_test_leftovers(tmp: Path | None = None) -> list[str]:
    """Remove `minik-test-<pid>-*` processes, state dirs, mounts and cgroups whose test process is dead."""
    removed = [f"pid {pid}" for pid in kill_stale_test_processes()]
    tmp = tmp or Path(tempfile.gettempdir())
    for entry in tmp.glob(f"{TEST_PREFIX}*"):
        if entry.is_dir() and _owner_gone(entry.name):
            remove_root(entry)
            removed.append(str(entry))
    for directory in cgroup_parents(TEST_PREFIX):
        if _owner_gone(directory.name):
            try:
                remove_tree(directory)
                removed.append(str(directory))
            except OSError as error:
                log.warning("stale cgroup %s not removed: %s", directory, error)
    return removed
