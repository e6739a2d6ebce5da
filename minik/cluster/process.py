"""Background component processes: detached start, pid files, liveness and stop.

Components outlive the `minik up` that started them, so each runs in its own session with its
output in `STATE/logs/<component>.log` and its pid in `STATE/run/<component>.pid`. A pid file alone
can lie (after a crash or a reboot the pid may belong to someone else), so a component only counts as
running when /proc/PID/cmdline is exactly the command recorded next to the pid file. A stale pid file
is therefore harmless: it is ignored, and never makes us signal a stranger.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from minik.cluster.wait import wait_until

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
_libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(name: str) -> None:
    """Move the calling (single-threaded, just forked) process into a named network namespace.

    Only the network namespace changes: the mount namespace stays the host's, so the node's
    overlay and volume mounts are visible to `minik down` and to a learner poking around.
    """
    fd = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


class StartError(RuntimeError):
    """A component exited during start-up or never became ready; the message ends with its log."""


# Children started by this process, kept so they can be reaped (no zombies, no ResourceWarning).
_children: dict[int, subprocess.Popen[bytes]] = {}


def read_cmdline(pid: int) -> list[str] | None:
    """The argv of a live process, or None if it is gone or a zombie (whose cmdline is empty)."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if not raw:
        return None
    return [part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0")]


def _atomic_write(path: Path, text: str) -> None:
    """Write via rename so a reader never sees half a pid file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _signal(pid: int, sig: signal.Signals) -> None:
    """Signal the component's whole process group when it leads one (it does: new session)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def terminate(pid: int, argv: Sequence[str], timeout: float = 10.0) -> bool:
    """SIGTERM `pid` if it still runs `argv`; SIGKILL after `timeout`. True if it was running."""
    expected = list(argv)
    if read_cmdline(pid) != expected:
        return False

    def gone() -> bool:
        return read_cmdline(pid) != expected

    _signal(pid, signal.SIGTERM)
    if not wait_until(gone, timeout):
        _signal(pid, signal.SIGKILL)
        wait_until(gone, 5.0)
    _reap(pid)
    return True


def reap_exited() -> None:
    """Collect every exited child, whoever stopped it (a long-lived parent must not gather zombies)."""
    for child in list(_children.values()):
        child.poll()


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    child = _children.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5.0)


@dataclass(frozen=True)
class ComponentProcess:
    """One named background process of a cluster, located by its state directory."""

    name: str
    state_dir: Path
    netns: str | None = None

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.state_dir / "run" / f"{self.name}.pid"

    @property
    def cmdline_path(self) -> Path:
        """The argv we started, so liveness can tell our process from a reused pid."""
        return self.state_dir / "run" / f"{self.name}.cmdline"

    def start(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
        """Start `argv` detached (own session, no stdin, output appended to the log); return its pid."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            log.write(f"=== minik: {stamp} starting {self.name}: {' '.join(argv)}\n".encode())
            log.flush()
            child = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                env=dict(env) if env is not None else None,
                preexec_fn=partial(enter_netns, self.netns) if self.netns else None,
            )
        _children[child.pid] = child
        # Popen can return a moment before the kernel has set up the new program's cmdline; wait for
        # it so an immediate liveness check does not mistake a starting process for a dead one.
        expected = list(argv)
        wait_until(lambda: read_cmdline(child.pid) == expected or child.poll() is not None, 5.0, 0.001)
        _atomic_write(self.cmdline_path, json.dumps(expected) + "\n")
        _atomic_write(self.pid_path, f"{child.pid}\n")
        return child.pid

    def start_and_wait(
        self,
        argv: Sequence[str],
        ready: Callable[[], bool],
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> int:
        """Start the component and poll `ready` until it holds; stop it again and raise on failure."""
        pid = self.start(argv, env)

        def ready_or_dead() -> bool:
            return self.pid() != pid or ready()

        wait_until(ready_or_dead, timeout, interval=0.1)
        if self.pid() != pid:
            child = _children.get(pid)
            if child is not None:  # let it finish exiting, so its last words are in the log
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=5.0)
            code = self.exit_code()
            how = f"exited with code {code}" if code is not None else "exited"
            raise StartError(f"{self.name} {how} during start-up; end of {self.log_path}:\n{self.log_tail()}")
        if not ready():
            self.stop()
            raise StartError(
                f"{self.name} not ready after {timeout:.0f}s; end of {self.log_path}:\n{self.log_tail()}"
            )
        return pid

    def _recorded(self) -> tuple[int, list[str]] | None:
        """The pid and argv from the run files, or None when they are missing or unreadable."""
        try:
            pid = int(self.pid_path.read_text().strip())
            argv = json.loads(self.cmdline_path.read_text())
        except (OSError, ValueError):
            return None
        if pid <= 0 or not isinstance(argv, list):
            return None
        return pid, [str(arg) for arg in argv]

    def pid(self) -> int | None:
        """The pid when the recorded process is really running, else None."""
        recorded = self._recorded()
        if recorded is None:
            return None
        pid, argv = recorded
        return pid if read_cmdline(pid) == argv else None

    def running(self) -> bool:
        return self.pid() is not None

    def exit_code(self) -> int | None:
        """The exit status if this process started the component and it has exited."""
        recorded = self._recorded()
        child = _children.get(recorded[0]) if recorded else None
        return child.poll() if child is not None else None

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the component if it runs and forget its run files; return the pid that was stopped.

        Idempotent: a missing or stale pid file only gets removed.
        """
        recorded = self._recorded()
        stopped: int | None = None
        if recorded is not None:
            if terminate(recorded[0], recorded[1], timeout):
                stopped = recorded[0]
            _reap(recorded[0])
        for path in (self.pid_path, self.cmdline_path):
            path.unlink(missing_ok=True)
        return stopped

    def kill(self) -> int | None:
        """SIGKILL the component's process group at once (a power cut, not a shutdown)."""
        recorded = self._recorded()
        if recorded is None or read_cmdline(recorded[0]) != recorded[1]:
            return None
        _signal(recorded[0], signal.SIGKILL)
        wait_until(lambda: read_cmdline(recorded[0]) != recorded[1], 5.0)
        _reap(recorded[0])
        return recorded[0]

    def log_tail(self, lines: int = 40) -> str:
        """The end of the log, for error messages that explain why a component died."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _ancestors() -> set[int]:
    """Our own pid and our parents', which a stray sweep must never touch."""
    pids = {os.getpid()}
    pid = os.getpid()
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        pids.add(pid)
    return pids


def component_of(argv: Sequence[str], names: Collection[str]) -> str | None:
    """Which component a command line runs (`etcd`, or `minik <name>` / `python -m minik <name>`)."""
    if argv and Path(argv[0]).name in ("etcd", "docker-registry"):
        return "etcd" if Path(argv[0]).name == "etcd" else "registry"
    for i, arg in enumerate(argv[:3]):
        if Path(arg).name == "minik" and i + 1 < len(argv) and argv[i + 1] in names:
            return argv[i + 1]
    return None


def find_strays(state_dir: Path, names: Collection[str]) -> list[tuple[int, list[str]]]:
    """Component processes that mention `state_dir` on their command line but lost their pid file.

    They are what a killed `minik up` or a deleted run dir leaves behind; `minik down` and `minik up`
    sweep them so a cluster never outlives its bookkeeping.
    """
    markers = {os.path.abspath(state_dir), str(state_dir.resolve())}
    skip = _ancestors()
    strays: list[tuple[int, list[str]]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        argv = read_cmdline(int(entry.name))
        if not argv or component_of(argv, names) is None:
            continue
        if any(arg == m or arg.startswith(m + "/") or f"={m}/" in arg for arg in argv for m in markers):
            strays.append((int(entry.name), argv))
    return strays
