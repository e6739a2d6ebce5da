"""REST client for the Kubernetes API (minik's or a real one): unstructured dicts in, typed errors out.

One httpx.Client (HTTP/1.1, connection pool) is shared by all threads of a process, like one
client-go rest.Interface. Non-2xx answers raise the StatusError that the Status body names, so
callers write `except NotFoundError` instead of checking codes.
"""

from __future__ import annotations

import contextlib
import errno
import json as jsonlib
import logging
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from minik.api.errors import GoneError, InternalError, StatusError, from_status
from minik.api.resources import Resource, lookup
from minik.client.kubeconfig import DEFAULT_NAMESPACE, ClusterConfig, ConfigError
from minik.client.kubeconfig import load as load_kubeconfig

log = logging.getLogger(__name__)

PatchType = Literal["merge", "strategic", "json"]
PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

Obj = dict[str, Any]
ObjList = list[dict[str, Any]]


class ConnectionFailed(Exception):
    """The server could not be reached (no HTTP answer at all), worded like kubectl."""

    def __init__(self, message: str, server: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.server = server


def _host_port(server: str) -> str:
    url = httpx.URL(server)
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.host}:{port}"


def _refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, ConnectionRefusedError) or getattr(seen, "errno", None) == errno.ECONNREFUSED:
            return True
        if "connection refused" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def connection_failed(server: str, exc: httpx.TransportError) -> ConnectionFailed:
    hp = _host_port(server)
    if isinstance(exc, httpx.ConnectError) and _refused(exc):
        return ConnectionFailed(
            f"The connection to the server {hp} was refused - did you specify the right host or port?", hp)
    detail = str(exc) or type(exc).__name__
    return ConnectionFailed(f"Unable to connect to the server: {detail}", hp)


def _ssl_context(ca_data: bytes | None, insecure: bool, client_cert: bytes | None,
                 client_key: bytes | None) -> ssl.SSLContext | bool:
    if insecure and not client_cert:
        return False
    try:
        ctx = ssl.create_default_context()
        if insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif ca_data:
            ctx = ssl.create_default_context(
                cadata=ca_data.decode("ascii") if ca_data.lstrip().startswith(b"-----") else ca_data)
        if client_cert:
            # ssl only loads key pairs from files: write them to a private temp dir for the call.
            with tempfile.TemporaryDirectory(prefix="minik-client-") as d:
                cert, key = Path(d) / "client.crt", Path(d) / "client.key"
                cert.write_bytes(client_cert)
                if client_key:
                    key.write_bytes(client_key)
                    key.chmod(0o600)
                ctx.load_cert_chain(cert, key if client_key else None)
    except (ssl.SSLError, ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"invalid TLS configuration: {e}") from e
    return ctx


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in (params or {}).items():
        if v is None:
            continue
        out[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


def _body(resp: httpx.Response) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return resp.text


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError as e:
        raise InternalError(f"the server returned invalid JSON ({e}) for "
                            f"{resp.request.method} {resp.request.url.path}", code=resp.status_code) from e


def _with_type(obj: Any, r: Resource | None) -> Any:
    """Lists omit each item's apiVersion/kind; put them back so cached objects are self-describing."""
    if r is not None and isinstance(obj, dict):
        obj.setdefault("apiVersion", r.api_version)
        obj.setdefault("kind", r.kind)
    return obj


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: dict[str, Any]


class Watch:
    """One watch stream as an iterator of WatchEvent.

    `stop()` may be called from any thread: it shuts the socket down so a reader blocked in
    recv wakes up, and iteration then simply ends. An ERROR event raises its StatusError
    (GoneError for 410: the caller must relist); an interrupted stream raises ConnectionFailed.
    """

    def __init__(self, response: httpx.Response, resource: Resource | None, server: str) -> None:
        self._response = response
        self._resource = resource
        self._server = server
        self._stopped = threading.Event()
        self._read_lock = threading.Lock()
        self._events = self._iter()

    def __iter__(self) -> Watch:
        return self

    def __next__(self) -> WatchEvent:
        with self._read_lock:
            if self._stopped.is_set():
                self._response.close()
                raise StopIteration
            return next(self._events)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def stop(self) -> None:
        self._stopped.set()
        stream = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._read_lock.acquire(blocking=False):  # nobody is reading: release the connection now
            try:
                self._response.close()
            finally:
                self._read_lock.release()

    def _iter(self) -> Iterator[WatchEvent]:
        buf = bytearray()
        try:
            for chunk in self._response.iter_bytes():
                if self._stopped.is_set():
                    return
                buf += chunk
                while (i := buf.find(b"\n")) >= 0:
                    line = bytes(buf[:i])
                    del buf[: i + 1]
                    event = self._decode(line)
                    if event is not None:
                        yield event
                    if self._stopped.is_set():
                        return
            if buf.strip() and not self._stopped.is_set():
                event = self._decode(bytes(buf))
                if event is not None:
                    yield event
        except httpx.TransportError as e:
            if self._stopped.is_set():
                return
            raise ConnectionFailed(f"the watch stream from {_host_port(self._server)} was interrupted: "
                                   f"{e or type(e).__name__}", _host_port(self._server)) from e
        finally:
            self._response.close()

    def _decode(self, line: bytes) -> WatchEvent | None:
        if not line.strip():
            return None
        try:
            data = jsonlib.loads(line)
        except ValueError as e:
            log.warning("watch %s: skipping undecodable line (%s): %.200r",
                        self._response.request.url.path, e, line)
            return None
        if not isinstance(data, dict) or not isinstance(data.get("type"), str) \
                or not isinstance(data.get("object"), dict):
            log.warning("watch %s: skipping malformed event: %.200r", self._response.request.url.path, line)
            return None
        obj: dict[str, Any] = data["object"]
        if data["type"] == "ERROR":
            if obj.get("kind") == "Status":
                raise from_status(obj, int(obj.get("code") or 500))
            raise InternalError(f"watch error: {jsonlib.dumps(obj)[:200]}")
        return WatchEvent(data["type"], _with_type(obj, self._resource))


class Client:
    """Thread-safe Kubernetes REST client over one pooled HTTP/1.1 connection set."""

    def __init__(self, server: str, token: str | None = None, ca_data: bytes | None = None,
                 insecure: bool = False, timeout: float = 30.0, user_agent: str = "minik",
                 *, client_cert: bytes | None = None, client_key: bytes | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout
        self.config: ClusterConfig | None = None
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.server,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            verify=_ssl_context(ca_data, insecure, client_cert, client_key),
            http1=True,
            http2=False,
            # Each watch holds a connection for minutes; leave room for informers plus requests.
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=32),
            transport=transport,
            trust_env=False,
        )

    @classmethod
    def from_config(cls, cfg: ClusterConfig) -> Client:
        client = cls(cfg.server, token=cfg.token, ca_data=cfg.ca_data,
                     insecure=cfg.insecure_skip_tls_verify,
                     client_cert=cfg.client_cert, client_key=cfg.client_key)
        client.config = cfg
        return client

    @classmethod
    def from_kubeconfig(cls, path: Path | None = None, context: str | None = None) -> Client:
        return cls.from_config(load_kubeconfig(path, context))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- raw requests -------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, content: bytes | None = None,
                headers: Mapping[str, str] | None = None, stream: bool = False,
                timeout: httpx.Timeout | None = None) -> httpx.Response:
        """Send one request; non-2xx raises the typed StatusError. With stream=True the caller closes."""
        req = self._http.build_request(
            method, path, params=_clean_params(params), json=json, content=content,
            headers=dict(headers or {}),
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT)
        try:
            resp = self._http.send(req, stream=stream)
        except httpx.TransportError as e:
            raise connection_failed(self.server, e) from e
        if resp.is_success:
            return resp
        try:
            if stream:
                resp.read()
            body = _body(resp)
        except httpx.TransportError as e:
            raise connection_failed(self.server, e) from e
        finally:
            resp.close()
        raise from_status(body, resp.status_code)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET anything JSON: discovery, /version, /healthz (text answers come back as str)."""
        resp = self.request("GET", path, params=params)
        return _body(resp)

    def _obj(self, method: str, path: str, **kw: Any) -> Obj:
        resp = self.request(method, path, **kw)
        data = _json(resp)
        if not isinstance(data, dict):
            raise InternalError(f"expected an object from {method} {path}, got {type(data).__name__}")
        return data

    @staticmethod
    def _ns(r: Resource, namespace: str | None, obj: Obj | None = None) -> str | None:
        """Namespace for a single-object call: explicit, else the object's, else "default"."""
        if not r.namespaced:
            return None
        if namespace:
            return namespace
        meta = (obj or {}).get("metadata") or {}
        return str(meta.get("namespace") or DEFAULT_NAMESPACE)

    @staticmethod
    def _name(obj: Obj) -> str:
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            raise ValueError("object has no metadata.name")
        return str(name)

    # --- object calls --------------------------------------------------------------------

    def get(self, r: Resource, name: str, namespace: str | None = None) -> Obj:
        return _with_type(self._obj("GET", r.path(self._ns(r, namespace), name)), r)

    def list(self, r: Resource, namespace: str | None = None, *, label_selector: str | None = None,
             field_selector: str | None = None, limit: int | None = None,
             continue_: str | None = None, resource_version: str | None = None) -> Obj:
        """One List call; namespace None lists across all namespaces."""
        params = {"labelSelector": label_selector, "fieldSelector": field_selector, "limit": limit,
                  "continue": continue_, "resourceVersion": resource_version}
        data = self._obj("GET", r.path(namespace if r.namespaced else None), params=params)
        items = data.get("items")
        if items is None:
            data["items"] = []
        for item in data["items"] if isinstance(data["items"], list) else []:
            _with_type(item, r)
        return data

    def list_all(self, r: Resource, namespace: str | None = None, *, label_selector: str | None = None,
                 field_selector: str | None = None, page_size: int = 500) -> tuple[ObjList, str]:
        """Follow `continue` to the end; returns the items and the list's resourceVersion.

        An expired continue token (410) restarts with one unpaginated list, like client-go's pager.
        """
        items: ObjList = []
        token: str | None = None
        while True:
            try:
                page = self.list(r, namespace, label_selector=label_selector,
                                 field_selector=field_selector, limit=page_size or None, continue_=token)
            except GoneError:
                if token is None:
                    raise
                page = self.list(r, namespace, label_selector=label_selector,
                                 field_selector=field_selector)
                return list(page["items"]), str((page.get("metadata") or {}).get("resourceVersion") or "")
            items.extend(i for i in page["items"] if isinstance(i, dict))
            meta = page.get("metadata") or {}
            token = meta.get("continue") or None
            if not token:
                return items, str(meta.get("resourceVersion") or "")

    def create(self, r: Resource, obj: Obj, namespace: str | None = None, *, dry_run: bool = False) -> Obj:
        """POST; with dry_run the server validates and answers but stores nothing (`dryRun=All`)."""
        params = {"dryRun": "All"} if dry_run else None
        return self._obj("POST", r.path(self._ns(r, namespace, obj)), json=obj, params=params)

    def update(self, r: Resource, obj: Obj, subresource: str | None = None) -> Obj:
        """PUT the whole object; a stale metadata.resourceVersion raises ConflictError."""
        return self._obj("PUT", r.path(self._ns(r, None, obj), self._name(obj), subresource), json=obj)

    def update_status(self, r: Resource, obj: Obj) -> Obj:
        return self.update(r, obj, "status")

    def patch(self, r: Resource, name: str, body: Any, namespace: str | None = None, *,
              patch_type: PatchType = "merge", subresource: str | None = None) -> Obj:
        if patch_type not in PATCH_CONTENT_TYPES:
            raise ValueError(f"unknown patch type {patch_type!r}: use merge, strategic or json")
        content = body if isinstance(body, bytes) else jsonlib.dumps(body).encode()
        return self._obj("PATCH", r.path(self._ns(r, namespace), name, subresource), content=content,
                         headers={"Content-Type": PATCH_CONTENT_TYPES[patch_type]})

    def delete(self, r: Resource, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None,
               preconditions: Mapping[str, str] | None = None) -> Obj:
        """DELETE with a DeleteOptions body; returns the deleted object or a Success Status."""
        options: Obj = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = dict(preconditions)
        return self._obj("DELETE", r.path(self._ns(r, namespace), name), json=options)

    def delete_collection(self, r: Resource, namespace: str | None = None, *,
                          label_selector: str | None = None, field_selector: str | None = None) -> Obj:
        """Delete every match in one namespace (namespace None means "default", never all)."""
        params = {"labelSelector": label_selector, "fieldSelector": field_selector}
        return self._obj("DELETE", r.path(self._ns(r, namespace)), params=params)

    def bind(self, pod_namespace: str, pod_name: str, node_name: str) -> None:
        """What the scheduler does: POST a Binding to pods/{name}/binding."""
        pods = lookup("pods")
        assert pods is not None
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": pod_name, "namespace": pod_namespace},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        self.request("POST", pods.path(pod_namespace, pod_name, "binding"), json=binding)

    def watch(self, r: Resource, namespace: str | None = None, *, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              timeout_seconds: int | None = None, allow_bookmarks: bool = True) -> Watch:
        """Open a watch; the request is sent now, so errors answered by HTTP status raise here."""
        params = {"watch": "1", "resourceVersion": resource_version, "labelSelector": label_selector,
                  "fieldSelector": field_selector, "timeoutSeconds": timeout_seconds,
                  "allowWatchBookmarks": True if allow_bookmarks else None}
        # No read timeout unless the server promised to end the stream: quiet watches are normal.
        read = timeout_seconds + self.timeout if timeout_seconds else None
        timeout = httpx.Timeout(self.timeout, read=read)
        resp = self.request("GET", r.path(namespace if r.namespaced else None), params=params,
                            stream=True, timeout=timeout)
        return Watch(resp, r, self.server)

    def table(self, r: Resource, namespace: str | None = None, name: str | None = None, *,
              label_selector: str | None = None, field_selector: str | None = None,
              include_object: bool = False) -> Obj:
        """Server-side printing, as kubectl get asks for it (a meta.k8s.io/v1 Table)."""
        params = {"labelSelector": label_selector, "fieldSelector": field_selector,
                  "includeObject": "Object" if include_object else None}
        ns = self._ns(r, namespace) if name else (namespace if r.namespaced else None)
        return self._obj("GET", r.path(ns, name), params=params, headers={"Accept": TABLE_ACCEPT})


__all__ = ["Client", "ConnectionFailed", "PatchType", "StatusError", "Watch", "WatchEvent",
           "connection_failed"]
