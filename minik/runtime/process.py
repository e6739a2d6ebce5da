"""Starting the runtime's helper processes (shim, pause, exec) and signalling recorded processes.

Helpers are `python -m minik.runtime.<helper>` with this interpreter, so they run the same minik code
as the runtime; they report on stdout with one JSON line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from minik.runtime import linux
from minik.runtime.state import CRIError

PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def helper_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONSTARTUP", None)
    return env


def helper_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"minik.runtime.{module}", *args]


def run_detached_helper(
    module: str, args: list[str], log_path: Path | None = None, timeout: float = 60
) -> dict[str, Any]:
    """Run a helper that double-forks; returns the JSON it reports (raises CRIError on 'error')."""
    log_file = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            helper_argv(module, *args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_file,
            start_new_session=True,
            close_fds=True,
            cwd="/",
            env=helper_env(),
        )
    finally:
        if log_path:
            log_file.close()  # type: ignore[union-attr]
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        proc.wait(timeout=timeout)
    finally:
        proc.stdout.close()
    try:
        report = json.loads(line) if line else {}
    except ValueError:
        report = {}
    if not isinstance(report, dict) or not report:
        detail = log_path.read_text(errors="replace")[-2000:] if log_path and log_path.exists() else ""
        raise CRIError(f"{module} helper failed without a report (exit {proc.returncode}) {detail}".strip())
    if "error" in report:
        raise CRIError(str(report["error"]))
    return report


def signal_process(pid: int | None, start_time: int | None, sig: int) -> bool:
    """Signal the recorded process only if it is still the same one; True if it was signalled."""
    if not pid or not linux.alive(pid, start_time):
        return False
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def wait_gone(pid: int | None, start_time: int | None, timeout: float) -> bool:
    """Poll until the process has exited (or become a zombie); True if it is gone."""
    deadline = time.monotonic() + timeout
    while pid and linux.alive(pid, start_time):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def kill_and_wait(pid: int | None, start_time: int | None, timeout: float = 10) -> None:
    if signal_process(pid, start_time, signal.SIGKILL):
        wait_gone(pid, start_time, timeout)
