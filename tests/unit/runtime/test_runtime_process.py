"""Waiting for recorded processes: a pidfd wakes the waiter, and a reused pid is never waited on."""

from __future__ import annotations

import subprocess

from minik.runtime import linux
from minik.runtime.process import wait_gone


def test_wait_gone_times_out_on_a_live_process_and_returns_when_it_exits() -> None:
    proc = subprocess.Popen(["sleep", "60"])
    try:
        start = linux.process_start_time(proc.pid)
        assert start is not None
        assert not wait_gone(proc.pid, start, 0.05)
        proc.kill()
        assert wait_gone(proc.pid, start, 30)  # exited (a zombie until reaped counts as gone)
    finally:
        proc.kill()
        proc.wait()
    assert wait_gone(proc.pid, start, 0)  # reaped: nothing left to wait for


def test_wait_gone_ignores_a_process_that_only_shares_the_pid() -> None:
    proc = subprocess.Popen(["sleep", "60"])
    try:
        start = linux.process_start_time(proc.pid)
        assert start is not None
        assert wait_gone(proc.pid, start + 1, 30)  # another start time: not the process we recorded
        assert linux.alive(proc.pid, start)
    finally:
        proc.kill()
        proc.wait()


def test_nothing_to_wait_for_without_a_pid() -> None:
    assert wait_gone(0, None, 30) and wait_gone(None, None, 30)
