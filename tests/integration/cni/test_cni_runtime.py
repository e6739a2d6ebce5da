"""The runtime's NetworkPlugin hook with CNINetwork: a sandbox gets an IP from the node's pod CIDR.

This is the path the kubelet depends on: run_pod_sandbox -> CNI ADD -> the IP in the sandbox
status (reported as podIP); remove_pod_sandbox -> CNI DEL -> the IP is free again.
"""

from __future__ import annotations

import os
import secrets
import tempfile
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

