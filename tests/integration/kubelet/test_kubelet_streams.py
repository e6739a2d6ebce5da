"""Logs and exec through the API: minictl -> apiserver -> the node's kubelet -> the container."""

from __future__ import annotations

import asyncio

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
