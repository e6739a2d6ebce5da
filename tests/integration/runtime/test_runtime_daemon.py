"""The `minik runtime` daemon over its unix socket, driven by RuntimeClient as the kubelet will."""

from __future__ import annotations

import json
import os
import pty
import secrets
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from util import wait_for

from minik.runtime.cgroups import open_cgroups
from minik.runtime.cleanup import remove_root
from minik.runtime.client import RuntimeClient
from minik.runtime.crictl import main as crictl_main
from minik.runtime.state import CRIError, NotFoundError

pytestmark = pytest.mark.root


class Daemon:
    def __init__(self, root: Path, cgroup_parent: str) -> None:
        self.root = root
        self.cgroup_parent = cgroup_parent
        self.socket = f"unix://{root}/runtime.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> RuntimeClient:
        log = open(self.root / "daemon.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "minik", "runtime", "--root", str(self.root / "state"), "--listen", self.socket,
             "--cgroup-parent", self.cgroup_parent, *extra],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        client = RuntimeClient(self.socket, timeout=60)
        wait_for(lambda: client.version()["runtime_name"] == "minik", message="the runtime daemon serving")
        return client

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    root = Path(tempfile.mkdtemp(prefix=f"minik-test-{os.getpid()}-daemon-"))
    d = Daemon(root, f"minik-test-{os.getpid()}-daemon-{secrets.token_hex(3)}")
    try:
        yield d
    finally:
        d.stop()
        remove_root(root)
        open_cgroups(d.cgroup_parent).remove_parent()


def crictl(socket: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = crictl_main(["-r", socket, *args])
    return code, capsys.readouterr().out


def check_crictl(socket: str, sandbox: str, container: str, pid: int, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = crictl(socket, capsys, "ps")
    assert code == 0 and container[:13] in out and "Running" in out and "daemon-pod" in out
    assert sandbox[:13] in crictl(socket, capsys, "pods")[1]
    assert "minik/app" in crictl(socket, capsys, "images")[1]
    assert container[:13] in crictl(socket, capsys, "stats")[1]
    code, out = crictl(socket, capsys, "inspect", container[:12])
    info = json.loads(out)["info"]
    assert info["pid"] == pid
    assert info["namespaces"]["net"] == os.stat(f"/proc/{pid}/ns/net").st_ino
    assert info["cgroup"]["limits"] and all("minik-test-" in d for d in info["cgroup"]["dirs"].values())
    assert {"lowerdir", "upperdir", "workdir", "merged"} <= set(info["overlay"])
    pod = json.loads(crictl(socket, capsys, "inspect", sandbox)[1])
    assert pod["status"]["state"] == "SANDBOX_READY" and pod["info"]["namespace_inodes"]["net"] == \
        info["namespaces"]["net"]
    assert "minik app v1 listening on port 8080" in crictl(socket, capsys, "logs", container)[1]
    assert crictl(socket, capsys, "exec", container, "cat", "/app/VERSION") == (0, "v1\n")
    assert crictl(socket, capsys, "inspect", "0" * 64)[0] == 1
    assert "hi-2" in interactive_shell(socket, container, b"echo hi-$((1+1)); exit 0\n")


def interactive_shell(socket: str, container: str, keystrokes: bytes) -> str:
    """`minik crictl exec -it ID sh` on a real terminal (a pty), typing `keystrokes`."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "minik.runtime.crictl", "-r", socket, "exec", "-it", container,
                             "sh"], stdin=follower, stdout=follower, stderr=follower, start_new_session=True)
    os.close(follower)
    os.write(leader, keystrokes)
    output = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not select.select([leader], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the shell exited and closed the terminal
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(leader)
        if proc.poll() is None and time.monotonic() >= deadline:
            proc.kill()
        assert proc.wait(timeout=30) == 0
    return output.decode(errors="replace")


def test_kubelet_style_pod_lifecycle_through_the_socket(daemon: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    client = daemon.start("--build-lab-images")
    assert oct(os.stat(daemon.socket[len("unix://"):]).st_mode & 0o777) == "0o600"
    assert client.image_status({"image": "busybox"})["image"]["repo_tags"] == ["docker.io/library/busybox:latest"]
    assert client.image_status({"image": "minik/absent:v1"})["image"] is None
    sandbox_config = {"metadata": {"name": "daemon-pod", "namespace": "default", "uid": "u-1", "attempt": 0},
                      "labels": {"app": "demo"}}
    sandbox = client.run_pod_sandbox(sandbox_config)
    config = {"metadata": {"name": "app"}, "image": {"image": "minik/app:v1"}, "labels": {"role": "web"}}
    container = client.create_container(sandbox, config, sandbox_config)
    client.start_container(container)
    assert [c["id"] for c in client.list_containers({"label_selector": {"role": "web"}})] == [container]
    assert [s["id"] for s in client.list_pod_sandbox({"label_selector": {"app": "demo"}})] == [sandbox]
    result = wait_for(lambda: (r := client.exec_sync(container, ["wget", "-qO-", "http://127.0.0.1:8080/"], 10))
                      ["exit_code"] == 0 and r, message="the app answering inside the pod")
    assert result["stdout"] == b"You've hit daemon-pod (v1)\n" and result["stderr"] == b""
    pid = client.container_status(container, verbose=True)["info"]["pid"]
    check_crictl(daemon.socket, sandbox, container, pid, capsys)

    daemon.stop()  # the daemon goes away; the container does not
    assert os.path.exists(f"/proc/{pid}")
    client = daemon.start()
    status = client.container_status(container, verbose=True)
    assert status["status"]["state"] == "CONTAINER_RUNNING" and status["info"]["pid"] == pid

    client.stop_container(container, 5)
    assert client.container_status(container)["status"]["state"] == "CONTAINER_EXITED"
    with pytest.raises(NotFoundError):
        client.container_status("0" * 64)
    with pytest.raises(CRIError, match="not present"):
        client.create_container(sandbox, {"metadata": {"name": "x"}, "image": {"image": "minik/absent:v1"}})
    client.stop_pod_sandbox(sandbox)
    assert client.pod_sandbox_status(sandbox)["status"]["state"] == "SANDBOX_NOTREADY"
    client.remove_pod_sandbox(sandbox)
    client.remove_pod_sandbox(sandbox)  # idempotent
    assert client.list_pod_sandbox() == [] and client.list_containers() == []
