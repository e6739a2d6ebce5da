"""The runtime's NetworkPlugin hook with CNINetwork: a sandbox gets an IP from the node's pod CIDR.

This is the path the kubelet depends on: run_pod_sandbox -> CNI ADD -> the IP in the sandbox
status (reported as podIP); remove_pod_sandbox -> CNI DEL -> the IP is free again.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from netlab import Lab, Node, ping

from minik.cni.network import CNINetwork
from minik.runtime.cleanup import remove_root
from minik.runtime.service import Runtime
from minik.runtime.state import CRIError

pytestmark = pytest.mark.root


@pytest.fixture
def node(lab: Lab) -> Node:
    return lab.node("10.244.31.0/24")


@pytest.fixture
def runtime(node: Node) -> Iterator[Runtime]:
    root = Path(tempfile.mkdtemp(prefix=f"minik-test-{os.getpid()}-runtime-"))
    rt: Runtime | None = None
    try:
        rt = Runtime(root, cgroup_parent=f"minik-test-{os.getpid()}-cg-{secrets.token_hex(3)}",
                     network=CNINetwork(node.conf, node_netns=node.netns))
        yield rt
    finally:
        if rt is not None:
            for sandbox in rt.list_pod_sandbox():
                rt.remove_pod_sandbox(sandbox["id"])
        remove_root(root)
        if rt is not None:
            rt.cgroups.remove_parent()


def ipam_ips(node: Node) -> set[str]:
    directory = Path(node.conf["ipam"]["dataDir"]) / node.conf["name"]
    return {p.name for p in directory.iterdir() if p.name[0].isdigit()}


def test_sandbox_gets_a_pod_ip_and_gives_it_back(runtime: Runtime, node: Node) -> None:
    meta = {"name": "web", "namespace": "default", "uid": secrets.token_hex(4)}
    sandbox_id = runtime.run_pod_sandbox({"metadata": meta})

    ip = runtime.pod_sandbox_status(sandbox_id)["status"]["network"]["ip"]
    assert ip.startswith("10.244.31.") and ip != node.gateway
    assert ipam_ips(node) == {ip}
    assert ping(node.netns, ip), "the node cannot reach the sandbox's IP"

    runtime.stop_pod_sandbox(sandbox_id)
    assert ipam_ips(node) == set()
    runtime.remove_pod_sandbox(sandbox_id)


def test_failed_network_setup_fails_the_sandbox_and_leaks_nothing(runtime: Runtime, node: Node) -> None:
    node.conf["ipam"]["subnet"] = "10.244.32.0/30"  # one pod address
    node.conf["ipam"]["gateway"] = "10.244.32.1"
    first = runtime.run_pod_sandbox({"metadata": {"name": "a", "namespace": "default", "uid": "u1"}})
    with pytest.raises(CRIError, match="no IP addresses available"):
        runtime.run_pod_sandbox({"metadata": {"name": "b", "namespace": "default", "uid": "u2"}})
    assert [s["id"] for s in runtime.list_pod_sandbox()] == [first]
    assert len(ipam_ips(node)) == 1



def test_sandboxes_created_at_once_get_distinct_ips_and_removal_leaves_nothing(runtime: Runtime, node: Node) -> None:
    """A burst of pods: sandboxes are created in parallel (no runtime-wide lock), IPAM still hands
    out each address once, and a list during the burst never trips over a half-created one."""
    count = 10
    ids: list[str] = []
    errors: list[BaseException] = []
    listed: list[int] = []

    def create(index: int) -> None:
        try:
            meta = {"name": f"burst-{index}", "namespace": "default", "uid": secrets.token_hex(4)}
            ids.append(runtime.run_pod_sandbox({"metadata": meta}))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        listed.append(len(runtime.list_pod_sandbox()))  # concurrent relists see whole records only
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(ids) == count

    statuses = [runtime.pod_sandbox_status(i)["status"] for i in ids]
    assert all(s["state"] == "SANDBOX_READY" for s in statuses)
    ips = {s["network"]["ip"] for s in statuses}
    assert len(ips) == count and all(ip.startswith("10.244.31.") for ip in ips)
    assert ipam_ips(node) == ips
    assert all(ping(node.netns, ip) for ip in ips)

    removers = [threading.Thread(target=runtime.remove_pod_sandbox, args=(i,)) for i in ids]
    for thread in removers:
        thread.start()
    for thread in removers:
        thread.join()
    assert runtime.list_pod_sandbox() == []
    assert ipam_ips(node) == set()
    assert list((runtime.root / "sandboxes").iterdir()) == []
    veths = subprocess.run(["ip", "netns", "exec", node.netns, "ip", "-o", "link", "show"],
                           capture_output=True, text=True, check=True).stdout
    assert "minikv" not in veths


def test_remove_waits_for_a_sandbox_being_created(runtime: Runtime, node: Node) -> None:
    """A remove that races a creation (the pod was deleted meanwhile) waits for it, then removes
    all of it: nothing is torn down under its creator, nothing leaks."""
    meta = {"name": "raced", "namespace": "default", "uid": secrets.token_hex(4)}
    created: list[str] = []
    seen: set[str] = set()
    thread = threading.Thread(target=lambda: created.append(runtime.run_pod_sandbox({"metadata": meta})))
    thread.start()
    while thread.is_alive():
        for item in runtime.list_pod_sandbox():
            seen.add(item["id"])
            runtime.remove_pod_sandbox(item["id"])
    thread.join()
    assert len(created) == 1
    runtime.remove_pod_sandbox(created[0])  # if no list saw it in time
    assert seen <= set(created)
    assert runtime.list_pod_sandbox() == []
    assert ipam_ips(node) == set()
    assert list((runtime.root / "sandboxes").iterdir()) == []
