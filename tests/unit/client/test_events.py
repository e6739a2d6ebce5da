"""EventRecorder: Event shape, aggregation of repeats, never raising, never blocking the caller."""

from __future__ import annotations

import threading
from typing import Any

from minik.api.errors import InternalError, NotFoundError
from minik.api.resources import Resource
from minik.client.events import EventRecorder

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1", "resourceVersion": "7"}}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "uid": "n1"}}


class FakeClient:
    def __init__(self) -> None:
        self.created: list[tuple[str | None, dict[str, Any]]] = []
        self.patched: list[tuple[str, str | None, Any]] = []
        self.fail_create: list[Exception] = []
        self.fail_patch: list[Exception] = []
        self.gate: threading.Event | None = None

    def create(self, r: Resource, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        assert r.plural == "events"
        if self.gate is not None:
            self.gate.wait(30)
        if self.fail_create:
            raise self.fail_create.pop(0)
        self.created.append((namespace, obj))
        return obj

    def patch(self, r: Resource, name: str, body: Any, namespace: str | None = None, *,
              patch_type: Any = "merge", subresource: str | None = None) -> dict[str, Any]:
        if self.fail_patch:
            raise self.fail_patch.pop(0)
        self.patched.append((name, namespace, body))
        return {}


def recorder(host: str | None = "node-1") -> tuple[EventRecorder, FakeClient]:
    client = FakeClient()
    return EventRecorder(client, "kubelet", host=host), client


def test_event_creates_a_core_v1_event() -> None:
    rec, client = recorder()
    rec.event(POD, "Normal", "Pulled", 'Container image "nginx" already present on machine')
    assert rec.flush(5)
    [(ns, ev)] = client.created
    assert ns == "shop"
    assert ev["metadata"]["namespace"] == "shop"
    name = ev["metadata"]["name"]
    assert name.startswith("web-1.") and int(name.split(".", 1)[1], 16) > 0
    assert ev["involvedObject"] == {"apiVersion": "v1", "kind": "Pod", "namespace": "shop", "name": "web-1",
                                    "uid": "u1", "resourceVersion": "7"}
    assert (ev["type"], ev["reason"], ev["count"]) == ("Normal", "Pulled", 1)
    assert ev["message"] == 'Container image "nginx" already present on machine'
    assert ev["source"] == {"component": "kubelet", "host": "node-1"}
    assert ev["firstTimestamp"] == ev["lastTimestamp"]
    assert ev["firstTimestamp"].endswith("Z")


def test_repeats_are_aggregated_by_patching_count() -> None:
    rec, client = recorder()
    for _ in range(3):
        rec.event(POD, "Warning", "BackOff", "Back-off restarting failed container")
    rec.event(POD, "Warning", "BackOff", "a different message")
    assert rec.flush(5)
    assert len(client.created) == 2
    first = client.created[0][1]["metadata"]["name"]
    assert [(n, ns, b["count"]) for n, ns, b in client.patched] == [(first, "shop", 2), (first, "shop", 3)]
    assert all("lastTimestamp" in b for _, _, b in client.patched)


def test_cluster_scoped_objects_get_events_in_default() -> None:
    rec, client = recorder(host=None)
    rec.event(NODE, "Normal", "NodeReady", "Node node-1 status is now: NodeReady")
    assert rec.flush(5)
    [(ns, ev)] = client.created
    assert ns == "default"
    assert "namespace" not in ev["involvedObject"]
    assert ev["source"] == {"component": "kubelet"}


def test_failures_are_swallowed_and_later_events_still_written() -> None:
    rec, client = recorder()
    client.fail_create = [InternalError("etcd down")]
    rec.event(POD, "Normal", "Scheduled", "one")
    rec.event(POD, "Normal", "Scheduled", "two")
    assert rec.flush(5)
    assert [ev["message"] for _, ev in client.created] == ["two"]


def test_patch_of_a_vanished_event_creates_a_new_one() -> None:
    rec, client = recorder()
    rec.event(POD, "Normal", "Killing", "Stopping container web")
    assert rec.flush(5)
    client.fail_patch = [NotFoundError('events "x" not found')]
    rec.event(POD, "Normal", "Killing", "Stopping container web")
    assert rec.flush(5)
    assert len(client.created) == 2
    assert client.created[1][1]["count"] == 1


def test_bad_input_is_dropped_without_raising() -> None:
    rec, client = recorder()
    rec.event(POD, "Fancy", "Reason", "unsupported type")
    rec.event({"metadata": {}}, "Normal", "Reason", "no name")
    rec.event("not an object", "Normal", "Reason", "garbage")  # type: ignore[arg-type]
    assert rec.flush(5)
    assert client.created == []


def test_event_does_not_block_on_a_slow_apiserver() -> None:
    rec, client = recorder()
    client.gate = threading.Event()

    def record_five() -> None:
        for i in range(5):
            rec.event(POD, "Normal", "R", f"m{i}")

    caller = threading.Thread(target=record_five)
    caller.start()
    caller.join(10)
    assert not caller.is_alive()  # returned while the writer is stuck in create
    assert client.created == []
    client.gate.set()
    assert rec.flush(5)
    assert [ev["message"] for _, ev in client.created] == [f"m{i}" for i in range(5)]
    rec.stop()
