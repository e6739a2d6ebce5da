"""runtime scenario: how fast minik's runtime starts containers, pods and execs, next to runc.

Three latencies, each with a reference measured in the same run on the same image layer:
- container run: create + start + wait for exit + remove of `true` in a ready pod, against
  `runc run` + `runc delete` of `true` on the same busybox rootfs (both make pid/mount namespaces
  and a cgroup; minik also mounts overlayfs and starts a Python shim, which is where the gap is);
- pod sandbox: run_pod_sandbox + remove_pod_sandbox, against `unshare -n -i -u -p -f true` (the bare
  cost of the namespaces the pause process holds);
- exec: exec_sync of `true` in a running container, against `nsenter -t PID -a true`.
Needs root (real namespaces and cgroups); everything it makes is named minik-bench-<pid>-* and removed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.framework import PREFIX, BenchError, Options, ScenarioResult, percentile, progress, scenario
from minik.runtime.cgroups import remove_tree
from minik.runtime.cleanup import cgroup_parents, remove_root
from minik.runtime.containers import EXITED
from minik.runtime.images.builder import build_lab_images
from minik.runtime.service import Runtime


def _timed(n: int, op: Callable[[int], None]) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        op(i)
        samples.append(time.perf_counter() - start)
    return samples


def _wait_exited(runtime: Runtime, container_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while runtime.container_status(container_id)["status"]["state"] != EXITED:
        if time.monotonic() > deadline:
            raise BenchError(f"container {container_id[:12]} did not exit")
        time.sleep(0.001)


def _runc_bundle(directory: Path, rootfs: Path, cgroup_parent: str) -> Path:
    """An OCI bundle for `true` on `rootfs` (from `runc spec`, made non-interactive)."""
    directory.mkdir(parents=True)
    subprocess.run(["runc", "spec"], cwd=directory, check=True)
    spec = json.loads((directory / "config.json").read_text())
    spec["process"]["args"] = ["true"]
    spec["process"]["terminal"] = False
    spec["root"] = {"path": str(rootfs), "readonly": True}
    spec["linux"]["cgroupsPath"] = f"/{cgroup_parent}/runc"
    (directory / "config.json").write_text(json.dumps(spec))
    return directory


def _add(result: ScenarioResult, name: str, minik: list[float], reference: list[float] | None) -> None:
    for p in (50, 99):
        result.add(f"{name}_p{p}", percentile(minik, p) * 1000, "ms",
                   percentile(reference, p) * 1000 if reference else None)


@scenario("runtime")
def run(opts: Options) -> ScenarioResult:
    if os.geteuid() != 0:
        raise BenchError("the runtime scenario needs root (real namespaces and cgroups)")
    n = opts.pick(40, 5)
    tag = f"{PREFIX}-{os.getpid()}"
    root = Path(tempfile.mkdtemp(prefix=f"{tag}-runtime-"))
    runtime = Runtime(root / "state", cgroup_parent=f"{tag}-cg")
    result = ScenarioResult("runtime")
    try:
        progress("runtime: building the lab images")
        image = build_lab_images(runtime.images)[0]
        rootfs = runtime.images.layer_dir(image.layers[0])
        sandbox = runtime.run_pod_sandbox({"metadata": {"name": "bench", "namespace": "default", "uid": tag}})

        def minik_run(i: int) -> None:
            cid = runtime.create_container(sandbox, {"metadata": {"name": f"c{i}"}, "image": {"image": "busybox"},
                                                     "command": ["true"]})
            runtime.start_container(cid)
            _wait_exited(runtime, cid)
            runtime.remove_container(cid)

        reference: list[float] | None = None
        if shutil.which("runc"):
            bundle = _runc_bundle(root / "bundle", rootfs, f"{tag}-runc")

            def runc_run(i: int) -> None:
                state = ["runc", "--root", str(root / "runc")]
                subprocess.run([*state, "run", "--bundle", str(bundle), f"{tag}-{i}"], check=True,
                               stdin=subprocess.DEVNULL, capture_output=True)
                subprocess.run([*state, "delete", "-f", f"{tag}-{i}"], check=True, capture_output=True)

            progress(f"runtime: {n} x runc run (reference)")
            reference = _timed(n, runc_run)
        progress(f"runtime: {n} x container run")
        _add(result, "container_run", _timed(n, minik_run), reference)

        def minik_pod(i: int) -> None:
            sid = runtime.run_pod_sandbox({"metadata": {"name": f"p{i}", "namespace": "default", "uid": f"{tag}-{i}"}})
            runtime.remove_pod_sandbox(sid)

        def unshare_pod(i: int) -> None:
            subprocess.run(["unshare", "-n", "-i", "-u", "-p", "-f", "true"], check=True)

        progress(f"runtime: {n} x pod sandbox")
        _add(result, "pod_sandbox", _timed(n, minik_pod), _timed(n, unshare_pod))

        sleeper = runtime.create_container(sandbox, {"metadata": {"name": "sleeper"}, "image": {"image": "busybox"},
                                                     "command": ["sleep", "3600"]})
        runtime.start_container(sleeper)
        pid = runtime.container_status(sleeper, True)["info"]["pid"]

        def minik_exec(i: int) -> None:
            if runtime.exec_sync(sleeper, ["true"], 30)["exit_code"] != 0:
                raise BenchError("exec of true failed")

        def nsenter_exec(i: int) -> None:
            subprocess.run(["nsenter", "-t", str(pid), "-a", "true"], check=True)

        progress(f"runtime: {n} x exec")
        _add(result, "exec", _timed(n, minik_exec), _timed(n, nsenter_exec))
        return result
    finally:
        for item in runtime.list_pod_sandbox():
            runtime.remove_pod_sandbox(item["id"])
        remove_root(root)
        runtime.cgroups.remove_parent()
        for directory in cgroup_parents(f"{tag}-runc"):
            remove_tree(directory)
