"""The per-container monitor (`minik-shim`): parent of the container, keeper of its exit code.

The runtime starts `python -m minik.runtime.shim SPEC`; it forks and the first process exits at
once, so the shim is adopted by init and is nobody's child: a runtime or kubelet restart does not
touch it. (Usually the runtime's zygote hands the spec to a standby process that it double-forked
in advance, which then enters `main_detached` directly: same shim, no interpreter start-up and no
fork on the way.) The shim unshares a pid namespace, forks the container (PID 1 inside), puts it
in its cgroup while the container builds its rootfs, copies its stdout/stderr into the CRI log,
and when it exits writes the exit code, finish time and reason (OOMKilled when the cgroup's
oom_kill counter went up) to status.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
from pathlib import Path
from typing import Any

from minik.runtime import linux
from minik.runtime.init import container_init
from minik.runtime.logs import LogWriter
from minik.runtime.state import now_ns, read_json, write_json

EXIT_START_ERROR = 128


def oom_count(files: list[str]) -> int:
    total = 0
    for name in files:
        try:
            text = Path(name).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                total += int(value)
    return total


def exit_code_of(status: int) -> tuple[int, bool]:
    """(exit code as shells report it, killed by a signal?)."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status), True
    return os.WEXITSTATUS(status), False


def _update_status(path: Path, **fields: Any) -> None:
    status = read_json(path) or {}
    status.update(fields)
    write_json(path, status, durable=False)


def _report(payload: dict[str, Any]) -> None:
    """Answer the runtime on stdout once, then let go of the pipe so it stops waiting."""
    try:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()
    except OSError:
        pass
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    os.close(devnull)


def _pump(fds: dict[int, str], writer: LogWriter, child: int) -> int:
    """Copy output into the log until the container has exited and its pipes are drained."""
    status: int | None = None
    while True:
        if fds:
            ready, _, _ = select.select(list(fds), [], [], 0.2 if status is None else 0)
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO on a pty whose other side is gone
                    data = b""
                if data:
                    writer.write(fds[fd], data)
                else:
                    os.close(fd)
                    del fds[fd]
            if status is not None and not ready:
                return status  # exited and nothing left to read right now (holders are dead)
        if status is None:
            pid, raw = os.waitpid(child, 0 if not fds else os.WNOHANG)
            if pid == child:
                status = raw
        elif not fds:
            return status


def run(spec_path: Path) -> int:
    spec = json.loads(spec_path.read_text())
    status_path = Path(spec["status_path"])
    linux.set_process_name("minik-shim")
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    writer = LogWriter(Path(spec["log_path"]), int(spec.get("log_max_size", 10 << 20)),
                       int(spec.get("log_max_files", 5)))
    if spec.get("tty"):
        master, slave = os.openpty()
        stdio = (slave, slave, slave)
        out_fds = {master: "stdout"}
        child_side = [slave]
    else:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        stdin = os.open(os.devnull, os.O_RDONLY)
        stdio = (stdin, out_w, err_w)
        out_fds = {out_r: "stdout", err_r: "stderr"}
        child_side = [stdin, out_w, err_w]
    sync_r, sync_w = os.pipe()
    error_r, error_w = os.pipe()
    oom_before = oom_count(spec.get("oom_files", []))
    linux.unshare(linux.CLONE_NEWPID)
    child = os.fork()
    if child == 0:
        os.close(sync_w)
        os.close(error_r)
        for fd in out_fds:
            os.close(fd)
        container_init(spec, sync_r, error_w, stdio)
    os.close(sync_r)
    os.close(error_w)
    for fd in child_side:
        os.close(fd)
    try:
        for procs in dict.fromkeys(spec.get("cgroup_procs", [])):  # co-mounted controllers share one file
            Path(procs).write_text(str(child))
    except OSError as error:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        message = f"cannot join cgroup: {error}"
        _update_status(status_path, finished_at=now_ns(), exit_code=EXIT_START_ERROR, reason="StartError",
                       message=message)
        _report({"error": message})
        return 1
    os.write(sync_w, b"1")
    os.close(sync_w)
    _update_status(status_path, pid=child, pid_start=linux.process_start_time(child), started_at=now_ns(),
                   shim_pid=os.getpid(), shim_start=linux.process_start_time(os.getpid()))
    failure = b""
    while chunk := os.read(error_r, 4096):
        failure += chunk
    os.close(error_r)
    if failure:
        _, raw = os.waitpid(child, 0)
        message = failure.decode(errors="replace")
        writer.write("stderr", failure + b"\n")
        writer.close()
        _update_status(status_path, finished_at=now_ns(), exit_code=EXIT_START_ERROR, reason="StartError",
                       message=message)
        _report({"error": message})
        return 1
    _report({"pid": child, "shim_pid": os.getpid()})
    raw_status = _pump(out_fds, writer, child)
    writer.close()
    code, signaled = exit_code_of(raw_status)
    oom = oom_count(spec.get("oom_files", [])) > oom_before
    reason = "OOMKilled" if oom else ("Completed" if code == 0 else "Error")
    _update_status(status_path, finished_at=now_ns(), exit_code=code, reason=reason, signaled=signaled)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m minik.runtime.shim SPEC.json", file=sys.stderr)
        return 2
    if os.fork() > 0:
        os._exit(0)  # the runtime reaps this one; the shim lives on, adopted by init
    os.setsid()
    return main_detached(args)


def main_detached(args: list[str]) -> int:
    """The shim proper, once it is nobody's child and leads its own session. The zygote's standby
    process (already adopted by init) enters here directly, skipping main()'s double fork."""
    try:
        return run(Path(args[0]))
    except BaseException as error:  # noqa: BLE001 - tell the runtime, never die silently
        with contextlib.suppress(Exception):
            _report({"error": f"shim: {type(error).__name__}: {error}"})
        raise


if __name__ == "__main__":
    sys.exit(main())
