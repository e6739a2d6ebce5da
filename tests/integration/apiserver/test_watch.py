"""Watch: events in order, resume from a resourceVersion, 410 Gone outside the window, bookmarks."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.integration.apiserver.objects import APIClient, pod
from tests.util import wait_for


class Stream:
    """A watch read on a thread so the test can act while events arrive."""

    def __init__(self, http: APIClient, url: str, params: dict[str, str]) -> None:
        self.events: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.done = False
        self.error: Exception | None = None
        self._client = http.twin()
        self._ctx = self._client.stream("GET", url, params={"watch": "true", **params})
        self._resp = self._ctx.__enter__()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._resp.iter_lines():
                if line.strip():
                    with self.cond:
                        self.events.append(json.loads(line))
                        self.cond.notify_all()
        except Exception as exc:  # shown by wait() if the stream broke
            self.error = exc
        finally:
            with self.cond:
                self.done = True
                self.cond.notify_all()

    def wait(self, count: int, timeout: float = 20) -> list[dict[str, Any]]:
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.events) >= count or self.done, timeout)
            assert ok and len(self.events) >= count, f"got {self.events} (stream error: {self.error!r})"
            return list(self.events)

    def close(self) -> None:
        # Wake the reader with a shutdown and wait for it *before* closing: closing the fd under a
        # blocked reader lets the next connection reuse the fd and the stale reader steal its bytes.
        sock = self._resp.extensions["network_stream"].get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=10)
        self._resp.close()
        self._ctx.__exit__(None, None, None)
        self._client.close()


@contextmanager
def watch(http: APIClient, url: str, **params: str) -> Iterator[Stream]:
    s = Stream(http, url, params)
    try:
        yield s
    finally:
        s.close()


def test_watch_sees_changes_in_order(http: APIClient, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/pods"
    rv = http.get(url).json()["metadata"]["resourceVersion"]
    with watch(http, url, resourceVersion=rv) as s:
        http.post(url, json=pod("w"))
        http.patch(f"{url}/w", json={"metadata": {"labels": {"a": "b"}}},
                   headers={"Content-Type": "application/merge-patch+json"})
        http.delete(f"{url}/w")
        evs = s.wait(3)
        assert [e["type"] for e in evs[:3]] == ["ADDED", "MODIFIED", "DELETED"]
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs[:3]]
        assert rvs == sorted(rvs) and rvs[0] > int(rv)


def test_watch_resume_replays_missed_events(http: APIClient, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/pods"
    first = http.post(url, json=pod("r1")).json()
    http.post(url, json=pod("r2"))
    http.post(url, json=pod("r3"))
    with watch(http, url, resourceVersion=first["metadata"]["resourceVersion"]) as s:
        evs = s.wait(2)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == [("ADDED", "r2"), ("ADDED", "r3")]


def test_watch_without_version_starts_with_current_state(http: APIClient, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/pods"
    http.post(url, json=pod("existing"))
    with watch(http, url) as s:
        evs = s.wait(1)
        assert evs[0]["type"] == "ADDED" and evs[0]["object"]["metadata"]["name"] == "existing"


def test_filtered_watch_translates_entering_and_leaving(http: APIClient, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/pods"
    rv = http.get(url).json()["metadata"]["resourceVersion"]
    with watch(http, url, resourceVersion=rv, labelSelector="app=x") as s:
        http.post(url, json=pod("f"))
        merge = {"Content-Type": "application/merge-patch+json"}
        http.patch(f"{url}/f", json={"metadata": {"labels": {"app": "x"}}}, headers=merge)
        http.patch(f"{url}/f", json={"metadata": {"labels": {"app": "y"}}}, headers=merge)
        evs = s.wait(2)
        assert [e["type"] for e in evs[:2]] == ["ADDED", "DELETED"]


def test_old_resource_version_is_gone(apiserver_factory: Any) -> None:
    small = apiserver_factory("--watch-cache-size", "5")
    with APIClient(small.url, small.token, str(small.ca_file)) as h:
        url = "/api/v1/namespaces/default/pods"  # a fresh server with its own etcd prefix
        start = h.post(url, json=pod("g0")).json()["metadata"]["resourceVersion"]
        for i in range(1, 12):
            h.post(url, json=pod(f"g{i}"))

        def first_event() -> dict[str, Any] | None:
            # the cache applies events asynchronously: until it has seen them all the window still
            # covers `start`, so ask again (each watch ends after a second) until it has moved on
            params = {"watch": "1", "resourceVersion": start, "timeoutSeconds": "1"}
            with h.stream("GET", url, params=params) as resp:
                assert resp.status_code == 200
                lines = [json.loads(x) for x in resp.iter_lines() if x.strip()]
            return lines[0] if lines and lines[0]["type"] == "ERROR" else None

        error = wait_for(first_event, timeout=30, message="watch from an old resourceVersion answers 410")
        assert error["object"]["code"] == 410 and error["object"]["reason"] == "Expired"
        # and a relist gives a fresh version to watch from
        rv = h.get(url).json()["metadata"]["resourceVersion"]
        with watch(h, url, resourceVersion=rv) as s:
            h.delete(f"{url}/g0")
            assert s.wait(1)[0]["type"] == "DELETED"


def test_bookmarks(apiserver_factory: Any) -> None:
    srv = apiserver_factory("--bookmark-interval", "0.2")
    with APIClient(srv.url, srv.token, str(srv.ca_file)) as h:
        url = "/api/v1/namespaces/default/pods"
        rv = h.get(url).json()["metadata"]["resourceVersion"]
        with watch(h, url, resourceVersion=rv, allowWatchBookmarks="true") as s:
            ev = s.wait(1)[0]
            assert ev["type"] == "BOOKMARK"
            assert int(ev["object"]["metadata"]["resourceVersion"]) >= int(rv)


def test_watch_list_sends_initial_events_then_a_bookmark(http: APIClient, ns: str) -> None:
    """client-go's WatchList protocol (kubectl get -w uses it): state, end-of-initial-events, changes."""
    url = f"/api/v1/namespaces/{ns}/pods"
    rv = http.post(url, json=pod("early")).json()["metadata"]["resourceVersion"]
    with watch(http, url, resourceVersion=rv, resourceVersionMatch="NotOlderThan", sendInitialEvents="true",
               allowWatchBookmarks="true") as s:
        evs = s.wait(2)
        assert (evs[0]["type"], evs[0]["object"]["metadata"]["name"]) == ("ADDED", "early")
        assert evs[1]["type"] == "BOOKMARK"
        assert evs[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        http.post(url, json=pod("late"))
        later = [e for e in s.wait(3)[2:] if e["type"] != "BOOKMARK"]
        assert (later[0]["type"], later[0]["object"]["metadata"]["name"]) == ("ADDED", "late")
