"""`minik token create` on a control plane, `minik join` on a "VM": a network namespace plugged into the
lab bridge, with its own address and default route, like a machine on the same L2 segment. The joined
node runs pods scheduled to it, and `minik down` on the VM removes its processes again.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from labcluster import MINIK, NODES, PODS, TEST_LAB_CIDR, LabCluster, explain, node_ready, running
from util import wait_for

from minik.cluster.components import all_components, component_names
from minik.cluster.config import load_saved
from minik.cluster.labnet import LAB_BRIDGE
from minik.cluster.process import find_strays, read_cmdline

pytestmark = [pytest.mark.root, pytest.mark.etcd]

VM_NAME = "vm1"
VM_IP = "10.79.0.50"
GATEWAY = "10.79.0.1"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    assert not check or result.returncode == 0, explain(result)
    return result


class FakeVM:
    """A network namespace on the lab bridge: what labnet builds for a worker, made by hand here."""

    def __init__(self, root: Path) -> None:
        self.netns = f"minik-test-vm-{os.getpid()}"
        self.link = f"minik-v{os.getpid()}"[:15]
        self.state = root / "vm-state"
        prefix = TEST_LAB_CIDR.split("/")[1]
        ip("netns", "add", self.netns)
        ip("link", "add", self.link, "type", "veth", "peer", "name", "eth0", "netns", self.netns)
        ip("link", "set", self.link, "master", LAB_BRIDGE, "up")
        inside = ("netns", "exec", self.netns, "ip")
        ip(*inside, "link", "set", "lo", "up")
        ip(*inside, "addr", "add", f"{VM_IP}/{prefix}", "dev", "eth0")
        ip(*inside, "link", "set", "eth0", "up")
        ip(*inside, "route", "add", "default", "via", GATEWAY)

    def run(self, lab: LabCluster, argv: list[str], timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """A command on the VM: inside its network namespace, like over ssh."""
        return lab.run(["nsenter", f"--net=/run/netns/{self.netns}", *argv], timeout=timeout, check=False)

    def remove(self) -> None:
        ip("netns", "del", self.netns, check=False)
        ip("link", "del", self.link, check=False)


@pytest.fixture
def lab() -> Iterator[LabCluster]:
    cluster = LabCluster(nodes=0)
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def vm(lab: LabCluster) -> Iterator[FakeVM]:
    machine = FakeVM(lab.root)
    try:
        yield machine
    finally:
        if machine.state.exists():
            machine.run(lab, [*MINIK, "down", "--state-dir", str(machine.state)], timeout=180)
        machine.remove()


def test_a_vm_joins_runs_its_pods_and_leaves_cleanly(lab: LabCluster, vm: FakeVM) -> None:
    created = lab.minik("token", "create", "--state-dir", str(lab.state), "--print-join-command")
    command = shlex.split(created.stdout.strip())
    assert command[:3] == ["minik", "join", "--server"] and "--ca-cert-hash" in command, created.stdout
    assert lab.minik("token", "list", "--state-dir", str(lab.state)).stdout.count("system:bootstrappers") == 1

    joined = vm.run(lab, [*MINIK, *command[1:], "--no-service", "--node-name", VM_NAME,
                          "--node-ip", VM_IP, "--state-dir", str(vm.state)])
    assert joined.returncode == 0, explain(joined) + lab.logs_tail()
    assert "This node has joined the cluster" in joined.stdout

    node = lab.client.get(NODES, VM_NAME)
    assert node_ready(node) == "True"
    assert {"type": "InternalIP", "address": VM_IP} in node["status"]["addresses"]
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "on-vm"},
        "spec": {"nodeSelector": {"kubernetes.io/hostname": VM_NAME},
                 "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]},
    }  # fmt: skip
    lab.client.create(PODS, pod, "default")
    running_pod = lab.wait_pod("on-vm", running, "the pod pinned to the VM Running", timeout=120)
    assert running_pod["spec"]["nodeName"] == VM_NAME

    # the VM's components run in its namespace, each with the node's own credential
    cfg = load_saved(vm.state)
    assert cfg is not None and cfg.joined and cfg.node_name == VM_NAME
    pids = {c.name: c.process(cfg).pid() for c in all_components(cfg)}
    assert sorted(pids) == sorted([f"{VM_NAME}/{k}" for k in ("runtime", "network-agent", "kubelet", "proxy")]
                                  + ["supervise"])
    assert all(pids.values()), pids
    vm_net = os.readlink(f"/proc/{pids[f'{VM_NAME}/kubelet']}/ns/net")
    assert vm_net != os.readlink("/proc/self/ns/net")

    down = vm.run(lab, [*MINIK, "down", "--state-dir", str(vm.state)], timeout=180)
    assert down.returncode == 0, explain(down)
    for name, pid in pids.items():
        assert pid is not None
        wait_for(lambda pid=pid: read_cmdline(pid) is None, timeout=15, message=f"{name} (pid {pid}) gone")
    assert find_strays(vm.state, component_names()) == []
    assert not vm.state.exists()
