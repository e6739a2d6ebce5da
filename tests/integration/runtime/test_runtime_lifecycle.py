"""Container lifecycle on the real kernel: cgroups, OOM, logs, exec, stop, re-adoption, overlay."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import pytest
from runtime_pods import Pods
from util import wait_for

from minik.runtime.cgroups import milli_cpu_to_quota, milli_cpu_to_shares, shares_to_weight
from minik.runtime.containers import CREATED, EXITED, RUNNING
from minik.runtime.logs import parse_record
from minik.runtime.service import Runtime

pytestmark = pytest.mark.root

MI = 1024 * 1024


def test_cgroup_files_hold_shares_quota_and_memory_limit(pods: Pods) -> None:
    resources = {"cpu_shares": milli_cpu_to_shares(500), "cpu_quota": milli_cpu_to_quota(1000),
                 "cpu_period": 100_000, "memory_limit_in_bytes": 100 * MI, "pids_limit": 64}
    container = pods.run(pods.sandbox(), ["sleep", "600"], linux={"resources": resources})
    info = pods.info(container)
    dirs = {k: Path(v) for k, v in info["cgroup"]["dirs"].items()}
    assert all("minik-test-" in str(d) for d in dirs.values())
    if info["cgroup"]["version"] == "v1":
        assert (dirs["cpu"] / "cpu.shares").read_text().strip() == "512"
        assert (dirs["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "100000"
        assert (dirs["cpu"] / "cpu.cfs_period_us").read_text().strip() == "100000"
        assert (dirs["memory"] / "memory.limit_in_bytes").read_text().strip() == str(100 * MI)
        assert (dirs["pids"] / "pids.max").read_text().strip() == "64"
        procs = (dirs["memory"] / "cgroup.procs").read_text().split()
    else:
        unified = dirs["unified"]
        assert (unified / "cpu.weight").read_text().strip() == str(shares_to_weight(512))
        assert (unified / "cpu.max").read_text().strip() == "100000 100000"
        assert (unified / "memory.max").read_text().strip() == str(100 * MI)
        assert (unified / "pids.max").read_text().strip() == "64"
        procs = (unified / "cgroup.procs").read_text().split()
    assert str(info["pid"]) in procs  # the container process itself is in its cgroup
    stats = pods.runtime.container_stats(container)
    assert stats["memory"]["usage_bytes"]["value"] > 0


def test_memory_limit_oom_kill_is_reported_as_oomkilled_137(pods: Pods) -> None:
    container = pods.run(pods.sandbox("mem"), ["sh", "-c", "head -c 300m /dev/zero | tail"],
                         linux={"resources": {"memory_limit_in_bytes": 100 * MI}})
    status = pods.wait_exited(container)
    assert (status["reason"], status["exit_code"]) == ("OOMKilled", 137)


def test_exit_code_and_reason_of_a_normal_exit(pods: Pods) -> None:
    sandbox = pods.sandbox()
    failed = pods.run(sandbox, ["sh", "-c", "exit 3"], name="fails")
    done = pods.run(sandbox, ["true"], name="ok")
    assert (pods.wait_exited(failed)["exit_code"], pods.status(failed)["reason"]) == (3, "Error")
    assert (pods.wait_exited(done)["exit_code"], pods.status(done)["reason"]) == (0, "Completed")


def test_a_missing_command_fails_start_with_a_clear_error(pods: Pods) -> None:
    container = pods.create(pods.sandbox(), ["no-such-binary"])
    with pytest.raises(Exception, match='exec: "no-such-binary": executable file not found'):
        pods.runtime.start_container(container)
    status = pods.status(container)
    assert (status["state"], status["exit_code"], status["reason"]) == (EXITED, 128, "StartError")


def test_logs_are_in_cri_format_with_both_streams(pods: Pods) -> None:
    container = pods.run(pods.sandbox(), ["sh", "-c", "echo out; echo err >&2; printf 'no newline'"])
    pods.wait_exited(container)
    raw = Path(pods.status(container)["log_path"]).read_bytes().splitlines(keepends=True)
    records = [parse_record(line) for line in raw]
    assert all(r is not None for r in records)
    seen = {(r.stream, r.content) for r in records if r}
    assert {("stdout", b"out"), ("stderr", b"err"), ("stdout", b"no newline")} <= seen
    assert any(line.endswith(b"Z stdout F out\n") and line[:4].isdigit() for line in raw)


def test_exec_sync_runs_in_the_container_namespaces_and_cgroup(pods: Pods) -> None:
    container = pods.run(pods.sandbox("exec-pod"), ["sleep", "600"])
    code, out, err = pods.exec(container, "sh", "-c", "hostname; cat /proc/self/cgroup; echo oops >&2; exit 7")
    assert code == 7 and err == "oops\n"
    lines = out.splitlines()
    assert lines[0] == "exec-pod"
    assert any(container in line for line in lines[1:])  # joined the container's own cgroup
    code, _, err = pods.exec(container, "nonexistent")
    assert code == 127 and "executable file not found" in err


def test_stop_gives_a_graceful_process_its_grace_period(pods: Pods) -> None:
    sandbox = pods.sandbox()
    graceful = pods.run(sandbox, ["sh", "-c", "trap 'echo got TERM; sleep 1; exit 0' TERM; echo ready; "
                                              "while true; do sleep 0.1; done"], name="graceful")
    pods.wait_log(graceful, "ready")
    pods.runtime.stop_container(graceful, 30)
    status = pods.status(graceful)
    assert (status["state"], status["exit_code"]) == (EXITED, 0)  # finished its cleanup, was not killed
    assert "got TERM" in pods.log(graceful)


def test_stop_kills_a_process_that_ignores_sigterm_after_the_grace_period(pods: Pods) -> None:
    stubborn = pods.run(pods.sandbox(), ["sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"])
    pods.wait_log(stubborn, "ready")
    pods.runtime.stop_container(stubborn, 1)
    status = pods.status(stubborn)
    assert (status["state"], status["exit_code"]) == (EXITED, 137)
    pods.runtime.stop_container(stubborn, 1)  # idempotent
    pods.runtime.remove_container(stubborn)
    pods.runtime.remove_container(stubborn)  # idempotent
    assert pods.runtime.list_containers({"id": stubborn}) == []


def test_a_restarted_runtime_readopts_running_containers_and_sees_exit_codes(pods: Pods) -> None:
    first = pods.runtime
    sandbox = pods.sandbox()
    long_running = pods.run(sandbox, ["sleep", "600"], name="long")
    finisher = pods.run(sandbox, ["sh", "-c", "exit 42"], name="finisher")
    shim = pods.info(long_running)["shim_pid"]
    with open(f"/proc/{shim}/status") as f:
        parent = next(int(line.split()[1]) for line in f if line.startswith("PPid:"))
    assert parent != os.getpid()  # not a child of the runtime's process

    again = Runtime(first.root, cgroup_parent=first.cgroups.parent)  # a new runtime on the same state
    assert again.container_status(long_running)["status"]["state"] == RUNNING
    assert again.container_status(long_running, True)["info"]["pid"] == pods.info(long_running)["pid"]
    assert wait_for(lambda: again.container_status(finisher)["status"]["exit_code"] == 42,
                    message="exit code recorded by the shim")
    again.stop_container(long_running, 1)
    assert first.container_status(long_running)["status"]["state"] == EXITED


def test_overlay_copy_on_write_leaves_image_layers_untouched(pods: Pods) -> None:
    container = pods.run(pods.sandbox(), ["sleep", "600"])
    assert pods.exec(container, "sh", "-c", "echo new > /tmp/new.txt && rm /etc/group && "
                                            "echo changed >> /etc/passwd")[0] == 0
    overlay = pods.info(container)["overlay"]
    upper = Path(overlay["upperdir"])
    lower = Path(overlay["lowerdir"][-1])  # the busybox layer
    assert (upper / "tmp/new.txt").read_text() == "new\n"
    whiteout = os.lstat(upper / "etc/group")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0  # overlayfs whiteout for the delete
    assert (upper / "etc/passwd").read_text().endswith("changed\n")  # copied up, then changed
    assert (lower / "etc/group").is_file() and "changed" not in (lower / "etc/passwd").read_text()
    assert not (lower / "tmp/new.txt").exists()
    other = pods.run(pods.sandbox("other"), ["cat", "/etc/group"], name="other")
    assert pods.wait_exited(other)["exit_code"] == 0  # another container still sees the image's file
    assert Path(overlay["merged"]).is_dir()


def test_created_container_state_and_removal_cleans_mounts_and_cgroups(pods: Pods) -> None:
    sandbox = pods.sandbox()
    container = pods.create(sandbox, ["sleep", "600"])
    assert pods.status(container)["state"] == CREATED
    info = pods.info(container)
    merged = info["overlay"]["merged"]
    with open("/proc/self/mountinfo") as f:
        assert any(line.split()[4] == merged for line in f)
    pods.runtime.start_container(container)
    pods.runtime.remove_pod_sandbox(sandbox)
    pods.runtime.remove_pod_sandbox(sandbox)  # idempotent
    with open("/proc/self/mountinfo") as f:
        assert not any(merged in line for line in f)
    assert not any(Path(d).exists() for d in info["cgroup"]["dirs"].values())
    assert not Path(merged).exists()


def test_corrupt_state_files_are_skipped_not_fatal(pods: Pods) -> None:
    sandbox = pods.sandbox()
    container = pods.run(sandbox, ["sleep", "600"])
    root = pods.runtime.root
    bogus = root / "containers" / ("f" * 64)
    bogus.mkdir()
    (bogus / "container.json").write_text("{not json")
    bogus_pod = root / "sandboxes" / ("e" * 64)
    bogus_pod.mkdir()
    (bogus_pod / "sandbox.json").write_text("[1, 2")
    try:
        assert [c["id"] for c in pods.runtime.list_containers()] == [container]
        assert [s["id"] for s in pods.runtime.list_pod_sandbox()] == [sandbox]
        (root / "containers" / container / "status.json").write_text("garbage")
        assert pods.status(container)["state"] in (CREATED, EXITED, RUNNING)
    finally:
        (bogus / "container.json").unlink()
        bogus.rmdir()
        (bogus_pod / "sandbox.json").unlink()
        bogus_pod.rmdir()


def test_removing_an_old_sandbox_keeps_the_pods_new_one_running(pods: Pods) -> None:
    """The kubelet makes attempt 1 of a pod's sandbox before it removes attempt 0; both share the pod
    cgroup, and removing attempt 0 must not kill what runs in attempt 1."""
    meta = {"name": "web", "namespace": "default", "uid": secrets.token_hex(4)}
    old = pods.runtime.run_pod_sandbox({"metadata": {**meta, "attempt": 0}})
    pods.runtime.stop_pod_sandbox(old)
    new = pods.runtime.run_pod_sandbox({"metadata": {**meta, "attempt": 1}})
    container = pods.run(new, ["sleep", "300"])
    pods.wait_running(container)
    pods.runtime.remove_pod_sandbox(old)
    assert pods.status(container)["state"] == RUNNING
    assert pods.runtime.pod_sandbox_status(new)["status"]["state"] == "SANDBOX_READY"
    pods.runtime.stop_pod_sandbox(new)
    pods.runtime.remove_pod_sandbox(new)
