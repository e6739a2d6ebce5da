"""Static pods from the manifest directory, and their mirror pods in the API."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from kubelet_node import EVENTS, PODS, TestNode, condition, container_states
from util import wait_for

from minik.api.errors import NotFoundError

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[3]


def _mirror(node: TestNode, name: str) -> dict | None:
    try:
        return node.client.get(PODS, name, "default")
    except NotFoundError:
        return None


def test_static_pod_mirror_appears_updates_and_disappears_with_its_file(node: TestNode) -> None:
    """The lab's static-pod-app.yaml dropped into the node's manifest dir shows up as app-<node>."""
    name = f"app-{node.name}"
    lab = (REPO / "manifests/static/static-pod-app.yaml").read_text()
    # httpd ignores SIGTERM as PID 1: a short grace period keeps the removal below quick
    (node.manifests / "app.yaml").write_text(lab.replace("spec:\n", "spec:\n  terminationGracePeriodSeconds: 2\n"))
    mirror = wait_for(lambda: _mirror(node, name), message="the mirror pod created")
    meta = mirror["metadata"]
    assert meta["annotations"]["kubernetes.io/config.mirror"] == meta["annotations"]["kubernetes.io/config.hash"]
    assert meta["annotations"]["kubernetes.io/config.source"] == "file"
    assert meta["ownerReferences"][0]["kind"] == "Node" and meta["ownerReferences"][0]["name"] == node.name
    mirror = node.wait_pod("default", name, lambda p: condition(p, "Ready") == "True", "the static pod running")
    first_id = container_states(mirror)["app-container"]["containerID"]
    code, out, _ = node.minictl("get", "pods", "-n", "default", name)
    assert code == 0 and "Running" in out and "1/1" in out

    # editing the file replaces the pod (a new config hash, a new mirror)
    text = (node.manifests / "app.yaml").read_text().replace("minik/app:v1", "minik/app:v2")
    (node.manifests / "app.yaml").write_text(text)
    updated = node.wait_pod("default", name, lambda p: p["spec"]["containers"][0]["image"] == "minik/app:v2"
                            and condition(p, "Ready") == "True", "the edited static pod running", timeout=60)
    assert updated["metadata"]["uid"] != mirror["metadata"]["uid"]
    assert container_states(updated)["app-container"]["containerID"] != first_id

    # removing the file removes the pod and its mirror
    (node.manifests / "app.yaml").unlink()
    wait_for(lambda: _mirror(node, name) is None, message="the mirror pod deleted")
    wait_for(lambda: not node.runtime.list_pod_sandbox(
        {"label_selector": {"io.kubernetes.kubelet": node.name}}), message="the static pod's sandbox removed")


def test_deleted_mirror_pod_comes_back(node: TestNode) -> None:
    name = f"app-{node.name}"
    shutil.copy(REPO / "manifests/static/static-pod-app.yaml", node.manifests / "app.yaml")
    mirror = wait_for(lambda: _mirror(node, name), message="the mirror pod created")
    node.client.delete(PODS, name, "default")
    wait_for(lambda: (m := _mirror(node, name)) is not None and m["metadata"]["uid"] != mirror["metadata"]["uid"]
             and not m["metadata"].get("deletionTimestamp"), message="the mirror pod recreated")


def test_malformed_static_pod_file_is_reported_and_skipped(node: TestNode) -> None:
    (node.manifests / "bad.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: [oops\n")
    (node.manifests / "nameless.yaml").write_text("apiVersion: v1\nkind: Pod\nspec:\n  containers: []\n")
    shutil.copy(REPO / "manifests/static/static-pod-app.yaml", node.manifests / "app.yaml")
    wait_for(lambda: _mirror(node, f"app-{node.name}"), message="the good static pod still runs")

    def reported() -> list[str]:
        events = node.client.list(EVENTS, "default", field_selector=f"involvedObject.name={node.name}")["items"]
        return [e["message"] for e in events if e["reason"] == "FailedStaticPodManifest"]

    messages = wait_for(lambda: len(reported()) >= 2 and reported(), message="both bad files reported")
    assert any("bad.yaml: not valid YAML or JSON" in m for m in messages)
    assert any("nameless.yaml: metadata.name is required" in m for m in messages)
    assert node.kubelet is not None
    assert len(node.kubelet.pod_manager.static_pods()) == 1
