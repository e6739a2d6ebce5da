"""`minik-zygote`: a warm Python that forks the runtime's helpers (shim, pause, exec) on request.

A fresh `python -m minik.runtime.shim` spends ~80 ms starting the interpreter and importing minik,
several times what the kernel needs to start a container. This process imports the helpers once;
forking it costs about a millisecond (Android's zygote, multiprocessing's forkserver). The child
runs the very `main()` that `python -m minik.runtime.<helper>` would, so each helper behaves the
same either way, and the runtime falls back to a fresh interpreter when no zygote is available.

Shims must be nobody's child (a runtime restart must not touch them), which costs a double fork.
The zygote does that ahead of time: it keeps one *standby*, already double-forked, adopted by
init and leading its own session, waiting on a socket. A shim request goes to the standby, which
becomes the shim (`main_detached`), and the zygote forks the next standby off the critical path.

Protocol (SOCK_SEQPACKET, one JSON object per message): the runtime sends
`{"module", "argv", "setsid", "standby"}` with four fds attached (reply socket, stdin, stdout,
stderr). The helper itself sends `{"pid"}` on the reply socket before anything else, so a zygote
killed mid-fork can never make the runtime start a helper twice. For a forked child the zygote
reaps it (through a pidfd) and then sends `{"pid", "status"}` (the raw wait status); a standby
belongs to init, so nothing follows its pid. Errors come back as `{"error"}`. EOF on the control
socket means the runtime is gone: the zygote and its standby exit, helpers already running carry on.

`python -m minik.runtime.zygote FD LABEL`: FD is the control socket; LABEL (the runtime's state
root) only names the process on its command line, which its forks share, so a sweep for a dead
test run's processes finds them by their state dir as it does for the other helpers.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import socket
import sys
import traceback
from types import ModuleType
from typing import Any, NoReturn

from minik.runtime import linux

HELPERS = ("shim", "pause", "nsexec")
MAX_MESSAGE = 65536
REQUEST_FDS = 4  # reply socket, stdin, stdout, stderr
MAX_FD = 1 << 20


def _exit_code(code: object) -> int:
    """What `sys.exit(code)` would make the process exit with."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(Exception):
        print(code, file=sys.stderr)
    return 1


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _become_helper(module: ModuleType, request: dict[str, Any], fds: list[int], standby: bool) -> NoReturn:
    """In the helper process: tell the runtime our pid, take the given stdio, run the helper, exit."""
    code = 1
    try:
        if request.get("setsid") and not standby:  # a standby leads its session already
            os.setsid()
        reply = socket.socket(fileno=fds[0])
        reply.send(json.dumps({"pid": os.getpid()}).encode())
        reply.close()
        for target, fd in enumerate(fds[1:]):
            os.dup2(fd, target)
        os.closerange(3, MAX_FD)  # close_range(2): what Popen(close_fds=True) leaves a helper with
        argv = [str(a) for a in request.get("argv", [])]
        sys.argv = [str(module.__file__), *argv]
        code = _exit_code(module.main_detached(argv) if standby else module.main(argv))
    except SystemExit as error:
        code = _exit_code(error.code)
    except BaseException:  # noqa: BLE001 - a helper's crash goes to its stderr, as with `python -m`
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        _flush()
        os._exit(code)


def _detach_all(sockets: list[socket.socket | None]) -> None:
    """In a fork: forget the zygote's socket objects (their fds are closed with closerange)."""
    for sock in sockets:
        if sock is not None:
            sock.detach()


class Zygote:
    """The serving loop: requests on the control socket, exits of forked helpers on their pidfds."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.poller = select.poll()
        self.poller.register(control, select.POLLIN)
        self.children: dict[int, tuple[int, socket.socket | None]] = {}  # pidfd -> (pid, reply socket)
        self.modules = {name: importlib.import_module(f"minik.runtime.{name}") for name in HELPERS}
        self.standby: socket.socket | None = None
        gc.freeze()  # what is here now stays shared with every fork (no GC writes to its pages)

    def _sockets(self) -> list[socket.socket | None]:
        return [self.control, self.standby, *(sock for _, sock in self.children.values())]

    def serve(self) -> int:
        self._new_standby()
        self.control.send(b"ready")
        while True:
            for fd, _events in self.poller.poll():
                if fd == self.control.fileno():
                    if not self._request():
                        return 0
                else:
                    self._reap(fd)

    def _watch(self, pid: int, reply: socket.socket | None) -> None:
        pidfd = os.pidfd_open(pid)
        self.children[pidfd] = (pid, reply)
        self.poller.register(pidfd, select.POLLIN)

    def _request(self) -> bool:
        """Handle one request; False when the runtime has closed its end."""
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.control, MAX_MESSAGE, REQUEST_FDS)
        except OSError:
            return False
        if not data:
            for fd in fds:
                os.close(fd)
            return False
        if not fds:
            return True  # nowhere to answer: ignore
        reply = socket.socket(fileno=fds[0])
        try:
            request: dict[str, Any] = json.loads(data)
            module = self.modules[str(request["module"])]
            if len(fds) != REQUEST_FDS:
                raise ValueError(f"expected {REQUEST_FDS} fds, got {len(fds)}")
            if request.get("standby"):
                if not hasattr(module, "main_detached"):
                    raise ValueError(f"helper {request['module']} cannot run in a standby")
                self._hand_to_standby(data, fds)
                reply.close()
            else:
                self._fork(module, request, fds, reply)
        except (ValueError, KeyError, TypeError, OSError) as error:
            with contextlib.suppress(OSError):
                reply.send(json.dumps({"error": f"zygote: {type(error).__name__}: {error}"}).encode())
            reply.close()
        finally:
            for fd in fds[1:]:
                os.close(fd)  # the helper has its copies; the pipes must see EOF when it exits
        return True

    def _fork(self, module: ModuleType, request: dict[str, Any], fds: list[int], reply: socket.socket) -> None:
        _flush()
        pid = os.fork()
        if pid == 0:
            fds = [reply.detach(), *fds[1:]]
            _detach_all(self._sockets())
            _become_helper(module, request, fds, standby=False)
        self._watch(pid, reply)

    def _hand_to_standby(self, data: bytes, fds: list[int]) -> None:
        """Pass the request on to the waiting standby, then make the next one."""
        for _attempt in range(2):
            if self.standby is None:
                self._new_standby()
            assert self.standby is not None
            try:
                socket.send_fds(self.standby, [data], fds)
            except OSError:  # it died (someone killed it): make another
                self.standby.close()
                self.standby = None
                continue
            self.standby.close()
            self.standby = None
            self._new_standby()
            return
        raise OSError("no standby process")

    def _new_standby(self) -> None:
        """Fork, fork again and let the middle one exit: the standby is adopted by init, like a shim."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        _flush()
        pid = os.fork()
        if pid == 0:
            try:
                if os.fork() == 0:
                    standby_fd = theirs.detach()
                    _detach_all([ours, *self._sockets()])
                    _standby(standby_fd, self.modules)
            finally:
                os._exit(0)
        theirs.close()
        self.standby = ours
        self._watch(pid, None)

    def _reap(self, pidfd: int) -> None:
        pid, reply = self.children.pop(pidfd)
        self.poller.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        if reply is not None:
            with contextlib.suppress(OSError):
                reply.send(json.dumps({"pid": pid, "status": status}).encode())
            reply.close()


def _standby(fd: int, modules: dict[str, ModuleType]) -> NoReturn:
    """Wait, as init's child in a session of our own, for one shim request (or EOF: exit)."""
    try:
        os.setsid()
        os.closerange(3, fd)
        os.closerange(fd + 1, MAX_FD)
        linux.set_process_name("minik-standby")
        sock = socket.socket(fileno=fd)
        data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, REQUEST_FDS)
        sock.close()
        if not data or len(fds) != REQUEST_FDS:
            os._exit(0)
        request = json.loads(data)
        module = modules[str(request["module"])]
    except BaseException:  # noqa: BLE001 - nothing to answer to: the runtime sees EOF, no pid
        os._exit(1)
    _become_helper(module, request, fds, standby=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or not args[0].isdigit():
        print("usage: python -m minik.runtime.zygote CONTROL_FD [LABEL]", file=sys.stderr)
        return 2
    linux.set_process_name("minik-zygote")
    control = socket.socket(fileno=int(args[0]))
    control.set_inheritable(False)
    return Zygote(control).serve()


if __name__ == "__main__":
    sys.exit(main())
