"""runtime scenario: how fast minik's runtime starts containers, pods and execs, next to runc and crun.

Each latency has a reference measured in the same run on the same image layer:
- container run (issue 4 item 11): create + start + wait for exit + remove of `true` in a ready pod,
  100 one after another and 20 at once, against `runc run` + `runc delete` and `crun run` +
  `crun delete` of `true` on the same busybox rootfs. All three make pid and mount namespaces, a
  pivot_root'ed rootfs and a cgroup per container; minik also mounts the overlay and keeps a shim.
  Targets: faster than runc, within 2x of crun, per container. crun refuses a hybrid cgroup host
  (v1 controllers plus a cgroup2 mount holding one, like this Debian's): its runs happen in a
  private mount namespace without that cgroup2 mount, which leaves the host as it is and costs
  crun nothing per container;
- pod sandbox: run_pod_sandbox + remove_pod_sandbox, against `unshare -n -i -u -p -f true` (the bare
  cost of the namespaces the pause process holds);
- exec: exec_sync of `true` in a running container, against `nsenter -t PID -a true`.
Needs root (real namespaces and cgroups); everything it makes is named minik-bench-<pid>-* and removed.
`python -m bench.runtime reference TOOL BUNDLE ROOT PREFIX N CONCURRENCY` is the reference loop on
its own (the scenario runs crun's that way, in its own mount namespace); it prints the samples as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.framework import (
    BENCH_DIR,
    PREFIX,
    BenchError,
    Options,
    ScenarioResult,
    Target,
    percentile,
    progress,
    run_threads,
    scenario,
)
from minik.runtime import linux
from minik.runtime.cgroups import CGROUP_ROOT, remove_tree
from minik.runtime.cleanup import cgroup_parents, remove_root
from minik.runtime.containers import EXITED
from minik.runtime.images.builder import build_lab_images
from minik.runtime.process import wait_gone
from minik.runtime.service import Runtime

FASTER_THAN_RUNC = Target("<", 1, on="ratio")
WITHIN_2X_OF_CRUN = Target("<=", 2, on="ratio")
HYBRID_CGROUP2 = "/sys/fs/cgroup/unified"  # where Debian's hybrid layout mounts cgroup2


def _timed(n: int, op: Callable[[int], None]) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        op(i)
        samples.append(time.perf_counter() - start)
    return samples


def _per_container(concurrency: int, op: Callable[[int], None]) -> float:
    """Wall time of `concurrency` runs started at once, divided by their number (seconds)."""
    stats = run_threads(concurrency, concurrency, lambda _worker: None, lambda _state, i: op(i))
    return stats.elapsed / concurrency


def _wait_exited(runtime: Runtime, container_id: str, timeout: float = 60) -> None:
    """Wait like `runc run` does, without burning the CPU the runtime needs: block on the shim's
    pidfd (it exits right after recording the exit code), then confirm through the CRI status."""
    status = runtime.container_status(container_id, True)
    if status["status"]["state"] != EXITED:
        wait_gone(status["info"]["shim_pid"], None, timeout)
    deadline = time.monotonic() + timeout
    while runtime.container_status(container_id)["status"]["state"] != EXITED:
        if time.monotonic() > deadline:
            raise BenchError(f"container {container_id[:12]} did not exit")
        time.sleep(0.001)


def _oci_bundle(directory: Path, rootfs: Path) -> Path:
    """An OCI bundle for `true` on `rootfs` (from `runc spec`, made non-interactive); no cgroupsPath,
    so each container gets (and `delete` removes) a cgroup named after its id, as minik's do."""
    directory.mkdir(parents=True)
    subprocess.run(["runc", "spec"], cwd=directory, check=True)
    spec = json.loads((directory / "config.json").read_text())
    spec["process"]["args"] = ["true"]
    spec["process"]["terminal"] = False
    spec["root"] = {"path": str(rootfs), "readonly": True}
    (directory / "config.json").write_text(json.dumps(spec))
    return directory


def reference_runs(tool: str, bundle: Path, root: Path, prefix: str, n: int, concurrency: int) -> dict[str, Any]:
    """`TOOL run` + `TOOL delete` of the bundle, n times in a row and `concurrency` at once:
    {"sequential": [seconds...], "per_container": seconds}."""
    state = [tool, "--root", str(root)]

    def one(name: str) -> None:
        subprocess.run([*state, "run", "--bundle", str(bundle), name], check=True,
                       stdin=subprocess.DEVNULL, capture_output=True)
        subprocess.run([*state, "delete", "-f", name], check=True, capture_output=True)

    sequential = _timed(n, lambda i: one(f"{prefix}-{i}"))
    per_container = _per_container(concurrency, lambda i: one(f"{prefix}-c{i}"))
    return {"sequential": sequential, "per_container": per_container}


def _crun_runs(bundle: Path, root: Path, prefix: str, n: int, concurrency: int) -> dict[str, Any] | None:
    """crun's reference loop in `unshare -m` (see the module docstring); None if crun cannot run here."""
    if not shutil.which("crun"):
        return None
    argv = [sys.executable, "-m", "bench.runtime", "reference", "crun", str(bundle), str(root), prefix, str(n),
            str(concurrency)]
    env = dict(os.environ, PYTHONPATH=str(BENCH_DIR.parent))
    done = subprocess.run(argv, cwd=BENCH_DIR.parent, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        progress(f"runtime: crun reference failed, left out: {done.stderr.strip()[-500:]}")
        return None
    return dict(json.loads(done.stdout))


def _remove_reference_cgroups(prefix: str) -> None:
    """What a failed `run` left: runc and crun make their cgroup in every v1 hierarchy (blkio,
    devices, freezer, ...), not only in the four minik uses."""
    for directory in [*CGROUP_ROOT.glob(f"*/{prefix}*"), *cgroup_parents(prefix)]:
        with contextlib.suppress(OSError):
            remove_tree(directory)


def _add(result: ScenarioResult, name: str, minik: list[float], reference: list[float] | None,
         target: Target | None = None) -> None:
    for p in (50, 99):
        result.add(f"{name}_p{p}", percentile(minik, p) * 1000, "ms",
                   percentile(reference, p) * 1000 if reference else None, target if p == 50 else None)


def _add_per_container(result: ScenarioResult, name: str, minik: float, reference: dict[str, Any] | None,
                       target: Target) -> None:
    result.add(name, minik * 1000, "ms", reference["per_container"] * 1000 if reference else None, target)


@scenario("runtime")
def run(opts: Options) -> ScenarioResult:
    if os.geteuid() != 0:
        raise BenchError("the runtime scenario needs root (real namespaces and cgroups)")
    n = opts.pick(100, 5)
    concurrency = opts.pick(20, 3)
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

        runc: dict[str, Any] | None = None
        crun: dict[str, Any] | None = None
        if shutil.which("runc"):
            bundle = _oci_bundle(root / "bundle", rootfs)
            progress(f"runtime: {n} + {concurrency} at once x runc run (reference)")
            runc = reference_runs("runc", bundle, root / "runc", f"{tag}-runc", n, concurrency)
            progress(f"runtime: {n} + {concurrency} at once x crun run (reference)")
            crun = _crun_runs(bundle, root / "crun", f"{tag}-crun", n, concurrency)
        progress(f"runtime: {n} + {concurrency} at once x container run")
        minik_sequential = _timed(n, minik_run)
        minik_per_container = _per_container(concurrency, lambda i: minik_run(n + i))
        _add(result, "container_run", minik_sequential, runc["sequential"] if runc else None, FASTER_THAN_RUNC)
        _add(result, "container_run_vs_crun", minik_sequential, crun["sequential"] if crun else None,
             WITHIN_2X_OF_CRUN)
        _add_per_container(result, f"container_run_{concurrency}_at_once", minik_per_container, runc,
                           FASTER_THAN_RUNC)
        _add_per_container(result, f"container_run_{concurrency}_at_once_vs_crun", minik_per_container, crun,
                           WITHIN_2X_OF_CRUN)

        def minik_pod(i: int) -> None:
            sid = runtime.run_pod_sandbox({"metadata": {"name": f"p{i}", "namespace": "default", "uid": f"{tag}-{i}"}})
            runtime.remove_pod_sandbox(sid)

        def unshare_pod(i: int) -> None:
            subprocess.run(["unshare", "-n", "-i", "-u", "-p", "-f", "true"], check=True)

        pods = opts.pick(40, 5)
        progress(f"runtime: {pods} x pod sandbox")
        _add(result, "pod_sandbox", _timed(pods, minik_pod), _timed(pods, unshare_pod))

        sleeper = runtime.create_container(sandbox, {"metadata": {"name": "sleeper"}, "image": {"image": "busybox"},
                                                     "command": ["sleep", "3600"]})
        runtime.start_container(sleeper)
        pid = runtime.container_status(sleeper, True)["info"]["pid"]

        def minik_exec(i: int) -> None:
            if runtime.exec_sync(sleeper, ["true"], 30)["exit_code"] != 0:
                raise BenchError("exec of true failed")

        def nsenter_exec(i: int) -> None:
            subprocess.run(["nsenter", "-t", str(pid), "-a", "true"], check=True)

        progress(f"runtime: {pods} x exec")
        _add(result, "exec", _timed(pods, minik_exec), _timed(pods, nsenter_exec))
        return result
    finally:
        for item in runtime.list_pod_sandbox():
            runtime.remove_pod_sandbox(item["id"])
        remove_root(root)
        runtime.cgroups.remove_parent()
        for tool in ("runc", "crun"):
            _remove_reference_cgroups(f"{tag}-{tool}")


def _reference_main(args: list[str]) -> int:
    """`reference TOOL BUNDLE ROOT PREFIX N CONCURRENCY`: print reference_runs() as JSON. For crun
    on a hybrid host it first takes a private mount namespace and unmounts the cgroup2 mount there
    (only there: the host keeps it), so that crun sees plain cgroup v1."""
    if len(args) != 7 or args[0] != "reference":
        print(__doc__, file=sys.stderr)
        return 2
    tool, bundle, root, prefix, n, concurrency = args[1:]
    if tool == "crun" and os.path.ismount(HYBRID_CGROUP2):
        linux.unshare(linux.CLONE_NEWNS)  # still single-threaded here, as unshare(CLONE_NEWNS) wants
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
        linux.umount(HYBRID_CGROUP2, linux.MNT_DETACH)
    samples = reference_runs(tool, Path(bundle), Path(root), prefix, int(n), int(concurrency))
    print(json.dumps(samples))
    return 0


if __name__ == "__main__":
    sys.exit(_reference_main(sys.argv[1:]))
