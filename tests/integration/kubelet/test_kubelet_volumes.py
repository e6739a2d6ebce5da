"""Volumes: emptyDir on disk and in memory, hostPath with its types, subPath and readOnly mounts."""

from __future__ import annotations

import pytest
from kubelet_node import PODS, TestNode, condition, container_states
from util import wait_for

from minik.runtime.cleanup import mounts_under

pytestmark = pytest.mark.root


def _exec(node: TestNode, pod: dict, *cmd: str) -> tuple[int, str]:
    container_id = container_states(pod)["app"]["containerID"].removeprefix("minik://")
    result = node.runtime.exec_sync(container_id, list(cmd), 30)
    return int(result["exit_code"]), (result["stdout"] + result["stderr"]).decode()


def test_empty_dirs_host_paths_sub_paths_and_read_only(node: TestNode, ns: str) -> None:
    host = node.workdir / "host"
    (host / "data").mkdir(parents=True)
    (host / "data" / "hello.txt").write_text("from the node\n")
    mounts = [{"name": "scratch", "mountPath": "/scratch"},
              {"name": "mem", "mountPath": "/mem"},
              {"name": "data", "mountPath": "/data", "readOnly": True},
              {"name": "scratch", "mountPath": "/sub", "subPath": "nested/dir"},
              {"name": "made", "mountPath": "/made"}]
    pod = node.pod(ns, "vols", [{"name": "app", "image": "busybox", "command": ["sleep", "3600"],
                                 "volumeMounts": mounts}],
                   volumes=[{"name": "scratch", "emptyDir": {}},
                            {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
                            {"name": "data", "hostPath": {"path": str(host / "data"), "type": "Directory"}},
                            {"name": "made", "hostPath": {"path": str(host / "made"), "type": "DirectoryOrCreate"}}],
                   terminationGracePeriodSeconds=2)
    uid = pod["metadata"]["uid"]
    pod = node.wait_pod(ns, "vols", lambda p: condition(p, "Ready") == "True", "vols running")
    assert _exec(node, pod, "cat", "/data/hello.txt") == (0, "from the node\n")
    code, out = _exec(node, pod, "touch", "/data/nope")
    assert code != 0 and "Read-only file system" in out
    assert _exec(node, pod, "sh", "-c", "echo hi > /sub/f")[0] == 0
    empty_dir = node.root_dir / "pods" / uid / "volumes" / "kubernetes.io~empty-dir"
    assert (empty_dir / "scratch" / "nested" / "dir" / "f").read_text() == "hi\n"
    code, out = _exec(node, pod, "df", "-k", "/mem")
    assert code == 0 and "tmpfs" in out and "16384" in out  # the sizeLimit is the tmpfs size
    assert (host / "made").is_dir()
    assert _exec(node, pod, "sh", "-c", "echo made > /made/x")[0] == 0 and (host / "made" / "x").exists()

    node.client.delete(PODS, "vols", ns)
    wait_for(lambda: not (node.root_dir / "pods" / uid).exists(), timeout=60,
             message="the pod's directory and emptyDirs removed with the pod")
    assert not mounts_under(node.root_dir / "pods")
    assert (host / "data" / "hello.txt").exists() and (host / "made" / "x").exists()  # hostPath data stays


def test_host_path_type_mismatch_is_failed_mount(node: TestNode, ns: str) -> None:
    missing = node.workdir / "not-there"
    node.pod(ns, "badmount", [{"name": "app", "image": "busybox", "command": ["sleep", "3600"],
                               "volumeMounts": [{"name": "d", "mountPath": "/d"}]}],
             volumes=[{"name": "d", "hostPath": {"path": str(missing), "type": "Directory"}}])

    def failed_mount() -> list[str]:
        return [e["message"] for e in node.events(ns, "badmount") if e["reason"] == "FailedMount"]

    messages = wait_for(failed_mount, message="a FailedMount event")
    assert messages[0] == (f'MountVolume.SetUp failed for volume "d" : hostPath type check failed: '
                           f"{missing} is not a directory")
    pod = node.get(ns, "badmount")
    assert pod["status"]["phase"] == "Pending"
    assert container_states(pod)["app"]["state"]["waiting"]["reason"] == "ContainerCreating"
    assert not missing.exists()
