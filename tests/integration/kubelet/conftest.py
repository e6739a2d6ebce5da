"""A one-node setup for the kubelet tests: the session apiserver, a real runtime daemon, a real kubelet.

The runtime daemon (temp root and cgroup parent named minik-test-<pid>-*, lab images built once) serves
the whole session. Each test gets its own node (`node` fixture): a unique Node name with its own
credential in the apiserver's token file, its own kubelet root dir and static pod dir, and a kubelet
running in this process with short periods and back-offs. Afterwards the test's pods are force
deleted, the kubelet stopped, its runtime pods removed, the Node and its token row deleted, the dirs
removed, pass or fail. Leftovers of a killed earlier run are swept first.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # kubelet_node.py, in every pytest import mode

from kubelet_node import RuntimeDaemon, TestNode, start_node  # noqa: E402
from util import wait_for  # noqa: E402

from minik.runtime.cgroups import open_cgroups  # noqa: E402
from minik.runtime.cleanup import clean_stale_test_leftovers, remove_root  # noqa: E402
from minik.runtime.client import RuntimeClient  # noqa: E402


@pytest.fixture(scope="session")
def runtime_daemon() -> Iterator[RuntimeDaemon]:
    if os.geteuid() != 0:
        pytest.skip("needs root (the kernel parts of minik do): run the suite as root")
    clean_stale_test_leftovers()
    root = Path(tempfile.mkdtemp(prefix=f"minik-test-{os.getpid()}-kubelet-rt-"))
    cgroup_parent = f"minik-test-{os.getpid()}-kcg-{secrets.token_hex(3)}"
    socket = f"unix://{root}/runtime.sock"
    log = open(root / "daemon.log", "ab")  # noqa: SIM115 - the daemon keeps it
    proc = subprocess.Popen(
        [sys.executable, "-m", "minik", "runtime", "--root", str(root / "state"), "--listen", socket,
         "--cgroup-parent", cgroup_parent, "--build-lab-images"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    client = RuntimeClient(socket, timeout=120)
    try:
        wait_for(lambda: proc.poll() is None and client.version()["runtime_name"] == "minik", timeout=120,
                 message="the runtime daemon serving (with lab images)")
        yield RuntimeDaemon(root, socket, cgroup_parent, client, proc)
    finally:
        try:
            for sandbox in client.list_pod_sandbox():
                client.remove_pod_sandbox(sandbox["id"])
        except Exception:  # noqa: BLE001 - the daemon may be gone; remove_root cleans up below
            pass
        client.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        remove_root(root)
        open_cgroups(cgroup_parent).remove_parent()


@pytest.fixture
def node(apiserver, client, runtime_daemon: RuntimeDaemon, ns: str) -> Iterator[TestNode]:  # noqa: ANN001
    """A node with an in-process kubelet, removed with everything it ran after the test.

    It depends on `ns` so that it is torn down first: its pods are gone before the namespace goes.
    """
    runtime_daemon.check_alive()
    test_node = start_node(apiserver, client, runtime_daemon)
    try:
        yield test_node
    finally:
        test_node.tear_down()


@pytest.fixture
def process_node(apiserver, client, runtime_daemon: RuntimeDaemon, ns: str) -> Iterator[TestNode]:  # noqa: ANN001
    """A node whose kubelet is a `minik kubelet` subprocess (for kill -9)."""
    runtime_daemon.check_alive()
    test_node = start_node(apiserver, client, runtime_daemon, in_process=False)
    try:
        test_node.start_process()
        test_node.wait_registered()
        yield test_node
    finally:
        test_node.tear_down()
