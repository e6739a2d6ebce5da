"""pods/{name}/log and pods/{name}/exec: the apiserver proxies them to the kubelet of the pod's node.

The kubelet's address is the Node's InternalIP (else its Hostname, else ExternalIP) and the port its
status.daemonEndpoints.kubeletEndpoint.Port (10250 by default); the connection is HTTPS without
verifying the kubelet's certificate (kube-apiserver's default without --kubelet-certificate-authority).
The apiserver authenticates with the node's own token from its token file (user system:node:<node>),
falling back to an admin token for kubelets run with an admin kubeconfig; see kubelet/server.py.

Logs stream through as they come (follow included). Exec is a WebSocket with Kubernetes' channels
(kubelet/streams.py): the apiserver opens a WebSocket to the kubelet with the subprotocol the client
asked for, and only once the kubelet accepted does it accept the client's, so every error before the
upgrade (no such pod or container, container not running, kubelet unreachable) is a Status with its
code. Then messages are relayed unchanged both ways; either side ending ends the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import httpx
from starlette.responses import Response, StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from minik.api import errors
from minik.apiserver.auth import bootstrap_restriction, node_name_of
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


def _exec_request(target: KubeletTarget, query_items: list[tuple[str, str]]) -> str:
    """The kubelet's exec path with the client's PodExecOptions."""
    params = dict(query_items)
    commands = [value for key, value in query_items if key == "command"]
    query = streams.exec_query(commands, stdin=streams.truthy(params.get("stdin")),
                               tty=streams.truthy(params.get("tty")),
                               stdout=streams.truthy(params.get("stdout", "true")),
                               stderr=streams.truthy(params.get("stderr", "true")))
    return f"/exec/{target.path_tail}?{query}"


async def exec_target(server: APIServer, namespace: str | None, name: str,
                      query_items: list[tuple[str, str]]) -> tuple[KubeletTarget, str]:
    if not any(key == "command" for key, _ in query_items):
        raise errors.BadRequestError("you must specify at least 1 command")
    target = await target_for(server, namespace, name, dict(query_items).get("container"))
    return target, _exec_request(target, query_items)


async def proxy_exec(server: APIServer, namespace: str | None, name: str,
                     query_items: list[tuple[str, str]]) -> Response:
    """exec without a WebSocket upgrade (a SPDY client, or kubectl's SPDY retry after its WebSocket was refused).

    Asked of the kubelet like the stream would be, so the answer is the real reason the stream cannot start
    (kubectl shows only the retry's error), or the kubelet's word that it needs the WebSocket upgrade.
    """
    target, path = await exec_target(server, namespace, name, query_items)
    url = f"{target.base}{path}"
    async with httpx.AsyncClient(verify=_client_ssl(), timeout=CONNECT_TIMEOUT, trust_env=False) as client:
        try:
            response = await client.get(url, headers=target.headers)
        except httpx.HTTPError as error:
            raise _dial_error(f'Get "{url}"', target.host, target.port, error.__cause__ or error) from None
    return Response(content=response.content, status_code=response.status_code,
                    media_type=response.headers.get("content-type", "application/json"))


def _authorize_stream(server: APIServer, authorization: str | None, namespace: str, name: str, sub: str) -> None:
    """A stream is `create pods/exec` (as in Kubernetes >= 1.35): bootstrap tokens and nodes may not."""
    user = server.auth.authenticate(authorization)
    if user is None:
        raise errors.UnauthorizedError("Unauthorized")
    why = bootstrap_restriction(user, "POST", "pods", namespace, name, sub)
    if why is None and node_name_of(user):
        why = (f'pods "{name}" is forbidden: User "{user.name}" cannot create resource "pods/{sub}" in the '
               f'namespace "{namespace}": a node may not run commands in pods')
    if why:
        raise errors.ForbiddenError(why, details={"name": name, "kind": "pods"})


async def serve_stream(server: APIServer, websocket: WebSocket, namespace: str, name: str, sub: str) -> None:
    """pods/{name}/exec over WebSocket: authorized and checked like any request, then relayed to the kubelet."""
    try:
        if sub != "exec":
            raise errors.NotFoundError("the server could not find the requested resource")
        _authorize_stream(server, websocket.headers.get("authorization"), namespace, name, sub)
        protocol = streams.negotiate(websocket.scope.get("subprotocols") or [])
        if protocol is None:
            raise errors.BadRequestError(f"unable to upgrade connection: the client offered none of the "
                                         f"subprotocols {', '.join(streams.PROTOCOLS)}")
        target, path = await exec_target(server, namespace, name, websocket.query_params.multi_items())
        url = streams.websocket_url(target.base, path)
        try:
            upstream = await streams.open_stream(url, target.headers, _client_ssl(), (protocol,), CONNECT_TIMEOUT)
        except OSError as error:
            raise _dial_error(f'Get "{target.base}{path}"', target.host, target.port, error) from None
    except errors.StatusError as error:
        await websocket.send_denial_response(Response(json.dumps(error.status()).encode(), error.code,
                                                      media_type="application/json"))
        return
    except streams.HandshakeRefused as refused:  # the kubelet's own Status (container not running, ...)
        await websocket.send_denial_response(Response(refused.body, refused.status, media_type=refused.content_type))
        return
    try:
        await websocket.accept(subprotocol=upstream.subprotocol)
        await _relay(websocket, upstream)
    finally:
        await upstream.close()  # whatever happened here, the command on the kubelet ends with it


async def _relay(websocket: WebSocket, upstream: ClientConnection) -> None:
    """Messages both ways as they come; a client that goes away ends the command on the kubelet, and the
    kubelet's close (after the status) ends the client's stream."""

    async def to_client() -> None:
        with contextlib.suppress(ConnectionClosed, WebSocketDisconnect):
            async for message in upstream:
                if isinstance(message, bytes):
                    await websocket.send_bytes(message)
                else:
                    await websocket.send_text(message)

    async def to_kubelet() -> None:
        with contextlib.suppress(ConnectionClosed):
            while (message := await websocket.receive())["type"] == "websocket.receive":
                data = message.get("bytes")
                await upstream.send(data if data is not None else str(message.get("text") or ""))

    down, up = asyncio.create_task(to_client()), asyncio.create_task(to_kubelet())
    try:
        done, _ = await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (down, up):
            task.cancel()
        await asyncio.gather(down, up, return_exceptions=True)
    if down in done:
        normal = upstream.close_code in (1000, None)
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
            await websocket.close(1000 if normal else 1011, "" if normal else "the kubelet's stream broke")
