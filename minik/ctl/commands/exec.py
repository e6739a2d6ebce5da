"""`minictl exec [-i] [-t] POD [-c CONTAINER] -- COMMAND [args...]`: run a command in a container.

The stream goes through the apiserver (pods/{name}/exec) to the pod's kubelet as a WebSocket with
Kubernetes' exec channels, the protocol kubectl speaks (see minik/kubelet/streams.py), so it works from
any machine that reaches the apiserver. -i sends our stdin, -t gives the command a terminal (our terminal
goes raw and window size changes follow). The exit code is the command's, and a non-zero one is
reported like kubectl: `command terminated with exit code N`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import ssl
import sys
import threading
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed

from minik.api.errors import InternalError, from_status
from minik.api.resources import lookup
from minik.client.kubeconfig import ClusterConfig
from minik.client.rest import ConnectionFailed
from minik.ctl.cli import Command, Parser
from minik.ctl.errors import error
from minik.ctl.resources import pod_name
from minik.ctl.session import Session
from minik.kubelet import streams

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


def configure(p: Parser) -> None:
    p.add_argument("pod", nargs="?", help="POD or pod/POD")
    p.add_argument("command", nargs="*", help="the command and its arguments (after --)")
    p.add_argument("-c", "--container", help="Container name. If omitted, the first container in the pod is used")
    p.add_bool("-i", "--stdin", help="Pass stdin to the container")
    p.add_bool("-t", "--tty", help="Stdin is a TTY")
    p.add_bool("-q", "--quiet", help="Only print output from the remote session")


def _ssl_context(cfg: ClusterConfig) -> ssl.SSLContext:
    if cfg.insecure_skip_tls_verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif cfg.ca_data:
        data = cfg.ca_data
        context = ssl.create_default_context(cadata=data.decode("ascii") if data.lstrip().startswith(b"-----")
                                             else data)
    else:
        context = ssl.create_default_context()
    if cfg.client_cert:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory(prefix="minik-exec-") as directory:
            cert, key = Path(directory) / "client.crt", Path(directory) / "client.key"
            cert.write_bytes(cfg.client_cert)
            if cfg.client_key:
                key.write_bytes(cfg.client_key)
                key.chmod(0o600)
            context.load_cert_chain(cert, key if cfg.client_key else None)
    return context


class _Terminal:
    """Puts our terminal in raw mode for -t and restores it, whatever happens."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stdin.isatty()
        self.saved: list[Any] | None = None

    def __enter__(self) -> _Terminal:
        if self.enabled:
            import termios
            import tty

            self.saved = termios.tcgetattr(sys.stdin.fileno())
            tty.setraw(sys.stdin.fileno())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self.saved)


def _read_stdin(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]) -> None:
    fd = sys.stdin.fileno()
    while True:
        try:
            data = os.read(fd, 32768)
        except OSError:
            data = b""
        loop.call_soon_threadsafe(queue.put_nowait, data or None)
        if not data:
            return


async def stream_exec(cfg: ClusterConfig, path: str, stdin: bool, tty: bool) -> int:
    """Run the exec stream to the end; returns the remote command's exit code."""
    url = httpx.URL(cfg.server)
    host, port = url.host, url.port or (443 if url.scheme == "https" else 80)
    headers = {"Authorization": f"Bearer {cfg.token}"} if cfg.token else {}
    try:
        connection = await streams.open_stream(streams.websocket_url(cfg.server, path), headers,
                                               _ssl_context(cfg) if url.scheme == "https" else None)
    except streams.HandshakeRefused as refused:
        try:
            status = json.loads(refused.body)
        except ValueError:
            raise InternalError(refused.body.decode(errors="replace") or f"exec failed: HTTP {refused.status}",
                                code=refused.status) from None
        raise from_status(status, refused.status) from None
    except OSError as exc:
        refused_connection = isinstance(exc, ConnectionRefusedError)
        raise ConnectionFailed(f"The connection to the server {host}:{port} was refused - did you specify the "
                               "right host or port?" if refused_connection else f"Unable to connect to the server: "
                               f"{exc or type(exc).__name__}", f"{host}:{port}") from None
    loop = asyncio.get_running_loop()
    v5 = connection.subprotocol == streams.PROTOCOL_V5

    async def send(message: bytes) -> None:
        with contextlib.suppress(ConnectionClosed):
            await connection.send(message)

    async def pump_stdin() -> None:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        threading.Thread(target=_read_stdin, args=(loop, queue), daemon=True).start()
        while (data := await queue.get()) is not None:
            await send(streams.frame(streams.STDIN, data))
        if v5:
            await send(streams.close_frame(streams.STDIN))  # the command sees the end of its input

    resizes: set[asyncio.Task[None]] = set()

    def resize() -> None:
        task = loop.create_task(send(streams.resize_frame(*shutil.get_terminal_size())))
        resizes.add(task)  # a reference until it is done, or the loop may drop it
        task.add_done_callback(resizes.discard)

    sender = asyncio.create_task(pump_stdin()) if stdin else None
    final: dict[str, Any] | None = None
    try:
        if tty:
            resize()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal.SIGWINCH, resize)
        async for message in connection:  # until the server closes the stream after the status
            parsed = streams.split_frame(message if isinstance(message, bytes) else message.encode())
            if parsed is None:
                continue
            channel, payload = parsed
            if channel == streams.STDOUT:
                sys.stdout.buffer.write(payload)
                sys.stdout.buffer.flush()
            elif channel == streams.STDERR:
                sys.stderr.buffer.write(payload)
                sys.stderr.buffer.flush()
            elif channel == streams.ERROR:
                with contextlib.suppress(ValueError):
                    final = json.loads(payload)
    except ConnectionClosed as closed:
        raise InternalError(f"error: the exec stream broke: {closed}") from None
    finally:
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGWINCH)
        await connection.close()
    if final is None:
        raise InternalError("error: the exec stream ended without the command's status")
    if final.get("status") != "Success" and final.get("reason") != "NonZeroExitCode":
        raise InternalError(str(final.get("message") or "exec failed"))
    return streams.exit_code_of(final)


def run(session: Session, args: argparse.Namespace) -> int:
    if not args.pod or not args.command:
        raise error("you must specify at least one command for the container" if args.pod else
                    "expected 'exec (POD | TYPE/NAME) [-c CONTAINER] [flags] -- COMMAND [args...]'.\n"
                    "POD or TYPE/NAME is a required argument for the exec command\n"
                    "See 'minictl exec -h' for help and examples")
    name = pod_name(args.pod, "cannot exec into {kind}: minictl only execs into pods")
    pods = lookup("pods")
    assert pods is not None
    namespace = session.namespace
    pod = session.client.get(pods, name, namespace)
    container = args.container
    if not container:
        names = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
        default = ((pod.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION)
        container = default if default in names else (names[0] if names else "")
        if len(names) > 1 and not args.quiet and not default:
            print(f'Defaulted container "{container}" out of: {", ".join(names)}', file=sys.stderr)
    tty = bool(args.tty)
    if tty and not sys.stdin.isatty():
        if not args.quiet:
            print("Unable to use a TTY - input is not a terminal or the right kind of file", file=sys.stderr)
        tty = False
    query = streams.exec_query(list(args.command), container, stdin=bool(args.stdin), tty=tty)
    path = f"{pods.path(namespace, name, 'exec')}?{query}"
    cfg = session.config()
    with _Terminal(tty):
        code = asyncio.run(stream_exec(cfg, path, bool(args.stdin), tty))
    if code != 0 and not args.quiet:
        print(f"command terminated with exit code {code}", file=sys.stderr)
    return code


COMMAND = Command("exec", "Execute a command in a container", configure, run)
