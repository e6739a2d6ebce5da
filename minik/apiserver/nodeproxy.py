"""pods/{name}/log and pods/{name}/exec: the apiserver proxies them to the kubelet of the pod's node.

The kubelet's address is the Node's InternalIP (else its Hostname, else ExternalIP) and the port its
status.daemonEndpoints.kubeletEndpoint.Port (10250 by default); the connection is HTTPS without
verifying the kubelet's certificate (kube-apiserver's default without --kubelet-certificate-authority).
The apiserver authenticates with the node's own token from its token file (user system:node:<node>),
falling back to an admin token for kubelets run with an admin kubeconfig; see kubelet/server.py.

Logs stream through as they come (follow included). Exec is a full-duplex chunked stream (kubelet/
streams.py): the client's request body is pumped to the kubelet while the kubelet's response is
pumped back, each direction as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import httpx
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from minik.api import errors
from minik.kubelet import streams

if TYPE_CHECKING:
    from minik.apiserver.server import APIServer

DEFAULT_KUBELET_PORT = 10250
CONNECT_TIMEOUT = 10.0
LOG_PARAMS = ("follow", "previous", "tailLines", "timestamps", "sinceSeconds", "sinceTime", "limitBytes")


def _go_list(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def resolve_container(pod: dict[str, Any], requested: str | None) -> str:
    """The container a log/exec request means (Kubernetes' rules and messages)."""
    name = str(((pod.get("metadata") or {}).get("name")) or "")
    spec = pod.get("spec") or {}
    containers = [str(c.get("name")) for c in spec.get("containers") or [] if isinstance(c, dict)]
    inits = [str(c.get("name")) for c in spec.get("initContainers") or [] if isinstance(c, dict)]
    if requested:
        if requested in containers or requested in inits:
            return requested
        raise errors.BadRequestError(f"container {requested} is not valid for pod {name}")
    if len(containers) == 1:
        return containers[0]
    message = f"a container name must be specified for pod {name}, choose one of: {_go_list(containers)}"
    if inits:
        message += f" or one of the init containers: {_go_list(inits)}"
    raise errors.BadRequestError(message)


def kubelet_address(node: dict[str, Any]) -> tuple[str, int]:
    status = node.get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or [] if isinstance(a, dict)}
    host = addresses.get("InternalIP") or addresses.get("Hostname") or addresses.get("ExternalIP")
    name = (node.get("metadata") or {}).get("name")
    if not host:
        raise errors.BadRequestError(f'node "{name}" has no address: is its kubelet running?')
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or DEFAULT_KUBELET_PORT
    return str(host), int(port)


def _client_ssl() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _dial_error(url: str, host: str, port: int, error: BaseException) -> errors.StatusError:
    text = str(error) or type(error).__name__
    if isinstance(error, ConnectionRefusedError) or "refused" in text.lower():
        text = "connect: connection refused"
    return errors.InternalError(f'{url}: dial tcp {host}:{port}: {text}')


class KubeletTarget:
    """Where and how to reach the kubelet that runs a pod."""

    def __init__(self, host: str, port: int, token: str, namespace: str, pod: str, container: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.path_tail = f"{quote(namespace, safe='')}/{quote(pod, safe='')}/{quote(container, safe='')}"

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


async def target_for(server: APIServer, namespace: str | None, name: str, container: str | None) -> KubeletTarget:
    pods = server.registry("v1", "pods")
    nodes = server.registry("v1", "nodes")
    assert pods is not None and nodes is not None
    pod = await pods.get(namespace, name)
    resolved = resolve_container(pod, container)
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.BadRequestError(f"pod {name} does not have a host assigned")
    try:
        node = await nodes.get(None, node_name)
    except errors.NotFoundError:
        raise errors.InternalError(f'nodes "{node_name}" not found') from None
    host, port = kubelet_address(node)
    auth = server.auth
    token = auth.token_for(f"system:node:{node_name}") or auth.admin_token() or ""
    return KubeletTarget(host, port, token, namespace or "default", name, resolved)


async def proxy_log(server: APIServer, namespace: str | None, name: str, params: dict[str, str]) -> Response:
    target = await target_for(server, namespace, name, params.get("container"))
    query = urlencode({k: params[k] for k in LOG_PARAMS if k in params})
    url = f"{target.base}/containerLogs/{target.path_tail}" + (f"?{query}" if query else "")
    client = httpx.AsyncClient(verify=_client_ssl(), timeout=httpx.Timeout(CONNECT_TIMEOUT, read=None),
                               trust_env=False)
    try:
        response = await client.send(client.build_request("GET", url, headers=target.headers), stream=True)
    except httpx.HTTPError as error:
        await client.aclose()
        raise _dial_error(f'Get "{url}"', target.host, target.port, error.__cause__ or error) from None
    if response.status_code != 200:
        body = await response.aread()
        await response.aclose()
        await client.aclose()
        return Response(content=body, status_code=response.status_code,
                        media_type=response.headers.get("content-type", "application/json"))

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for data in response.aiter_raw():
                yield data
        except httpx.HTTPError:
            return
        finally:
            await response.aclose()
            await client.aclose()

    return StreamingResponse(relay(), media_type="text/plain; charset=utf-8")


class ExecProxyResponse(Response):
    """Pumps the client's exec stream to the kubelet and the kubelet's back, both at once."""

    def __init__(self, target: KubeletTarget, query: str) -> None:
        super().__init__()
        self.target = target
        self.query = query

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self.target
        path = f"/exec/{target.path_tail}?{self.query}"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(target.host, target.port, ssl=_client_ssl(), server_hostname=target.host),
                CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as error:
            failure = _dial_error(f'Post "{target.base}{path}"', target.host, target.port, error)
            await Response(content=_status_json(failure), status_code=failure.code,
                           media_type="application/json")(scope, receive, send)
            return
        try:
            await streams.write_request_head(writer, "POST", path, f"{target.host}:{target.port}",
                                             {**target.headers, "Content-Type": streams.CONTENT_TYPE})
            head = await streams.read_response_head(reader)
            if head.status != 200:
                body = await streams.read_body(reader, head)
                await Response(content=body, status_code=head.status,
                               media_type=head.headers.get("content-type", "application/json"))(scope, receive, send)
                return
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", streams.CONTENT_TYPE.encode()),
                                    (streams.PROTOCOL_HEADER.lower().encode(), streams.PROTOCOL.encode())]})
            upstream = asyncio.create_task(self._client_to_kubelet(receive, writer))
            try:
                while (data := await streams.read_chunk(reader)) is not None:
                    await send({"type": "http.response.body", "body": data, "more_body": True})
            finally:
                upstream.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await upstream
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _client_to_kubelet(receive: Receive, writer: asyncio.StreamWriter) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                writer.close()
                return
            body = message.get("body", b"")
            if body:
                writer.write(streams.chunk(body))
                await writer.drain()
            if not message.get("more_body"):
                writer.write(streams.LAST_CHUNK)
                await writer.drain()
                while (await receive())["type"] != "http.disconnect":
                    pass
                writer.close()  # the client went away: so does the kubelet stream (and the command)
                return


def _status_json(error: errors.StatusError) -> bytes:
    import json

    return json.dumps(error.status()).encode()


async def proxy_exec(server: APIServer, namespace: str | None, name: str, method: str,
                     query_items: list[tuple[str, str]]) -> Response:
    if method != "POST":
        raise errors.BadRequestError("Upgrade request required: minik streams exec over a full-duplex POST "
                                     "(minictl exec); SPDY and WebSocket upgrades are not supported")
    params = dict(query_items)
    commands = [value for key, value in query_items if key == "command"]
    if not commands:
        raise errors.BadRequestError("you must specify at least 1 command")
    target = await target_for(server, namespace, name, params.get("container"))
    query = streams.exec_query(commands, stdin=params.get("stdin", "").lower() in ("1", "true"),
                               tty=params.get("tty", "").lower() in ("1", "true"),
                               stdout=params.get("stdout", "true").lower() in ("1", "true"),
                               stderr=params.get("stderr", "true").lower() in ("1", "true"))
    return ExecProxyResponse(target, query)
