"""The kubelet's HTTPS server (port 10250): container logs and exec for the apiserver to proxy.

    GET  /healthz                                    ok (no authentication)
    GET  /pods                                       the pods this kubelet runs (PodList)
    GET  /containerLogs/{namespace}/{pod}/{container}?follow=&previous=&tailLines=&timestamps=
                                                     &sinceSeconds=&sinceTime=&limitBytes=
    GET  /exec/{namespace}/{pod}/{container}?command=...&stdin=&stdout=&stderr=&tty=
                                                     WebSocket upgrade (v5/v4.channel.k8s.io), see streams.py;
                                                     without the upgrade: the same checks, then 400

Authentication: a request must carry `Authorization: Bearer <the kubelet's own API token>`. The apiserver
holds every node's token (its token file), so it can prove it speaks for the cluster without any extra
secret; anyone else who has the token could use the API as the node anyway. TLS uses --tls-cert-file /
--tls-private-key-file, or a self-signed certificate made in <root-dir>/pki (like the kubelet's
kubelet.crt); the apiserver does not verify it (kube-apiserver's default without
--kubelet-certificate-authority).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hmac
import ipaddress
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

import uvicorn

from minik.kubelet import podutil, streams
from minik.kubelet.exec import exec_argv, run_exec
from minik.kubelet.logs import LogOptionsError, parse_log_options, stream_log
from minik.kubelet.types import CONTAINER_EXITED, CONTAINER_RUNNING, ContainerStatus, Obj
from minik.runtime.state import CRIError

if TYPE_CHECKING:
    from minik.kubelet.kubelet import Kubelet

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

UPGRADE_REQUIRED = (f"Upgrade request required: exec streams over WebSocket ({streams.PROTOCOL_V5} or "
                    f"{streams.PROTOCOL_V4}); minik does not speak SPDY")


class HTTPError(Exception):
    def __init__(self, code: int, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or {400: "BadRequest", 401: "Unauthorized", 404: "NotFound",
                                 405: "MethodNotAllowed", 500: "InternalError"}.get(code, "")


def status_body(code: int, message: str, reason: str) -> bytes:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code}).encode()


async def respond(send: Send, code: int, body: bytes, content_type: str = "application/json",
                  scope: Scope | None = None) -> None:
    """A plain HTTP answer; to a WebSocket handshake too (the ASGI websocket.http.response extension), which
    is how an exec that cannot start tells the client why before any upgrade."""
    prefix = "http"
    if scope is not None and scope["type"] == "websocket":
        if "websocket.http.response" not in (scope.get("extensions") or {}):
            await send({"type": "websocket.close", "code": 1008, "reason": body[:120].decode(errors="replace")})
            return
        prefix = "websocket.http"
    await send({"type": f"{prefix}.response.start", "status": code,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": f"{prefix}.response.body", "body": body})


def self_signed_certificate(directory: Path, node_name: str, node_ip: str) -> tuple[Path, Path]:
    """<dir>/kubelet.crt and kubelet.key for `node_name` and `node_ip`, made once and reused."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_path, key_path = directory / "kubelet.crt", directory / "kubelet.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{node_name}@{int(time.time())}")])
    sans: list[x509.GeneralName] = [x509.DNSName(node_name), x509.DNSName("localhost"),
                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    with contextlib.suppress(ValueError):
        sans.append(x509.IPAddress(ipaddress.ip_address(node_ip)))
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256()))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


@dataclass(frozen=True)
class ExecTarget:
    """A running container an exec enters: its runtime spec and init process."""

    where: str  # namespace/pod/container, for the log
    spec_path: str
    pid: int


class KubeletApp:
    """The ASGI application (no framework: log streaming and the exec WebSocket want the raw ASGI messages)."""

    def __init__(self, kubelet: Kubelet, token: str) -> None:
        self.kubelet = kubelet
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return
        if scope["type"] == "websocket" and (await receive())["type"] != "websocket.connect":
            return
        try:
            await self.route(scope, receive, send)
        except HTTPError as error:
            await respond(send, error.code, status_body(error.code, error.message, error.reason), scope=scope)
        except Exception as error:  # noqa: BLE001 - answer, never drop the connection silently
            log.exception("kubelet server: %s %s failed", scope.get("method", "GET"), scope.get("path"))
            with contextlib.suppress(Exception):  # a WebSocket already upgraded cannot answer any more
                await respond(send, 500, status_body(500, f"Internal error occurred: {error}", "InternalError"),
                              scope=scope)

    def authenticate(self, scope: Scope) -> None:
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = given.partition(" ")
        if not self.token or scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), self.token):
            raise HTTPError(401, "Unauthorized")

    async def route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        method = scope.get("method", "GET")  # a WebSocket handshake is a GET
        websocket = scope["type"] == "websocket"
        if path == "/healthz" and not websocket:
            await respond(send, 200, b"ok", "text/plain")
            return
        self.authenticate(scope)
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        single = {k: v[-1] for k, v in params.items() if v[-1]}  # an empty argument counts only in a command
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if len(parts) == 4 and parts[0] == "exec":
            command = params.get("command", [])
            target = await self.exec_target(parts[1], parts[2], parts[3], command)
            if not websocket:
                raise HTTPError(400, UPGRADE_REQUIRED)  # after the checks: a client that cannot upgrade learns why
            await self.exec(scope, receive, send, target, command, single)
        elif websocket:
            raise HTTPError(404, "the server could not find the requested resource")
        elif parts == ["pods"] and method == "GET":
            pods = [p for p in self.kubelet.pod_manager.pods()]
            await respond(send, 200, json.dumps({"kind": "PodList", "apiVersion": "v1", "items": pods}).encode())
        elif len(parts) == 4 and parts[0] == "containerLogs" and method == "GET":
            await self.container_logs(parts[1], parts[2], parts[3], single, receive, send)
        else:
            raise HTTPError(404, "the server could not find the requested resource")

    # ---------------------------------------------------------------- lookups

    async def _instances(self, namespace: str, name: str, container: str) -> tuple[Obj, list[ContainerStatus]]:
        pod = self.kubelet.pod_manager.by_name(namespace, name)
        if pod is None:
            raise HTTPError(404, f'pods "{name}" not found')
        if podutil.find_container(pod, container) is None:
            raise HTTPError(400, f"container {container} is not valid for pod {name}")
        status = await asyncio.to_thread(self.kubelet.runtime_manager.get_pod_status, podutil.uid(pod), name,
                                         namespace)
        return pod, status.instances(container)

    def _waiting_reason(self, pod: Obj, container: str) -> str:
        status = self.kubelet.status_manager.get_pod_status(podutil.uid(pod)) or podutil.status(pod)
        for item in [*(status.get("containerStatuses") or []), *(status.get("initContainerStatuses") or [])]:
            if item.get("name") == container:
                return str(((item.get("state") or {}).get("waiting") or {}).get("reason") or "ContainerCreating")
        return "ContainerCreating"

    # ---------------------------------------------------------------- logs

    async def container_logs(self, namespace: str, name: str, container: str, params: dict[str, str],
                             receive: Receive, send: Send) -> None:
        try:
            opts = parse_log_options(params)
        except LogOptionsError as error:
            raise HTTPError(400, str(error)) from None
        pod, instances = await self._instances(namespace, name, container)
        if opts.previous:
            dead = [c for c in instances[1:] if c.state == CONTAINER_EXITED]
            if not dead:
                raise HTTPError(400, f'previous terminated container "{container}" in pod "{name}" not found')
            target = dead[0]
            opts.follow = False
        else:
            if not instances:
                raise HTTPError(400, f'container "{container}" in pod "{name}" is waiting to start: '
                                     f"{self._waiting_reason(pod, container)}")
            target = instances[0]
        runtime = self.kubelet.runtime

        async def running() -> bool:
            try:
                status = await asyncio.to_thread(runtime.container_status, target.id)
            except CRIError:
                return False
            return bool(status["status"].get("state") == "CONTAINER_RUNNING")

        disconnected = asyncio.Event()

        async def watch_disconnect() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                    return

        async def write(data: bytes) -> None:
            if disconnected.is_set():
                raise ConnectionResetError("client went away")
            await send({"type": "http.response.body", "body": data, "more_body": True})

        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
        watcher = asyncio.create_task(watch_disconnect())
        try:
            await stream_log(Path(target.log_path), opts, running, write)
        except (ConnectionResetError, OSError):
            return
        finally:
            watcher.cancel()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    # ---------------------------------------------------------------- exec

    async def exec_target(self, namespace: str, name: str, container: str, command: list[str]) -> ExecTarget:
        """Where the command would run; refuses (before any upgrade) what cannot run."""
        if not command:
            raise HTTPError(400, "you must specify at least 1 command")
        _, instances = await self._instances(namespace, name, container)
        if not instances or instances[0].state != CONTAINER_RUNNING:
            raise HTTPError(400, f'container "{container}" in pod "{name}" is not running')
        try:
            info = (await asyncio.to_thread(self.kubelet.runtime.container_status, instances[0].id, True))["info"]
        except CRIError as error:
            raise HTTPError(500, str(error)) from None
        if not info.get("pid"):
            raise HTTPError(400, f'container "{container}" in pod "{name}" is not running')
        return ExecTarget(f"{namespace}/{name}/{container}", str(info["spec_path"]), int(info["pid"]))

    async def exec(self, scope: Scope, receive: Receive, send: Send, target: ExecTarget, command: list[str],
                   params: dict[str, str]) -> None:
        """Upgrade, run the command with the client's streams, end with its status on the error channel."""
        protocol = streams.negotiate(scope.get("subprotocols") or [])
        if protocol is None:
            raise HTTPError(400, f"unable to upgrade connection: the client offered none of the subprotocols "
                                 f"{streams.PROTOCOL_V5}, {streams.PROTOCOL_V4}")
        tty, stdin = streams.truthy(params.get("tty")), streams.truthy(params.get("stdin"))
        await send({"type": "websocket.accept", "subprotocol": protocol})
        gone = asyncio.Event()
        session: list[asyncio.Task[int]] = []

        async def frames() -> AsyncIterator[tuple[int, bytes]]:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    gone.set()
                    for task in session:
                        task.cancel()  # the client went away: end the command with it
                    return
                parsed = streams.split_frame(message.get("bytes") or b"")  # text messages are no channel
                if parsed is not None:
                    yield parsed

        async def send_frame(channel: int, data: bytes) -> None:
            await send({"type": "websocket.send", "bytes": streams.frame(channel, data)})

        log.info("exec in %s (%s): %s", target.where, protocol, command)
        argv = exec_argv(target.spec_path, target.pid, command, tty)
        try:
            session.append(asyncio.create_task(run_exec(argv, tty, stdin, frames(), send_frame, target.pid)))
            final = streams.exit_status(command, await session[0])
        except asyncio.CancelledError:
            if not gone.is_set():
                raise
            return
        except OSError as error:  # the helper did not start, or the client is gone (uvicorn's ClientDisconnected)
            final = streams.failure_status(f"exec failed: {error}")
        if gone.is_set():
            return
        with contextlib.suppress(OSError, RuntimeError):
            await send_frame(streams.ERROR, json.dumps(final).encode())
            await send({"type": "websocket.close", "code": 1000})


class KubeletServer:
    def __init__(self, kubelet: Kubelet, address: str, port: int, token: str, cert: Path | None = None,
                 key: Path | None = None) -> None:
        if cert is None or key is None:
            cert, key = self_signed_certificate(kubelet.root_dir / "pki", kubelet.node_name, kubelet.node_ip)
        config = uvicorn.Config(KubeletApp(kubelet, token), host=address, port=port, ssl_certfile=str(cert),
                                ssl_keyfile=str(key), log_level="warning", access_log=False, lifespan="off",
                                loop="asyncio", http="httptools", ws=streams.UVICORN_WS, timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="kubelet-server", daemon=True)

    def start(self, timeout: float = 15.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise OSError(f"the kubelet server did not start on port {self.server.config.port}")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)
