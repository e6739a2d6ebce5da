"""How the runtime starts its helpers: forked from a zygote (shims from a standby init adopted),
or as fresh interpreters without one; and what that must not change."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
from runtime_pods import Pods
from util import wait_for

from minik.runtime.containers import EXITED, RUNNING
from minik.runtime.process import wait_gone
from minik.runtime.service import Runtime
from minik.runtime.state import CRIError

pytestmark = pytest.mark.root


def _proc(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _standbys(zygote_cmdline: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "minik-standby" and _cmdline(int(entry.name)) == \
                        zygote_cmdline:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_shim_is_nobodys_child_and_leads_its_own_session(pods: Pods) -> None:
    runtime = pods.runtime
    container = pods.run(pods.sandbox(), ["sleep", "600"])
    shim = pods.info(container)["shim_pid"]
    zygote = runtime.helpers.zygote_pid
    assert zygote is not None
    status = _proc(shim)
    assert status["Name"] == "minik-shim"
    assert int(status["PPid"]) not in (os.getpid(), zygote)  # adopted: neither the runtime's nor the zygote's
    assert os.getsid(shim) == shim
    # every helper names the runtime's state dir on its command line (stale test runs are swept by it)
    assert str(runtime.root) in _cmdline(shim) and str(runtime.root) in _cmdline(zygote)
    # the next shim is already waiting, adopted by init as well
    standbys = wait_for(lambda: _standbys(_cmdline(zygote)), message="a standby shim")
    assert int(_proc(standbys[0])["PPid"]) not in (os.getpid(), zygote)


def test_a_killed_zygote_or_standby_is_replaced(pods: Pods) -> None:
    runtime = pods.runtime
    sandbox = pods.sandbox()
    first = pods.run(sandbox, ["sleep", "600"], name="first")
    zygote = runtime.helpers.zygote_pid
    assert zygote is not None
    for standby in wait_for(lambda: _standbys(_cmdline(zygote)), message="a standby shim"):
        os.kill(standby, signal.SIGKILL)
    second = pods.run(sandbox, ["sleep", "600"], name="second")  # the zygote makes a new standby
    os.kill(zygote, signal.SIGKILL)
    assert wait_gone(zygote, None, 10)
    third = pods.run(sandbox, ["sh", "-c", "exit 5"], name="third")  # a new zygote
    assert runtime.helpers.zygote_pid not in (None, zygote)
    assert pods.wait_exited(third)["exit_code"] == 5
    for container in (first, second):
        assert pods.status(container)["state"] == RUNNING  # a zygote's death touches no shim
    assert pods.exec(first, "true")[0] == 0


def test_without_a_zygote_helpers_are_fresh_interpreters(pods: Pods, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIK_ZYGOTE", "0")
    plain = Runtime(pods.runtime.root, cgroup_parent=pods.runtime.cgroups.parent)
    assert plain.helpers.zygote_pid is None
    other = Pods(plain)
    sandbox = other.sandbox()
    container = other.run(sandbox, ["sh", "-c", "echo hello; sleep 600"])
    other.wait_log(container, "hello")
    shim = other.info(container)["shim_pid"]
    assert "-m minik.runtime.shim" in _cmdline(shim) and int(_proc(shim)["PPid"]) != os.getpid()
    assert other.exec(container, "sh", "-c", "echo $((6 * 7))") == (0, "42\n", "")
    plain.stop_container(container, 0)
    assert other.status(container)["exit_code"] == 137


def test_exec_past_its_timeout_is_an_error_and_its_command_is_killed(pods: Pods) -> None:
    container = pods.run(pods.sandbox(), ["sleep", "600"])
    with pytest.raises(CRIError, match="timed out"):
        pods.runtime.exec_sync(container, ["sleep", "597"], 0.5)
    wait_for(lambda: "sleep 597" not in pods.exec(container, "ps")[1], message="the timed-out command gone")


def test_one_container_started_twice_at_once_starts_once(pods: Pods) -> None:
    container = pods.create(pods.sandbox(), ["sleep", "600"])
    outcomes: list[str] = []

    def start() -> None:
        try:
            pods.runtime.start_container(container)
            outcomes.append("started")
        except CRIError as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[1] == "started" and "not in created state" in sorted(outcomes)[0]
    assert pods.status(container)["state"] == RUNNING


def test_containers_started_at_once_all_run_and_report_their_exit(pods: Pods) -> None:
    sandbox = pods.sandbox()
    containers = [pods.create(sandbox, ["sh", "-c", f"exit {i}"], name=f"c{i}") for i in range(6)]
    threads = [threading.Thread(target=pods.runtime.start_container, args=(c,)) for c in containers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, container in enumerate(containers):
        status = pods.wait_exited(container)
        assert (status["state"], status["exit_code"]) == (EXITED, i)


def test_the_container_is_in_its_cgroup_before_its_command_runs(pods: Pods) -> None:
    container = pods.run(pods.sandbox(), ["cat", "/proc/self/cgroup"])  # PID 1 itself, no shell forked
    assert pods.wait_exited(container)["exit_code"] == 0
    marker = ":memory:" if pods.runtime.cgroups.version == "v1" else "0::"
    memory = [line for line in pods.log(container) if marker in line]
    assert len(memory) == 1 and memory[0].endswith(f"/{container}")
