"""The exec stream protocol shared by the kubelet, the apiserver's node proxy and `minictl exec`.

Kubernetes streams exec over SPDY or WebSocket with the `v4.channel.k8s.io` channels. minik keeps the
channels and their meaning but carries them over one full-duplex HTTP/1.1 request, so no WebSocket
library is needed and every hop is plain HTTP:

    POST .../exec?command=sh&command=-c&command=...&stdin=true&stdout=true&stderr=true&tty=false
    Transfer-Encoding: chunked          (request body: client -> container frames)
    200, Transfer-Encoding: chunked     (response body: container -> client frames)

A frame is `channel (1 byte) | length (4 bytes, big endian) | payload`. Channels: 0 stdin, 1 stdout,
2 stderr, 3 error (the final metav1.Status, as in v4: Success, or Failure with reason NonZeroExitCode
and the exit code as a cause), 4 resize (`{"Width": w, "Height": h}`), 255 close (payload: the
channel being closed, as in v5: `\\x00` ends stdin). Frames may span or share HTTP chunks.

The async helpers below speak chunked HTTP/1.1 over asyncio streams (TLS included), which is safe
for simultaneous reading and writing; they serve the node proxy and minictl alike.
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
PROTOCOL = "v4.channel.k8s.io"
PROTOCOL_HEADER = "X-Stream-Protocol-Version"
CONTENT_TYPE = "application/vnd.minik.exec-stream"
_HEADER = struct.Struct(">BI")
MAX_FRAME = 1 << 20


def encode_frame(channel: int, data: bytes) -> bytes:
    return _HEADER.pack(channel, len(data)) + data


def resize_frame(width: int, height: int) -> bytes:
    return encode_frame(RESIZE, json.dumps({"Width": width, "Height": height}).encode())


class FrameDecoder:
    """Reassembles frames from a byte stream cut anywhere."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= _HEADER.size:
            channel, length = _HEADER.unpack_from(self._buffer)
            if length > MAX_FRAME:
                raise ValueError(f"exec stream frame of {length} bytes is too large")
            if len(self._buffer) < _HEADER.size + length:
                break
            frames.append((channel, bytes(self._buffer[_HEADER.size:_HEADER.size + length])))
            del self._buffer[:_HEADER.size + length]
        return frames


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(command: list[str], code: int) -> dict[str, Any]:
    """What the kubelet reports when the command ends: Success, or NonZeroExitCode with the code."""
    if code == 0:
        return success_status()
    return {
        "metadata": {}, "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command {_go_list(command)}, "
                   f"exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def failure_status(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message}


def exit_code_of(status: dict[str, Any]) -> int:
    """The command's exit code from the final status (1 when it failed for another reason)."""
    if status.get("status") == "Success":
        return 0
    for cause in ((status.get("details") or {}).get("causes") or []):
        if cause.get("reason") == "ExitCode" and str(cause.get("message", "")).isdigit():
            return int(cause["message"])
    return 1


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


def exec_query(command: list[str], container: str = "", stdin: bool = False, tty: bool = False,
               stdout: bool = True, stderr: bool = True) -> str:
    parts = [f"command={quote(c, safe='')}" for c in command]
    if container:
        parts.append(f"container={quote(container, safe='')}")
    parts += [f"stdin={'true' if stdin else 'false'}", f"stdout={'true' if stdout else 'false'}",
              f"stderr={'true' if stderr and not tty else 'false'}", f"tty={'true' if tty else 'false'}"]
    return "&".join(parts)


# ---------------------------------------------------------------- HTTP/1.1 over asyncio streams


@dataclass
class ResponseHead:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()


async def write_request_head(writer: asyncio.StreamWriter, method: str, target: str, host: str,
                             headers: dict[str, str]) -> None:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Transfer-Encoding: chunked", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    await writer.drain()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n" if data else b""


LAST_CHUNK = b"0\r\n\r\n"


async def read_response_head(reader: asyncio.StreamReader) -> ResponseHead:
    line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
    parts = line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ConnectionError(f"not an HTTP response: {line[:80]!r}")
    head = ResponseHead(int(parts[1]), parts[2] if len(parts) > 2 else "")
    while True:
        header = (await reader.readline()).decode("latin-1").rstrip("\r\n")
        if not header:
            return head
        name, _, value = header.partition(":")
        head.headers[name.strip().lower()] = value.strip()


async def read_chunk(reader: asyncio.StreamReader) -> bytes | None:
    """One chunk of a chunked body; None after the last one."""
    size_line = (await reader.readline()).decode("latin-1").strip()
    if not size_line:
        return None
    size = int(size_line.split(";")[0], 16)
    if size == 0:
        while (await reader.readline()).strip():
            pass  # trailers
        return None
    data = await reader.readexactly(size)
    await reader.readexactly(2)
    return data


async def read_body(reader: asyncio.StreamReader, head: ResponseHead, limit: int = 1 << 20) -> bytes:
    """A whole (error) response body, chunked or sized or until close."""
    if head.chunked:
        out = bytearray()
        while (piece := await read_chunk(reader)) is not None and len(out) < limit:
            out += piece
        return bytes(out)
    length = head.headers.get("content-length")
    if length and length.isdigit():
        return await reader.readexactly(min(int(length), limit))
    return await reader.read(limit)
