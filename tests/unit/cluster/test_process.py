"""Detached component processes: started, seen, stopped; a stale pid file never fools us."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from util import wait_for

from minik.cluster.process import ComponentProcess, read_cmdline
from minik.cluster.tokens import ensure_token_file, parse_tokens, read_admin_token

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def test_start_detaches_and_stop_kills(tmp_path: Path) -> None:
    proc = ComponentProcess("minik-test-sleeper", tmp_path)
    pid = proc.start(SLEEPER)
    try:
        assert proc.pid() == pid and proc.running()
        assert os.getsid(pid) == pid  # own session: a terminal's Ctrl-C or hangup does not reach it
        assert proc.pid_path.read_text().strip() == str(pid)
        assert proc.log_path.is_file()
    finally:
        stopped = proc.stop(timeout=10.0)
    assert stopped == pid
    assert read_cmdline(pid) != SLEEPER
    assert not proc.running()
    assert not proc.pid_path.exists()
    assert proc.stop() is None  # idempotent


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    stubborn = [
        sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('armed', flush=True);"
        " time.sleep(600)",
    ]  # fmt: skip
    proc = ComponentProcess("minik-test-stubborn", tmp_path)
    pid = proc.start(stubborn)
    wait_for(lambda: "armed" in proc.log_path.read_text(), message="SIGTERM handler installed")
    assert proc.stop(timeout=0.5) == pid
    assert read_cmdline(pid) != stubborn


def test_output_goes_to_the_log(tmp_path: Path) -> None:
    proc = ComponentProcess("minik-test-echo", tmp_path)
    proc.start([sys.executable, "-c", "import sys; print('to stdout'); print('to stderr', file=sys.stderr)"])
    wait_for(lambda: not proc.running(), message="short command exits")
    log = proc.log_path.read_text()
    assert "to stdout" in log and "to stderr" in log
    assert proc.exit_code() == 0
    proc.stop()


def test_stale_pid_file_naming_another_process_is_ignored(tmp_path: Path) -> None:
    proc = ComponentProcess("minik-test-stale", tmp_path)
    proc.pid_path.parent.mkdir(parents=True)
    # Our own pid stands in for a pid that was reused by an unrelated process after a reboot.
    proc.pid_path.write_text(f"{os.getpid()}\n")
    proc.cmdline_path.write_text(json.dumps(SLEEPER))
    assert proc.pid() is None and not proc.running()
    assert proc.stop() is None  # and above all: we are still alive
    assert not proc.pid_path.exists()


def test_pid_file_of_an_exited_process_is_ignored(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    proc = ComponentProcess("minik-test-gone", tmp_path)
    proc.pid_path.parent.mkdir(parents=True)
    proc.pid_path.write_text(done.stdout)
    proc.cmdline_path.write_text(json.dumps(SLEEPER))
    assert not proc.running()
    assert proc.stop() is None


def test_garbage_pid_file_is_ignored(tmp_path: Path) -> None:
    proc = ComponentProcess("minik-test-garbage", tmp_path)
    proc.pid_path.parent.mkdir(parents=True)
    proc.pid_path.write_text("not a pid\n")
    assert not proc.running()
    assert proc.stop() is None


def test_admin_token_is_kept_across_runs_and_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    token = ensure_token_file(path)
    assert ensure_token_file(path) == token == read_admin_token(path)
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    (row,) = parse_tokens(path.read_text())
    assert (row.user, row.groups) == ("system:admin", ("system:masters",))
    assert path.read_text() == f'{token},system:admin,minik-admin,"system:masters"\n'
