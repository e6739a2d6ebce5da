"""Container logs in the CRI log format, with size-based rotation.

One line per record: `<RFC3339Nano timestamp> <stdout|stderr> <P|F> <content>`. `F` ends a line,
`P` is a chunk of a longer one (the kubelet and `kubectl logs` glue them back together). This is
the format containerd and CRI-O write, so the files are readable with the usual tools.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from minik.runtime.state import rfc3339_nano

MAX_LINE = 16 * 1024  # longer lines are split into P records, like containerd
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_FILES = 5


def format_record(stream: str, content: bytes, partial: bool, ns: int | None = None) -> bytes:
    return f"{rfc3339_nano(ns)} {stream} {'P' if partial else 'F'} ".encode() + content + b"\n"


@dataclass(frozen=True)
class LogRecord:
    timestamp: str
    stream: str
    partial: bool
    content: bytes


def parse_record(line: bytes) -> LogRecord | None:
    """One CRI log line, or None for garbage (a torn last line after a crash, say)."""
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr") or parts[2] not in (b"P", b"F"):
        return None
    return LogRecord(parts[0].decode(), parts[1].decode(), parts[2] == b"P", parts[3] if len(parts) > 3 else b"")


class LogWriter:
    """Writes CRI records for two streams into one file; rotates to `.1`, `.2`, ... past `max_size`."""

    def __init__(
        self,
        path: Path,
        max_size: int = DEFAULT_MAX_SIZE,
        max_files: int = DEFAULT_MAX_FILES,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.path = path
        self.max_size = max_size
        self.max_files = max(1, max_files)
        self.clock = clock
        self.pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "ab")  # noqa: SIM115 - lives as long as the writer

    def _emit(self, stream: str, content: bytes, partial: bool) -> None:
        record = format_record(stream, content, partial, self.clock() if self.clock else None)
        if self.file.tell() > 0 and self.file.tell() + len(record) > self.max_size:
            self.rotate()
        self.file.write(record)

    def rotate(self) -> None:
        """container.log -> .1 -> .2 ...; the oldest beyond max_files is deleted."""
        self.file.close()
        for index in range(self.max_files - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if index == self.max_files - 1:
                older.unlink(missing_ok=True)
            newer = self.path if index == 1 else self.path.with_name(f"{self.path.name}.{index - 1}")
            if newer.exists():
                os.replace(newer, older)
        if self.max_files == 1:
            self.path.unlink(missing_ok=True)
        self.file = open(self.path, "ab")  # noqa: SIM115

    def write(self, stream: str, data: bytes) -> None:
        buffer = self.pending[stream] + data
        while True:
            newline = buffer.find(b"\n")
            if newline < 0:
                break
            line = buffer[:newline]
            buffer = buffer[newline + 1 :]
            while len(line) > MAX_LINE:
                self._emit(stream, line[:MAX_LINE], True)
                line = line[MAX_LINE:]
            self._emit(stream, line, False)
        while len(buffer) >= MAX_LINE:
            self._emit(stream, buffer[:MAX_LINE], True)
            buffer = buffer[MAX_LINE:]
        self.pending[stream] = buffer
        self.file.flush()

    def close(self) -> None:
        """At EOF an unterminated last line is written as a full line (containerd does the same)."""
        for stream, rest in self.pending.items():
            if rest:
                self._emit(stream, rest, False)
        self.pending = {"stdout": b"", "stderr": b""}
        self.file.close()


def log_files(path: Path) -> list[Path]:
    """The rotated files oldest first, then the live one."""
    rotated = []
    for candidate in path.parent.glob(f"{path.name}.*"):
        suffix = candidate.name[len(path.name) + 1 :]
        if suffix.isdigit():
            rotated.append((int(suffix), candidate))
    return [p for _, p in sorted(rotated, reverse=True)] + ([path] if path.exists() else [])


def read_lines(path: Path, streams: tuple[str, ...] = ("stdout", "stderr")) -> Iterator[tuple[str, str, bytes]]:
    """(timestamp, stream, full line) for each logical line, partial records joined."""
    pending: dict[str, tuple[str, bytes]] = {}
    for file in log_files(path):
        try:
            with open(file, "rb") as f:
                for raw in f:
                    record = parse_record(raw)
                    if record is None or record.stream not in streams:
                        continue
                    stamp, previous = pending.pop(record.stream, (record.timestamp, b""))
                    if record.partial:
                        pending[record.stream] = (stamp, previous + record.content)
                    else:
                        yield stamp, record.stream, previous + record.content
        except OSError:
            continue
    for stream, (stamp, content) in pending.items():
        yield stamp, stream, content


def tail(path: Path, lines: int | None = None) -> list[tuple[str, str, bytes]]:
    records = list(read_lines(path))
    return records if lines is None or lines < 0 else records[len(records) - lines :] if lines else []
