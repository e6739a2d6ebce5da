"""Container logs for `kubectl logs`: read the CRI log files with Kubernetes' options.

tailLines, sinceSeconds/sinceTime, timestamps and limitBytes select and shape what exists; follow
keeps reading as the file grows (across rotations) until the container has exited and the last
bytes are out. Partial (`P`) records are joined into their line, as the kubelet does.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from minik.runtime.logs import log_files, parse_record

POLL_SECONDS = 0.2


class LogOptionsError(ValueError):
    """An invalid query parameter; the message is for the user."""


@dataclass
class LogOptions:
    follow: bool = False
    previous: bool = False
    tail_lines: int | None = None
    timestamps: bool = False
    since: float | None = None  # seconds since the epoch
    limit_bytes: int | None = None


def _bool(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "t")


def parse_time(text: str) -> float:
    """RFC 3339 (with or without fractions, Z or an offset) -> seconds since the epoch."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    if "." in value:
        head, _, rest = value.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits):]
        value = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise LogOptionsError(f"invalid time {text!r}: must be RFC3339") from None


def _int(params: dict[str, str], name: str) -> int | None:
    text = params.get(name)
    if text in (None, ""):
        return None
    try:
        return int(str(text))
    except ValueError:
        raise LogOptionsError(f"{name}: {text!r} is not an integer") from None


def parse_log_options(params: dict[str, str]) -> LogOptions:
    opts = LogOptions(follow=_bool(params.get("follow")), previous=_bool(params.get("previous")),
                      timestamps=_bool(params.get("timestamps")))
    tail = _int(params, "tailLines")
    if tail is not None and tail >= 0:
        opts.tail_lines = tail
    limit = _int(params, "limitBytes")
    if limit is not None:
        if limit < 1:
            raise LogOptionsError("limitBytes: must be greater than 0")
        opts.limit_bytes = limit
    since_seconds = _int(params, "sinceSeconds")
    if since_seconds is not None:
        if since_seconds < 1:
            raise LogOptionsError("sinceSeconds: must be greater than 0")
        opts.since = time.time() - since_seconds
    if params.get("sinceTime"):
        opts.since = parse_time(str(params["sinceTime"]))
    return opts


class LogReader:
    """Logical lines of a CRI log (rotated files first), with the position kept for following."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pending: dict[str, tuple[str, bytes]] = {}
        self._partial = b""
        self._file: BinaryIO | None = None
        self._inode = 0

    def _records(self, data: bytes) -> Iterator[tuple[str, str, bytes]]:
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            record = parse_record(raw + b"\n")
            if record is None:
                continue
            stamp, previous = self._pending.pop(record.stream, (record.timestamp, b""))
            if record.partial:
                self._pending[record.stream] = (stamp, previous + record.content)
            else:
                yield stamp, record.stream, previous + record.content

    def read_existing(self) -> list[tuple[str, str, bytes]]:
        out: list[tuple[str, str, bytes]] = []
        for file in log_files(self.path):
            if file == self.path:
                continue
            try:
                out += self._records(file.read_bytes())
            except OSError:
                continue
            self._partial = b""
        out += self.read_new()
        return out

    def read_new(self) -> list[tuple[str, str, bytes]]:
        """Whatever was appended since the last read; reopens the file after a rotation."""
        out: list[tuple[str, str, bytes]] = []
        if self._file is None:
            try:
                self._file = open(self.path, "rb")  # noqa: SIM115 - kept open while following
                self._inode = os.fstat(self._file.fileno()).st_ino
            except OSError:
                return out
        out += self._records(self._file.read())
        try:
            current = os.stat(self.path).st_ino
        except OSError:
            current = self._inode
        if current != self._inode:
            self._file.close()
            self._file = None
            self._partial = b""
            out += self.read_new()
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def format_lines(records: list[tuple[str, str, bytes]], opts: LogOptions) -> list[bytes]:
    out = []
    for stamp, _, content in records:
        if opts.since is not None:
            try:
                if parse_time(stamp) < opts.since:
                    continue
            except LogOptionsError:
                continue
        out.append((f"{stamp} ".encode() if opts.timestamps else b"") + content + b"\n")
    return out


async def stream_log(path: Path, opts: LogOptions, running: Callable[[], Awaitable[bool]],
                     send: Callable[[bytes], Awaitable[None]]) -> None:
    """Write the selected log lines through `send`; with follow, keep going until the container exits."""
    reader = LogReader(path)
    budget = opts.limit_bytes
    try:
        lines = format_lines(await asyncio.to_thread(reader.read_existing), opts)
        if opts.tail_lines is not None:
            lines = lines[len(lines) - opts.tail_lines:] if opts.tail_lines else []
        while True:
            for line in lines:
                if budget is not None:
                    if budget <= 0:
                        return
                    line = line[:budget]
                    budget -= len(line)
                await send(line)
            if not opts.follow:
                return
            alive = await running()
            await asyncio.sleep(POLL_SECONDS)
            lines = format_lines(await asyncio.to_thread(reader.read_new), opts)
            if not alive and not lines:
                lines = format_lines(await asyncio.to_thread(reader.read_new), opts)
                if not lines:
                    return
    finally:
        reader.close()
