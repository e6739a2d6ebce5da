"""Informer: initial list, watch events, relist on 410 and dropped streams, bookmarks, resync, Store."""

from __future__ import annotations

import copy
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from util import wait_for

from minik.api.errors import GoneError
from minik.api.resources import Resource, lookup
from minik.client.informer import (
    NAMESPACE_INDEX,
    Informer,
    Store,
    meta_namespace_key,
    split_key,
    wait_for_cache_sync,
)
from minik.client.rest import ConnectionFailed, WatchEvent

_pods = lookup("pods")
assert _pods is not None
PODS: Resource = _pods


def pod(name: str, rv: str, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "resourceVersion": rv, "labels": labels}}


_END = object()


class FakeWatch:
    """A watch stream the test feeds; blocks like a real one until fed, ended or stopped."""

    def __init__(self, resource_version: str | None) -> None:
        self.resource_version = resource_version
        self._q: queue.Queue[Any] = queue.Queue()
        self.stopped = threading.Event()

    def send(self, type_: str, obj: dict[str, Any]) -> None:
        self._q.put(WatchEvent(type_, obj))

    def fail(self, exc: BaseException) -> None:
        self._q.put(exc)

    def end(self) -> None:
        self._q.put(_END)

    def stop(self) -> None:
        self.stopped.set()
        self._q.put(_END)

    def __iter__(self) -> Iterator[WatchEvent]:
        while True:
            item = self._q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class FakeClient:
    """list_all answers from `objects`; each watch() call opens a new FakeWatch."""

    def __init__(self, objects: list[dict[str, Any]], rv: str) -> None:
        self.objects = objects
        self.rv = rv
        self.list_errors: list[BaseException] = []
        self.lists = 0
        self.watches: list[FakeWatch] = []
        self.list_args: dict[str, Any] = {}
        self.lock = threading.Lock()

    def list_all(self, r: Any, namespace: str | None = None, *, label_selector: str | None = None,
                 field_selector: str | None = None, page_size: int = 500) -> tuple[list[dict[str, Any]], str]:
        with self.lock:
            self.lists += 1
            self.list_args = {"namespace": namespace, "label_selector": label_selector,
                              "field_selector": field_selector}
            if self.list_errors:
                raise self.list_errors.pop(0)
            return copy.deepcopy(self.objects), self.rv

    def watch(self, r: Any, namespace: str | None = None, *, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              timeout_seconds: int | None = None, allow_bookmarks: bool = True) -> FakeWatch:
        assert allow_bookmarks
        w = FakeWatch(resource_version)
        with self.lock:
            self.watches.append(w)
        return w

    def watch_number(self, n: int) -> FakeWatch:
        """The n-th watch (1-based), once the informer has opened it."""
        return wait_for(lambda: len(self.watches) >= n and self.watches[n - 1], message=f"watch #{n}")


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()

    def on_add(self, obj: dict[str, Any]) -> None:
        self._rec("add", obj)

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        with self.lock:
            self.events.append(("update", meta_namespace_key(new),
                                f"{old['metadata']['resourceVersion']}->{new['metadata']['resourceVersion']}"))

    def on_delete(self, obj: dict[str, Any]) -> None:
        self._rec("delete", obj)

    def _rec(self, kind: str, obj: dict[str, Any]) -> None:
        with self.lock:
            self.events.append((kind, meta_namespace_key(obj), obj["metadata"]["resourceVersion"]))

    def snapshot(self) -> list[tuple[str, str, str]]:
        with self.lock:
            return list(self.events)

    def wait_len(self, n: int) -> list[tuple[str, str, str]]:
        return wait_for(lambda: len(self.snapshot()) >= n and self.snapshot(), message=f"{n} handler calls")


@pytest.fixture
def started() -> Iterator[Callable[..., tuple[Informer, FakeClient, Recorder]]]:
    informers: list[Informer] = []

    def make(objects: list[dict[str, Any]], rv: str = "10",
             **kw: Any) -> tuple[Informer, FakeClient, Recorder]:
        client = FakeClient(objects, rv)
        inf = Informer(client, PODS, **kw)
        rec = Recorder()
        inf.add_event_handler(rec.on_add, rec.on_update, rec.on_delete)
        informers.append(inf)
        inf.start()
        return inf, client, rec

    yield make
    for inf in informers:
        inf.stop()


def test_initial_list_fills_the_store_and_calls_on_add(started: Any) -> None:
    inf, client, rec = started([pod("a", "5"), pod("b", "7", ns="kube-system")],
                               label_selector="app=web", field_selector="spec.nodeName=n1")
    assert inf.wait_for_sync(5)
    assert inf.has_synced()
    assert sorted(inf.store.keys()) == ["default/a", "kube-system/b"]
    assert sorted(rec.snapshot()) == [("add", "default/a", "5"), ("add", "kube-system/b", "7")]
    assert inf.last_sync_resource_version == "10"
    assert client.list_args == {"namespace": None, "label_selector": "app=web",
                                "field_selector": "spec.nodeName=n1"}
    assert client.watch_number(1).resource_version == "10"  # watch starts where the list ended


def test_watch_events_update_the_store_and_call_handlers(started: Any) -> None:
    inf, client, rec = started([pod("a", "5")])
    w = client.watch_number(1)
    w.send("ADDED", pod("b", "11"))
    w.send("MODIFIED", pod("a", "12"))
    w.send("DELETED", pod("b", "13"))
    assert rec.wait_len(4)[1:] == [("add", "default/b", "11"), ("update", "default/a", "5->12"),
                                   ("delete", "default/b", "13")]
    assert inf.store.keys() == ["default/a"]
    assert inf.store.get("default/a")["metadata"]["resourceVersion"] == "12"
    assert inf.last_sync_resource_version == "13"


def test_bookmark_moves_the_resource_version_and_rewatch_starts_there(started: Any) -> None:
    inf, client, rec = started([pod("a", "5")])
    w = client.watch_number(1)
    w.send("BOOKMARK", {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": "50"}})
    wait_for(lambda: inf.last_sync_resource_version == "50", message="bookmark rv")
    w.end()  # the server ended the stream normally (timeoutSeconds): re-watch, no relist
    assert client.watch_number(2).resource_version == "50"
    assert client.lists == 1
    assert rec.snapshot() == [("add", "default/a", "5")]  # a bookmark is not a change


def test_relist_after_gone_emits_deletes_for_vanished_objects(started: Any) -> None:
    inf, client, rec = started([pod("a", "5"), pod("b", "6"), pod("c", "7")])
    w = client.watch_number(1)
    w.send("MODIFIED", pod("b", "20"))
    rec.wait_len(4)
    # While the watch is broken, b is deleted, a changes, c stays, d appears.
    client.objects = [pod("a", "30"), pod("c", "7"), pod("d", "31")]
    client.rv = "40"
    w.fail(GoneError("too old resource version: 20 (35)"))
    events = rec.wait_len(7)[4:]
    assert sorted(events) == [("add", "default/d", "31"), ("delete", "default/b", "20"),
                              ("update", "default/a", "5->30")]  # c unchanged: no update
    assert sorted(inf.store.keys()) == ["default/a", "default/c", "default/d"]
    assert client.watch_number(2).resource_version == "40"
    assert inf.last_sync_resource_version == "40"


def test_gone_on_an_idle_watch_still_relists(started: Any) -> None:
    inf, client, rec = started([pod("a", "5")])
    w = client.watch_number(1)
    client.objects, client.rv = [], "11"
    w.fail(GoneError("too old resource version"))
    assert rec.wait_len(2)[1] == ("delete", "default/a", "5")
    assert client.watch_number(2).resource_version == "11"


def test_dropped_stream_relists_after_backoff(started: Any) -> None:
    inf, client, rec = started([pod("a", "5")])
    w = client.watch_number(1)
    client.list_errors = [ConnectionFailed("The connection to the server x:1 was refused")]
    client.objects = []
    w.fail(ConnectionFailed("the watch stream was interrupted"))
    # First relist fails (refused), the retry succeeds and reports a's deletion.
    assert rec.wait_len(2)[1] == ("delete", "default/a", "5")
    assert client.lists == 3
    assert inf.store.keys() == []


def test_list_failure_is_retried_until_synced() -> None:
    client = FakeClient([pod("a", "1")], "3")
    client.list_errors = [RuntimeError("boom")]
    inf = Informer(client, PODS)
    inf.start()
    try:
        assert wait_for_cache_sync([inf], 5)
        assert inf.store.keys() == ["default/a"]
        assert client.lists == 2
    finally:
        inf.stop()


def test_wait_for_cache_sync_times_out_when_never_listed() -> None:
    inf = Informer(FakeClient([], "1"), PODS)  # never started
    assert wait_for_cache_sync([inf], 0.01) is False
    assert not inf.has_synced()


def test_bad_events_and_failing_handlers_do_not_stop_the_informer(started: Any) -> None:
    inf, client, rec = started([])
    calls: list[str] = []

    def explode(obj: dict[str, Any]) -> None:
        calls.append(obj["metadata"]["name"])
        raise RuntimeError("handler bug")

    inf.add_event_handler(on_add=explode)
    w = client.watch_number(1)
    w.send("ADDED", {"kind": "Pod", "metadata": {}})  # no name
    w.send("ADDED", {"kind": "Pod"})  # no metadata
    w.send("WHATEVER", pod("x", "11"))
    w.send("ADDED", pod("ok", "12"))
    assert rec.wait_len(1) == [("add", "default/ok", "12")]
    wait_for(lambda: calls == ["ok"], message="second handler call")
    assert inf.store.keys() == ["default/ok"]


def test_late_handler_gets_adds_for_cached_objects(started: Any) -> None:
    inf, client, _ = started([pod("a", "1"), pod("b", "2")])
    assert inf.wait_for_sync(5)
    late = Recorder()
    inf.add_event_handler(late.on_add, late.on_update, late.on_delete)
    assert sorted(late.snapshot()) == [("add", "default/a", "1"), ("add", "default/b", "2")]
    client.watch_number(1).send("MODIFIED", pod("a", "9"))
    assert late.wait_len(3)[2] == ("update", "default/a", "1->9")


def test_periodic_resync_redelivers_cached_objects_as_updates(started: Any) -> None:
    _, _, rec = started([pod("a", "1")], resync_period=0.01)
    wait_for(lambda: ("update", "default/a", "1->1") in rec.snapshot(), message="resync update")


def test_stop_ends_the_watch_and_the_thread() -> None:
    client = FakeClient([], "1")
    inf = Informer(client, PODS)
    inf.start()
    w = client.watch_number(1)
    inf.stop()
    assert w.stopped.is_set()
    assert all(not t.is_alive() for t in inf._threads)


def test_store_indexes_follow_updates_and_deletes() -> None:
    store = Store()
    store.add_indexer(NAMESPACE_INDEX, lambda o: [o["metadata"]["namespace"]])
    store.add(pod("a", "1", app="web"))
    store.add_indexer("app", lambda o: [o["metadata"]["labels"].get("app", "")])  # indexes existing
    store.add(pod("b", "1", ns="other", app="web"))
    assert [o["metadata"]["name"] for o in store.by_index("app", "web")] == ["a", "b"]
    store.update(pod("a", "2", app="db"))
    assert [o["metadata"]["name"] for o in store.by_index("app", "web")] == ["b"]
    assert [o["metadata"]["name"] for o in store.by_index("app", "db")] == ["a"]
    store.delete(pod("b", "3", ns="other"))
    assert store.by_index("app", "web") == []
    assert store.by_index(NAMESPACE_INDEX, "other") == []
    assert store.get(pod("a", "x")) is store.get_by_key("default/a")
    with pytest.raises(KeyError):
        store.by_index("missing", "x")


def test_store_survives_a_broken_index_function() -> None:
    store = Store()
    store.add_indexer("broken", lambda o: [o["spec"]["nodeName"]])
    store.add(pod("a", "1"))
    assert store.keys() == ["default/a"]
    assert store.by_index("broken", "n1") == []


def test_keys() -> None:
    assert meta_namespace_key(pod("a", "1", ns="ns1")) == "ns1/a"
    assert meta_namespace_key({"metadata": {"name": "node1"}}) == "node1"
    assert split_key("ns1/a") == ("ns1", "a")
    assert split_key("node1") == ("", "node1")
    with pytest.raises(ValueError):
        split_key("a/b/c")
    with pytest.raises(ValueError):
        meta_namespace_key({"metadata": {}})
