"""Streaming exec in a running container: the command runs through the runtime's `nsexec` helper (the
container's namespaces, cgroup, user and capabilities), wired to the client's stdin/stdout/stderr, or to
a pseudo-terminal with `tty` (window size changes arrive on the resize channel).

The process belongs to its own session so that a client who goes away takes it with them: the session
is killed, as the kubelet does when an exec stream closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import struct
import sys
import termios
from collections.abc import AsyncIterator, Awaitable, Callable

from minik.kubelet.streams import CLOSE, RESIZE, STDERR, STDIN, STDOUT
from minik.runtime.process import helper_argv, helper_env

SendFrame = Callable[[int, bytes], Awaitable[None]]

# Make the pty the controlling terminal of the new session, then become nsexec.
_CTTY = ("import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
         "os.execv(sys.argv[1], sys.argv[1:])")


def exec_argv(spec_path: str, pid: int, command: list[str], tty: bool) -> list[str]:
    argv = helper_argv("nsexec", spec_path, str(pid), *command)
    return [sys.executable, "-c", _CTTY, *argv] if tty else argv


# Generic Linux ioctl numbers (x86, arm): unlock a pty master, open its peer.
TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441


def open_pty(container_pid: int | None) -> tuple[int, int]:
    """A pseudo-terminal from the container's own devpts (so `tty` inside names it /dev/pts/N), like runc's
    console; the node's devpts when that is not possible."""
    if container_pid:
        try:
            master = os.open(f"/proc/{container_pid}/root/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError:
            return os.openpty()
        try:
            fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
            slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
            return master, int(slave)
        except OSError:
            os.close(master)
    return os.openpty()


def set_window_size(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def _resize(fd: int | None, payload: bytes) -> None:
    if fd is None:
        return
    try:
        size = json.loads(payload)
        set_window_size(fd, int(size.get("Width") or 80), int(size.get("Height") or 24))
    except (ValueError, TypeError, AttributeError, OSError):
        pass


async def run_exec(argv: list[str], tty: bool, stdin: bool, frames: AsyncIterator[tuple[int, bytes]],
                   send: SendFrame, container_pid: int | None = None) -> int:
    """Run argv with the streams; returns its exit code (after all output was sent)."""
    if tty:
        return await _run_tty(argv, stdin, frames, send, container_pid)
    return await _run_pipes(argv, stdin, frames, send)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # nsexec kills the command it started
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


async def _run_pipes(argv: list[str], stdin: bool, frames: AsyncIterator[tuple[int, bytes]],
                     send: SendFrame) -> int:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=helper_env(), cwd="/",
        start_new_session=True)

    async def pump(stream: asyncio.StreamReader | None, channel: int) -> None:
        assert stream is not None
        while data := await stream.read(32768):
            await send(channel, data)

    async def feed() -> None:
        async for channel, data in frames:
            if proc.stdin is None:
                continue
            if channel == STDIN and data:
                proc.stdin.write(data)
                with contextlib.suppress(ConnectionError):
                    await proc.stdin.drain()
            elif channel == CLOSE and data[:1] == bytes([STDIN]):
                proc.stdin.close()
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()

    feeder = asyncio.create_task(feed())
    try:
        await asyncio.gather(pump(proc.stdout, STDOUT), pump(proc.stderr, STDERR))
        return await proc.wait()
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await feeder
        await _kill(proc)


async def _run_tty(argv: list[str], stdin: bool, frames: AsyncIterator[tuple[int, bytes]], send: SendFrame,
                   container_pid: int | None) -> int:
    master, slave = open_pty(container_pid)
    try:
        proc = await asyncio.create_subprocess_exec(*argv, stdin=slave, stdout=slave, stderr=slave, env=helper_env(),
                                                    cwd="/", start_new_session=True)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    os.close(slave)
    os.set_blocking(master, False)
    loop = asyncio.get_running_loop()
    output: asyncio.Queue[bytes | None] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(master, 32768)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # EIO: the last holder of the terminal is gone
        if not data:
            loop.remove_reader(master)
        output.put_nowait(data or None)

    loop.add_reader(master, readable)

    async def feed() -> None:
        async for channel, data in frames:
            if channel == STDIN and data and stdin:
                with contextlib.suppress(OSError):
                    os.write(master, data)
            elif channel == RESIZE:
                _resize(master, data)
            elif channel == CLOSE and data[:1] == bytes([STDIN]):
                with contextlib.suppress(OSError):
                    os.write(master, b"\x04")  # end of input on a terminal: ^D

    feeder = asyncio.create_task(feed())
    try:
        while (data := await output.get()) is not None:
            await send(STDOUT, data)
        return await proc.wait()
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await feeder
        loop.remove_reader(master)
        os.close(master)
        await _kill(proc)
