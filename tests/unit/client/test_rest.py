"""REST client against httpx.MockTransport (and a tiny local server for socket-level behaviour)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from util import free_port

from minik.api.errors import (
    AlreadyExistsError,
    ConflictError,
    GoneError,
    InternalError,
    InvalidError,
    NotFoundError,
    ServiceUnavailableError,
)
from minik.api.resources import require
from minik.client.rest import Client, ConnectionFailed, WatchEvent

PODS, NODES, DEPLOYMENTS = require("pods"), require("nodes"), require("deployments")


def status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code, "details": details}


class Server:
    """Records requests; answers with the next canned response (or a handler)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.responses: list[httpx.Response | Callable[[httpx.Request], httpx.Response]] = []

    def reply(self, code: int = 200, body: Any = None, **kw: Any) -> None:
        self.responses.append(httpx.Response(code, json=body if body is not None else {}, **kw))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        nxt = self.responses.pop(0)
        return nxt(request) if callable(nxt) else nxt

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def last_json(self) -> Any:
        return json.loads(self.last.content)


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    c = Client("https://10.0.0.1:6443", token="tok", transport=httpx.MockTransport(server))
    yield c
    c.close()


def test_get_sends_token_and_user_agent(client: Client, server: Server) -> None:
    server.reply(body={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}})
    assert client.get(PODS, "x", "web")["metadata"]["name"] == "x"
    req = server.last
    assert (req.method, req.url.path) == ("GET", "/api/v1/namespaces/web/pods/x")
    assert req.headers["authorization"] == "Bearer tok"
    assert req.headers["user-agent"] == "minik"


def test_namespaced_calls_default_to_default_and_cluster_scoped_have_none(
        client: Client, server: Server) -> None:
    server.reply(body={})
    server.reply(body={})
    server.reply(body={})
    client.get(PODS, "x")
    client.create(DEPLOYMENTS, {"metadata": {"name": "d", "namespace": "shop"}})
    client.create(NODES, {"metadata": {"name": "n1", "namespace": "ignored"}})
    assert [r.url.path for r in server.requests] == [
        "/api/v1/namespaces/default/pods/x", "/apis/apps/v1/namespaces/shop/deployments", "/api/v1/nodes"]
    assert server.last_json() == {"metadata": {"name": "n1", "namespace": "ignored"}}


@pytest.mark.parametrize(("code", "body", "exc", "message"), [
    (404, status(404, "NotFound", 'pods "x" not found', name="x", kind="pods"), NotFoundError,
     'pods "x" not found'),
    (409, status(409, "AlreadyExists", 'pods "x" already exists'), AlreadyExistsError,
     'pods "x" already exists'),
    (409, status(409, "Conflict", "the object has been modified"), ConflictError,
     "the object has been modified"),
    (410, status(410, "Expired", "too old resource version"), GoneError, "too old resource version"),
])
def test_status_bodies_raise_typed_errors(client: Client, server: Server, code: int, body: Any,
                                          exc: type[Exception], message: str) -> None:
    server.reply(code, body)
    with pytest.raises(exc) as e:
        client.get(PODS, "x")
    assert str(e.value) == message


def test_invalid_keeps_causes(client: Client, server: Server) -> None:
    causes = [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}]
    server.reply(422, status(422, "Invalid", 'Pod "x" is invalid: spec.containers: Required value',
                             name="x", kind="Pod", causes=causes))
    with pytest.raises(InvalidError) as e:
        client.create(PODS, {"metadata": {"name": "x"}})
    assert e.value.causes == causes
    assert e.value.details["kind"] == "Pod"


def test_non_status_error_bodies(client: Client, server: Server) -> None:
    server.responses.append(httpx.Response(500, text="etcd is sad"))
    server.responses.append(httpx.Response(503))
    with pytest.raises(InternalError, match="etcd is sad"):
        client.get(PODS, "x")
    with pytest.raises(ServiceUnavailableError) as e:
        client.get(PODS, "x")
    assert e.value.code == 503


def test_list_passes_selectors_and_fills_item_kinds(client: Client, server: Server) -> None:
    server.reply(body={"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "9"},
                       "items": [{"metadata": {"name": "a"}}]})
    out = client.list(PODS, "web", label_selector="app in (a,b)", field_selector="spec.nodeName=n1",
                      limit=5, continue_="tok", resource_version="0")
    assert out["items"] == [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}]
    assert server.last.url.path == "/api/v1/namespaces/web/pods"
    assert dict(server.last.url.params) == {
        "labelSelector": "app in (a,b)", "fieldSelector": "spec.nodeName=n1",
        "limit": "5", "continue": "tok", "resourceVersion": "0"}


def test_list_all_follows_continue(client: Client, server: Server) -> None:
    server.reply(body={"metadata": {"resourceVersion": "7", "continue": "c1"},
                       "items": [{"metadata": {"name": "a"}}]})
    server.reply(body={"metadata": {"resourceVersion": "7"}, "items": [{"metadata": {"name": "b"}}]})
    items, rv = client.list_all(PODS, page_size=1)
    assert [i["metadata"]["name"] for i in items] == ["a", "b"]
    assert rv == "7"
    assert server.requests[0].url.path == "/api/v1/pods"  # all namespaces
    assert [dict(r.url.params) for r in server.requests] == [{"limit": "1"}, {"limit": "1", "continue": "c1"}]


def test_list_all_restarts_unpaginated_when_continue_expires(client: Client, server: Server) -> None:
    server.reply(body={"metadata": {"resourceVersion": "7", "continue": "c1"},
                       "items": [{"metadata": {"name": "a"}}]})
    server.reply(410, status(410, "Expired", "The provided continue parameter is too old"))
    server.reply(body={"metadata": {"resourceVersion": "12"},
                       "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "c"}}]})
    items, rv = client.list_all(PODS, "web", page_size=1)
    assert ([i["metadata"]["name"] for i in items], rv) == (["a", "c"], "12")
    assert dict(server.last.url.params) == {}


def test_update_and_update_status_put_to_the_object(client: Client, server: Server) -> None:
    obj = {"metadata": {"name": "d", "namespace": "shop", "resourceVersion": "3"}, "spec": {"replicas": 2}}
    server.reply(body=obj)
    server.reply(body=obj)
    client.update(DEPLOYMENTS, obj)
    client.update_status(DEPLOYMENTS, obj)
    assert [(r.method, r.url.path) for r in server.requests] == [
        ("PUT", "/apis/apps/v1/namespaces/shop/deployments/d"),
        ("PUT", "/apis/apps/v1/namespaces/shop/deployments/d/status")]
    assert server.last_json() == obj


@pytest.mark.parametrize(("patch_type", "content_type", "body"), [
    ("merge", "application/merge-patch+json", {"spec": {"replicas": 3}}),
    ("strategic", "application/strategic-merge-patch+json", {"spec": {"replicas": 3}}),
    ("json", "application/json-patch+json", [{"op": "replace", "path": "/spec/replicas", "value": 3}]),
])
def test_patch_content_types(client: Client, server: Server, patch_type: Any, content_type: str,
                             body: Any) -> None:
    server.reply(body={})
    client.patch(DEPLOYMENTS, "d", body, "shop", patch_type=patch_type, subresource="scale")
    assert server.last.method == "PATCH"
    assert server.last.url.path == "/apis/apps/v1/namespaces/shop/deployments/d/scale"
    assert server.last.headers["content-type"] == content_type
    assert server.last_json() == body


def test_delete_sends_delete_options(client: Client, server: Server) -> None:
    server.reply(body={"kind": "Status", "status": "Success"})
    client.delete(PODS, "x", "web", propagation_policy="Foreground", grace_period_seconds=0,
                  preconditions={"uid": "u1"})
    assert (server.last.method, server.last.url.path) == ("DELETE", "/api/v1/namespaces/web/pods/x")
    assert server.last_json() == {"apiVersion": "v1", "kind": "DeleteOptions",
                                  "propagationPolicy": "Foreground", "gracePeriodSeconds": 0,
                                  "preconditions": {"uid": "u1"}}


def test_delete_collection(client: Client, server: Server) -> None:
    server.reply(body={"kind": "PodList", "items": []})
    client.delete_collection(PODS, label_selector="app=web")
    assert (server.last.method, server.last.url.path) == ("DELETE", "/api/v1/namespaces/default/pods")
    assert dict(server.last.url.params) == {"labelSelector": "app=web"}


def test_bind_posts_a_binding(client: Client, server: Server) -> None:
    server.reply(201, {"kind": "Status", "status": "Success"})
    client.bind("web", "x", "node-1")
    assert (server.last.method, server.last.url.path) == ("POST", "/api/v1/namespaces/web/pods/x/binding")
    assert server.last_json() == {"apiVersion": "v1", "kind": "Binding",
                                  "metadata": {"name": "x", "namespace": "web"},
                                  "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}


def test_table_asks_for_server_side_printing(client: Client, server: Server) -> None:
    server.reply(body={"kind": "Table", "apiVersion": "meta.k8s.io/v1", "columnDefinitions": [], "rows": []})
    assert client.table(PODS, "web", include_object=True)["kind"] == "Table"
    assert server.last.headers["accept"].startswith("application/json;as=Table;v=v1;g=meta.k8s.io")
    assert dict(server.last.url.params) == {"includeObject": "Object"}


def test_get_json_for_discovery_and_healthz(client: Client, server: Server) -> None:
    server.reply(body={"major": "1", "minor": "29"})
    server.responses.append(httpx.Response(200, text="ok"))
    assert client.get_json("/version") == {"major": "1", "minor": "29"}
    assert client.get_json("/healthz") == "ok"


# --- watch -------------------------------------------------------------------------------------


def event_line(type_: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": type_, "object": obj}).encode() + b"\n"


def stream(*chunks: bytes) -> httpx.Response:
    return httpx.Response(200, content=iter(chunks), headers={"content-type": "application/json"})


def test_watch_parses_events_split_across_chunks(client: Client, server: Server) -> None:
    added = event_line("ADDED", {"metadata": {"name": "a", "resourceVersion": "5"}})
    modified = event_line("MODIFIED", {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a"}})
    bookmark = json.dumps({"type": "BOOKMARK",
                           "object": {"kind": "Pod", "metadata": {"resourceVersion": "9"}}})
    data = added + modified
    server.responses.append(stream(data[:7], data[7:60], data[60:], b"\n", b"not json\n",
                                   bookmark.encode()[:10], bookmark.encode()[10:]))  # last line unterminated
    events = list(client.watch(PODS, "web", resource_version="4", timeout_seconds=60))
    assert events == [
        WatchEvent("ADDED", {"apiVersion": "v1", "kind": "Pod",
                             "metadata": {"name": "a", "resourceVersion": "5"}}),
        WatchEvent("MODIFIED", {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a"}}),
        WatchEvent("BOOKMARK", {"apiVersion": "v1", "kind": "Pod", "metadata": {"resourceVersion": "9"}}),
    ]
    assert server.last.url.path == "/api/v1/namespaces/web/pods"
    assert dict(server.last.url.params) == {"watch": "1", "resourceVersion": "4", "timeoutSeconds": "60",
                                            "allowWatchBookmarks": "true"}


def test_watch_error_event_410_raises_gone(client: Client, server: Server) -> None:
    server.responses.append(stream(
        event_line("ADDED", {"metadata": {"name": "a"}}),
        event_line("ERROR", status(410, "Expired", "too old resource version: 1 (5)"))))
    w = client.watch(PODS, resource_version="1")
    assert next(w).type == "ADDED"
    with pytest.raises(GoneError, match="too old resource version"):
        next(w)


def test_watch_http_410_raises_on_open(client: Client, server: Server) -> None:
    server.reply(410, status(410, "Gone", "too old"))
    with pytest.raises(GoneError):
        client.watch(PODS, resource_version="1")


def test_watch_stop_before_reading_ends_iteration(client: Client, server: Server) -> None:
    server.responses.append(stream(event_line("ADDED", {"metadata": {"name": "a"}})))
    with client.watch(PODS) as w:
        w.stop()
        assert list(w) == []


# --- connection failures and kubeconfig ------------------------------------------------------------


def test_connection_refused_is_worded_like_kubectl() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with Client("https://10.0.0.1:6443", transport=httpx.MockTransport(refuse)) as c, \
            pytest.raises(ConnectionFailed) as e:
        c.get(PODS, "x")
    assert str(e.value) == ("The connection to the server 10.0.0.1:6443 was refused - "
                            "did you specify the right host or port?")


def test_connection_refused_against_a_real_closed_port() -> None:
    port = free_port()
    with Client(f"http://127.0.0.1:{port}") as c, pytest.raises(ConnectionFailed) as e:
        c.get_json("/version")
    assert str(e.value) == (f"The connection to the server 127.0.0.1:{port} was refused - "
                            "did you specify the right host or port?")


def test_other_transport_failures_say_unable_to_connect() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with Client("https://h", transport=httpx.MockTransport(timeout)) as c, \
            pytest.raises(ConnectionFailed) as e:
        c.get(PODS, "x")
    assert str(e.value) == "Unable to connect to the server: timed out"


class _SlowWatchHandler(BaseHTTPRequestHandler):
    """Sends one event, then keeps the stream open until the test releases it."""

    release = threading.Event()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(event_line("ADDED", {"metadata": {"name": "a"}}))
        self.wfile.flush()
        self.release.wait(30)

    def log_message(self, *args: Any) -> None:
        pass


def test_watch_stop_from_another_thread_wakes_a_blocked_reader() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _SlowWatchHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    got: list[WatchEvent] = []
    errors: list[BaseException] = []
    try:
        with Client(f"http://127.0.0.1:{httpd.server_address[1]}") as c:
            w = c.watch(PODS)
            first = threading.Event()

            def read() -> None:
                try:
                    for ev in w:
                        got.append(ev)
                        first.set()
                except BaseException as e:  # noqa: BLE001 (reported below)
                    errors.append(e)

            reader = threading.Thread(target=read)
            reader.start()
            assert first.wait(10)
            w.stop()  # the reader is blocked in recv: stop must wake it
            reader.join(10)
            assert not reader.is_alive()
    finally:
        _SlowWatchHandler.release.set()
        httpd.shutdown()
        httpd.server_close()
    assert [e.object["metadata"]["name"] for e in got] == ["a"]
    assert errors == []


def test_from_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://1.2.3.4:6443",
                                               "insecure-skip-tls-verify": True}}],
        "users": [{"name": "c", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "c", "namespace": "lab"}}],
    }))
    with Client.from_kubeconfig(path) as c:
        assert c.server == "https://1.2.3.4:6443"
        assert c.config is not None and c.config.namespace == "lab"
