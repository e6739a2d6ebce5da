"""Starting the runtime's helper processes (shim, pause, exec) and signalling recorded processes.

Helpers run the same minik code as the runtime and report on stdout with one JSON line. They are
forked from the runtime's zygote (minik/runtime/zygote.py: a warm interpreter, ~1 ms a helper
instead of ~80 ms for a fresh `python -m minik.runtime.<helper>`); when no zygote can be had, or
with MINIK_ZYGOTE=0, they are started as exactly that command, with the same stdio and session.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Protocol

from minik.runtime import linux
from minik.runtime.state import CRIError, log

PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
ZYGOTE_START_TIMEOUT = 30.0
ZYGOTE_RETRY_AFTER = 30.0  # after a failed start, fresh interpreters for this long before trying again
MAX_MESSAGE = 65536


def helper_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONSTARTUP", None)
    return env


def helper_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"minik.runtime.{module}", *args]


class HelperProcess(Protocol):
    """The part of subprocess.Popen the runtime uses; a zygote child offers the same."""

    pid: int

    @property
    def returncode(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def send_signal(self, sig: int) -> None: ...


class ZygoteError(Exception):
    """The zygote is missing, dead or refused the request: start the helper the slow way."""


class ZygoteResting(ZygoteError):
    """The zygote failed to start a moment ago; not tried again (nor reported) for a while."""


class ZygoteChild:
    """A helper forked by the zygote: its wait status arrives on the reply socket when it exits."""

    def __init__(self, pid: int, reply: socket.socket, argv: list[str], standby: bool = False) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.args = argv
        self.standby = standby
        self._reply = reply

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is not None:
            return self.returncode
        if self.standby:  # init's child, not the zygote's: no status will come, and none is owed
            self._reply.close()
            self.returncode = 0
            return 0
        self._reply.settimeout(timeout)
        try:
            data = self._reply.recv(MAX_MESSAGE)
        except TimeoutError:
            raise subprocess.TimeoutExpired(self.args, timeout or 0) from None
        try:
            message = json.loads(data) if data else {}
        except ValueError:
            message = {}
        if "status" in message:
            self.returncode = os.waitstatus_to_exitcode(int(message["status"]))
        else:  # the zygote died (or failed to watch it): init reaps the helper; its exit status is lost
            wait_gone(self.pid, None, float("inf") if timeout is None else timeout)
            self.returncode = 255
        self._reply.close()
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Safe against pid reuse: until its status has arrived the helper is unreaped."""
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)


class HelperLauncher:
    """Starts helpers for one runtime: forked from its zygote, else as fresh interpreters.

    `label` (the runtime's state root) goes on the zygote's command line, which its forks share.
    The zygote is started at once (in the background: nothing waits for it until the first helper)
    and again whenever it has died; it exits by itself when this launcher or its process goes away.
    """

    def __init__(self, label: str = "", log_path: Path | None = None, zygote: bool | None = None) -> None:
        self.label = label
        self.log_path = log_path
        self.use_zygote = os.environ.get("MINIK_ZYGOTE", "1") != "0" if zygote is None else zygote
        self._lock = threading.Lock()
        self._control: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._retry_at = 0.0
        self._finalizer: weakref.finalize | None = None

    # ---------------------------------------------------------------- the zygote

    @property
    def zygote_pid(self) -> int | None:
        """The running zygote's pid (`crictl`-style inspection and tests), None without one."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Start the zygote if it is not running (returns before it has finished importing)."""
        if not self.use_zygote:
            return
        with self._lock:
            try:
                self._start_locked()
            except ZygoteError as error:
                log.warning("%s; helpers start as fresh interpreters", error)

    def _start_locked(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self._stop_locked()
        if time.monotonic() < self._retry_at:
            raise ZygoteResting("zygote failed recently")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        stderr = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                helper_argv("zygote", str(theirs.fileno()), *([self.label] if self.label else [])),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, pass_fds=[theirs.fileno()],
                start_new_session=True, cwd="/", env=helper_env(),
            )
        except OSError as error:
            ours.close()
            self._retry_at = time.monotonic() + ZYGOTE_RETRY_AFTER
            raise ZygoteError(f"cannot start the zygote: {error}") from error
        finally:
            theirs.close()
            if self.log_path:
                stderr.close()  # type: ignore[union-attr]
        self._control, self._ready = ours, False
        self._finalizer = weakref.finalize(self, _close_zygote, ours, self._process)

    def _ready_control(self) -> socket.socket:
        """The control socket of a zygote that has said it is ready (starting one if need be)."""
        with self._lock:
            self._start_locked()
            assert self._control is not None
            if not self._ready:
                self._control.settimeout(ZYGOTE_START_TIMEOUT)
                try:
                    hello = self._control.recv(MAX_MESSAGE)
                except OSError:
                    hello = b""
                self._control.settimeout(None)
                if hello != b"ready":
                    self._stop_locked()
                    self._retry_at = time.monotonic() + ZYGOTE_RETRY_AFTER
                    raise ZygoteError(f"zygote did not start (see {self.log_path or 'its stderr'})")
                self._ready = True
            return self._control

    def _stop_locked(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._finalizer, self._control, self._process, self._ready = None, None, None, False

    def close(self) -> None:
        """Stop the zygote (helpers it started keep running)."""
        with self._lock:
            self._stop_locked()

    def _fork(self, module: str, args: list[str], stdio: tuple[int, int, int], new_session: bool,
              standby: bool) -> ZygoteChild:
        request = json.dumps({"module": module, "argv": args, "setsid": new_session, "standby": standby}).encode()
        for _attempt in range(2):  # a zygote found dead is restarted once
            control = self._ready_control()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                socket.send_fds(control, [request], [theirs.fileno(), *stdio])
            except OSError:
                ours.close()
                with self._lock:
                    if self._control is control:
                        self._stop_locked()
                continue
            finally:
                theirs.close()
            ours.settimeout(ZYGOTE_START_TIMEOUT)  # a wedged zygote must not wedge the runtime
            try:
                answer = json.loads(ours.recv(MAX_MESSAGE) or b"{}")
            except (OSError, ValueError):
                answer = {}
            ours.settimeout(None)
            if "pid" in answer and "status" not in answer:
                return ZygoteChild(int(answer["pid"]), ours, helper_argv(module, *args), standby)
            ours.close()
            if "error" in answer:
                raise ZygoteError(str(answer["error"]))
            if "status" in answer:
                raise ZygoteError(f"helper {module} died before it started (status {answer['status']})")
            with self._lock:  # EOF without a pid: nothing was forked, the zygote is gone
                if self._control is control:
                    self._stop_locked()
        raise ZygoteError("zygote keeps dying")

    # ---------------------------------------------------------------- helpers

    def spawn(self, module: str, args: list[str], stdin: int, stdout: int, stderr: int,
              new_session: bool = False, standby: bool = False) -> HelperProcess:
        """Start helper `module` with these fds as its stdio (cwd /, no other fds). `standby`: the
        helper detaches itself (the shim); the zygote's standby, detached already, runs it at once."""
        if self.use_zygote:
            try:
                return self._fork(module, args, (stdin, stdout, stderr), new_session, standby)
            except ZygoteResting:
                pass
            except ZygoteError as error:
                log.warning("starting %s as a fresh interpreter: %s", module, error)
        return subprocess.Popen(helper_argv(module, *args), stdin=stdin, stdout=stdout, stderr=stderr,
                                start_new_session=new_session, close_fds=True, cwd="/", env=helper_env())

    def run_detached(self, module: str, args: list[str], log_path: Path | None = None,
                     timeout: float = 60, standby: bool = False) -> dict[str, Any]:
        """Run a helper that detaches itself; returns the JSON it reports (raises CRIError on 'error')."""
        read_end, write_end = os.pipe()
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        append = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        log_fd = os.open(log_path, append, 0o644) if log_path else devnull
        try:
            proc = self.spawn(module, args, devnull, write_end, log_fd, new_session=True, standby=standby)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            for fd in {write_end, devnull, log_fd}:
                os.close(fd)
        with open(read_end, "rb") as out:
            line = out.readline()
        proc.wait(timeout=timeout)
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

    def run_output(self, module: str, args: list[str], timeout: float = 0) -> tuple[bytes, bytes, int]:
        """Run a helper to completion: (stdout, stderr, exit code). Past `timeout` it gets SIGTERM (the
        exec helper then SIGKILLs what it started) and, once its output is closed, TimeoutError."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            proc = self.spawn(module, args, devnull, out_w, err_w)
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            for fd in (out_w, err_w, devnull):
                os.close(fd)
        output = {out_r: bytearray(), err_r: bytearray()}
        deadline = time.monotonic() + timeout if timeout and timeout > 0 else None
        timed_out = False
        with selectors.DefaultSelector() as selector:
            for fd in output:
                selector.register(fd, selectors.EVENT_READ)
            while selector.get_map():
                wait = None if deadline is None or timed_out else max(0.0, deadline - time.monotonic())
                events = selector.select(wait)
                if not events and not timed_out:
                    timed_out = True
                    proc.send_signal(signal.SIGTERM)
                for key, _ in events:
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        output[key.fd] += chunk
                    else:
                        selector.unregister(key.fd)
                        os.close(key.fd)
        code = proc.wait()
        if timed_out:
            raise TimeoutError(f"{module} timed out after {timeout}s")
        return bytes(output[out_r]), bytes(output[err_r]), code


def _close_zygote(control: socket.socket, process: subprocess.Popen[bytes]) -> None:
    """EOF on its control socket makes the zygote exit (one that does not is killed); reap it."""
    control.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
    """Wait until the process has exited (or become a zombie); True if it is gone.

    A pidfd (any process, not just our children) wakes us the moment it exits, where polling
    /proc would add up to a poll interval to every stop; /proc polling is the fallback.
    """
    if not pid or not linux.alive(pid, start_time):
        return True
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return _poll_gone(pid, start_time, timeout)
    try:
        if not linux.alive(pid, start_time):  # exited, or the pid was reused, before the open
            return True
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(None if math.isinf(timeout) else max(0, int(timeout * 1000))))
    finally:
        os.close(pidfd)


def _poll_gone(pid: int, start_time: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while linux.alive(pid, start_time):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def kill_and_wait(pid: int | None, start_time: int | None, timeout: float = 10) -> None:
    if signal_process(pid, start_time, signal.SIGKILL):
        wait_gone(pid, start_time, timeout)
