"""Kubernetes' remote-command protocol (exec over WebSocket), shared by the kubelet, the apiserver's node proxy
and `minictl exec`, so kubectl and minictl speak the same thing on every hop.

The client asks for the WebSocket subprotocol `v5.channel.k8s.io` (the only one kubectl >= 1.30 offers) or
`v4.channel.k8s.io`. Every message is binary, `channel (1 byte) | payload`:

    0 stdin, 1 stdout, 2 stderr
    3 error    the final metav1.Status: Success, or Failure with reason NonZeroExitCode and
               details.causes [{reason: ExitCode, message: "<code>"}]
    4 resize   {"Width": w, "Height": h}, TTY only
    255 close  v5 only: [255, channel] closes that channel; [255, 0] is the end of stdin

The server sends the status, then closes the WebSocket normally (1000). The query string carries
command (repeated), container, stdin, stdout, stderr and tty. Every hop (kubectl or minictl -> apiserver
-> kubelet) carries the same messages, so the apiserver relays them untouched. An error before the upgrade
is a plain HTTP answer with a Status body (kubectl then retries with SPDY, is refused the same way, and
prints that Status).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
PROTOCOL_V5 = "v5.channel.k8s.io"
PROTOCOL_V4 = "v4.channel.k8s.io"
PROTOCOLS = (PROTOCOL_V5, PROTOCOL_V4)  # our preference: only v5 can close stdin
MAX_MESSAGE = 1 << 20  # our frames are at most 32 KiB + 1; kubectl's are as large as its reads
# uvicorn's WebSocket server for the apiserver and the kubelet: the wsproto one answers a refused handshake (with
# its Status) cleanly, where the websockets-based one logs an error for each
UVICORN_WS = "wsproto"


def negotiate(offered: Iterable[str]) -> str | None:
    """The subprotocol to accept out of the client's offer (None: nothing we speak)."""
    wanted = {item.strip() for item in offered}
    return next((protocol for protocol in PROTOCOLS if protocol in wanted), None)


def frame(channel: int, data: bytes = b"") -> bytes:
    return bytes([channel]) + data


def split_frame(message: bytes) -> tuple[int, bytes] | None:
    """(channel, payload) of a message; None for an empty one (older clients send them as a hello)."""
    return (message[0], message[1:]) if message else None


def resize_frame(width: int, height: int) -> bytes:
    return frame(RESIZE, json.dumps({"Width": width, "Height": height}).encode())


def close_frame(channel: int) -> bytes:
    return bytes([CLOSE, channel])


def truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


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
    """PodExecOptions as a query string (stderr goes through the terminal with tty, as in kubectl)."""
    parts = [f"command={quote(c, safe='')}" for c in command]
    if container:
        parts.append(f"container={quote(container, safe='')}")
    parts += [f"stdin={'true' if stdin else 'false'}", f"stdout={'true' if stdout else 'false'}",
              f"stderr={'true' if stderr and not tty else 'false'}", f"tty={'true' if tty else 'false'}"]
    return "&".join(parts)


def websocket_url(base: str, path: str) -> str:
    """The ws(s):// URL of `path` on a server known by its http(s):// base URL."""
    scheme, _, rest = base.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest.rstrip('/')}{path}"


class HandshakeRefused(Exception):
    """The server answered the upgrade with a plain HTTP response (a Status body, normally)."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]!r}")
        self.status = status
        self.body = body
        self.content_type = content_type


async def open_stream(url: str, headers: dict[str, str], context: ssl.SSLContext | None,
                      protocols: tuple[str, ...] = PROTOCOLS, timeout: float = 10.0) -> ClientConnection:
    """A client WebSocket speaking one of `protocols`.

    HandshakeRefused carries the server's refusal (its Status); OSError (TimeoutError and ssl.SSLError
    included) means it could not be reached.
    """
    try:
        connection = await connect(url, ssl=context if url.startswith("wss:") else None,
                                   additional_headers=headers, subprotocols=[Subprotocol(p) for p in protocols],
                                   compression=None, proxy=None, open_timeout=timeout, max_size=MAX_MESSAGE,
                                   user_agent_header="minik")
    except InvalidStatus as refused:
        response = refused.response
        raise HandshakeRefused(response.status_code, bytes(response.body),
                               response.headers.get("Content-Type", "application/json")) from None
    except InvalidHandshake as error:  # not a WebSocket server: a connection problem like any other
        raise ConnectionError(f"{url}: {error}") from None
    if connection.subprotocol is None:
        await connection.close()
        raise ConnectionError(f"{url}: the server accepted none of the subprotocols {', '.join(protocols)}")
    return connection
