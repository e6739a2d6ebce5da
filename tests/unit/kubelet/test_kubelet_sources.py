"""Static pod manifests, the status manager's writes, pod workers' one-sync-at-a-time rule."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from util import wait_for

from minik.api.errors import NotFoundError
from minik.kubelet.podworkers import PodWorkers, WorkResult
from minik.kubelet.static_pods import ManifestError, StaticPodSource, build_mirror_pod, parse_static_pod
from minik.kubelet.status_manager import StatusManager, status_diff

APP = b"""apiVersion: v1
kind: Pod
metadata:
  name: app
  labels: {app: app}
spec:
  containers:
  - name: c
    image: minik/app:v1
"""


def test_static_pod_gets_node_suffix_defaults_and_a_content_hash_uid() -> None:
    pod = parse_static_pod(APP, Path("/etc/minik/manifests/app.yaml"), "worker1")
    meta = pod["metadata"]
    assert meta["name"] == "app-worker1" and meta["namespace"] == "default"
    assert pod["spec"]["nodeName"] == "worker1"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert pod["spec"]["restartPolicy"] == "Always" and "serviceAccountName" not in pod["spec"]
    assert meta["annotations"]["kubernetes.io/config.source"] == "file"
    assert meta["annotations"]["kubernetes.io/config.hash"] == meta["uid"]
    again = parse_static_pod(APP, Path("/etc/minik/manifests/app.yaml"), "worker1")
    assert again["metadata"]["uid"] == meta["uid"]
    edited = parse_static_pod(APP.replace(b"app:v1", b"app:v2"), Path("/etc/minik/manifests/app.yaml"), "worker1")
    assert edited["metadata"]["uid"] != meta["uid"]
    assert parse_static_pod(APP, Path("/etc/minik/manifests/app.yaml"), "worker2")["metadata"]["uid"] != meta["uid"]
    mirror = build_mirror_pod(pod, {"metadata": {"name": "worker1", "uid": "node-uid"}})
    assert mirror["metadata"]["annotations"]["kubernetes.io/config.mirror"] == meta["uid"]
    assert mirror["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "worker1",
                                                      "uid": "node-uid", "controller": True}]
    assert "uid" not in mirror["metadata"]


@pytest.mark.parametrize(("raw", "message"), [
    (b"kind: Pod\napiVersion: v1\nspec: [", "not valid YAML or JSON"),
    (b"apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", "not a v1 Pod"),
    (b"apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {containers: []}\n", "metadata.name is required"),
    (b"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: []}\n", "invalid pod"),
    (APP + b"---\n" + APP, "exactly one Pod"),
    (b"\xff\xfe", "not valid YAML or JSON"),
])
def test_bad_manifests_are_refused_with_a_reason(raw: bytes, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_static_pod(raw, Path("/m/bad.yaml"), "worker1")


def test_static_pod_source_reports_changes_and_errors(tmp_path: Path) -> None:
    seen: list[list[dict[str, Any]]] = []
    errors: list[str] = []
    source = StaticPodSource(tmp_path, "n1", seen.append, errors.append)
    source.scan()
    assert seen == [[]]
    (tmp_path / "app.yaml").write_bytes(APP)
    (tmp_path / "bad.yaml").write_bytes(b"nope: [")
    (tmp_path / ".hidden.yaml").write_bytes(b"nope: [")
    (tmp_path / "notes.txt").write_bytes(b"not a manifest")
    source.scan()
    assert [p["metadata"]["name"] for p in seen[-1]] == ["app-n1"] and len(errors) == 1
    source.scan()
    assert len(seen) == 2 and len(errors) == 1  # nothing changed: no new report
    (tmp_path / "app.yaml").unlink()
    source.scan()
    assert seen[-1] == []


class FakePatcher:
    def __init__(self, stored: dict[str, Any]) -> None:
        self.stored = stored
        self.patches: list[dict[str, Any]] = []

    def patch(self, r: Any, name: str, body: Any, namespace: str | None = None, **kw: Any) -> dict[str, Any]:
        if self.stored is None:
            raise NotFoundError(f'pods "{name}" not found')
        self.patches.append(body)
        status = {**self.stored["status"], **body["status"]}
        self.stored = {**self.stored, "metadata": {**self.stored["metadata"], "resourceVersion": "2"},
                       "status": {k: v for k, v in status.items() if v is not None}}
        return self.stored


def test_status_manager_writes_only_what_changed() -> None:
    pod = {"metadata": {"name": "web", "namespace": "ns", "uid": "u1", "resourceVersion": "1"},
           "status": {"phase": "Pending", "nominatedNodeName": "n1", "reason": "Old"}}
    client = FakePatcher(pod)
    manager = StatusManager(client, lambda p: client.stored)
    assert manager.old_status(pod)["phase"] == "Pending"
    new = {"phase": "Running", "conditions": []}
    assert manager.set_pod_status(pod, new)
    assert client.patches == [{"status": {"phase": "Running", "conditions": [], "reason": None}}]
    assert not manager.set_pod_status(pod, new)  # the API already holds it
    assert manager.get_pod_status("u1") == new
    assert status_diff({"phase": "Running"}, {"phase": "Running", "nominatedNodeName": "x"}) == {}


def test_pod_workers_never_sync_one_pod_twice_at_once() -> None:
    """Updates during a sync are coalesced into exactly one more sync, never a concurrent one."""
    counts: dict[str, int] = {}
    active: dict[str, int] = {}
    overlaps: list[str] = []
    started, release = threading.Event(), threading.Event()
    lock = threading.Lock()

    def sync(uid: str) -> WorkResult:
        with lock:
            counts[uid] = counts.get(uid, 0) + 1
            active[uid] = active.get(uid, 0) + 1
            if active[uid] > 1:
                overlaps.append(uid)
            first = counts[uid] == 1
        if first and uid == "a":
            started.set()
            release.wait(10)
        with lock:
            active[uid] -= 1
        return WorkResult(done=uid == "b" or counts[uid] >= 2)  # b: another pod, never held up by a

    workers = PodWorkers(sync, resync_interval=60)
    try:
        workers.update("a")
        assert started.wait(10)
        for _ in range(10):
            workers.update("a")
            workers.update("b")
        assert counts["a"] == 1  # still inside the first sync: the updates wait
        release.set()
        wait_for(lambda: not workers.is_working("a") and not workers.is_working("b"),
                 message="both workers finished")
        assert counts["a"] == 2 and counts["b"] >= 1 and not overlaps
    finally:
        release.set()
        workers.stop()
