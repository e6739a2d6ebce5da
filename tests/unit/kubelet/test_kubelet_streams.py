"""The exec stream channels, log reading with Kubernetes' options, and node credentials."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from minik.api.errors import BadRequestError
from minik.apiserver.auth import TokenAuthenticator, UserInfo, node_restriction
from minik.apiserver.nodeproxy import kubelet_address, resolve_container
from minik.kubelet import streams
from minik.kubelet.logs import LogOptions, LogOptionsError, LogReader, parse_log_options, parse_time, stream_log
from minik.runtime.logs import LogWriter, format_record


def test_channel_frames_and_subprotocol_negotiation() -> None:
    assert streams.frame(streams.STDOUT, b"hello") == b"\x01hello"
    assert streams.split_frame(b"\x02oops") == (streams.STDERR, b"oops")
    assert streams.split_frame(b"\x03") == (streams.ERROR, b"")
    assert streams.split_frame(b"") is None  # older clients' hello, no channel
    assert streams.resize_frame(80, 24) == b'\x04{"Width": 80, "Height": 24}'
    assert streams.close_frame(streams.STDIN) == b"\xff\x00"
    # kubectl >= 1.30 offers v5 only; older clients list several, newest first
    assert streams.negotiate(["v5.channel.k8s.io"]) == "v5.channel.k8s.io"
    assert streams.negotiate(["v4.channel.k8s.io", "v5.channel.k8s.io"]) == "v5.channel.k8s.io"
    assert streams.negotiate(["v4.channel.k8s.io", "v3.channel.k8s.io"]) == "v4.channel.k8s.io"
    assert streams.negotiate(["channel.k8s.io", "base64.channel.k8s.io"]) is None
    assert streams.websocket_url("https://10.0.0.1:6443/", "/api/v1/x?a=b") == "wss://10.0.0.1:6443/api/v1/x?a=b"
    assert streams.websocket_url("http://[::1]:8080", "/exec/a") == "ws://[::1]:8080/exec/a"


def test_exit_status_is_kubernetes_shaped() -> None:
    assert streams.exit_status(["true"], 0) == {"metadata": {}, "status": "Success"}
    failed = streams.exit_status(["sh", "-c", "exit 3"], 3)
    assert failed["reason"] == "NonZeroExitCode"
    assert failed["message"] == ("command terminated with non-zero exit code: error executing command "
                                 "[sh -c exit 3], exit code 3")
    assert streams.exit_code_of(failed) == 3 and streams.exit_code_of(streams.success_status()) == 0
    assert streams.exit_code_of(streams.failure_status("boom")) == 1
    assert streams.exec_query(["ls", "-l /x"], "app", stdin=True, tty=True) == (
        "command=ls&command=-l%20%2Fx&container=app&stdin=true&stdout=true&stderr=false&tty=true")


def _write_log(path: Path, lines: list[tuple[str, str]], rotate_after: int | None = None) -> None:
    clock = iter(range(1_700_000_000_000_000_000, 1_800_000_000_000_000_000, 1_000_000_000))
    writer = LogWriter(path, max_size=10_000_000, clock=lambda: next(clock))
    for index, (stream, text) in enumerate(lines):
        writer.write(stream, text.encode() + b"\n")
        if rotate_after is not None and index == rotate_after:
            writer.rotate()
    writer.close()


def test_log_reader_joins_partial_records_across_rotation(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    _write_log(path, [("stdout", "one"), ("stderr", "two"), ("stdout", "three")], rotate_after=0)
    with open(path, "ab") as f:
        f.write(format_record("stdout", b"fou", True) + format_record("stdout", b"r", False) + b"garbage line\n")
    reader = LogReader(path)
    lines = [content for _, _, content in reader.read_existing()]
    assert lines == [b"one", b"two", b"three", b"four"]
    with open(path, "ab") as f:
        f.write(format_record("stdout", b"five", False))
    assert [c for _, _, c in reader.read_new()] == [b"five"]
    reader.close()


def test_log_options_parse_like_kubernetes() -> None:
    opts = parse_log_options({"follow": "true", "tailLines": "3", "timestamps": "1", "limitBytes": "10",
                              "sinceTime": "2023-11-14T22:13:20Z"})
    assert (opts.follow, opts.tail_lines, opts.timestamps, opts.limit_bytes) == (True, 3, True, 10)
    assert opts.since == parse_time("2023-11-14T22:13:20.000000000Z") == 1700000000.0
    for bad in ({"tailLines": "x"}, {"limitBytes": "0"}, {"sinceSeconds": "-1"}, {"sinceTime": "yesterday"}):
        with pytest.raises(LogOptionsError):
            parse_log_options(bad)


def test_stream_log_tail_since_timestamps_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    _write_log(path, [("stdout", f"line {i}") for i in range(1, 6)])

    def run(opts: LogOptions) -> bytes:
        out: list[bytes] = []

        async def send(data: bytes) -> None:
            out.append(data)

        async def running() -> bool:
            return False

        asyncio.run(stream_log(path, opts, running, send))
        return b"".join(out)

    assert run(LogOptions()) == b"line 1\nline 2\nline 3\nline 4\nline 5\n"
    assert run(LogOptions(tail_lines=2)) == b"line 4\nline 5\n"
    assert run(LogOptions(tail_lines=0)) == b""
    assert run(LogOptions(since=1_700_000_003.0)) == b"line 4\nline 5\n"
    assert run(LogOptions(tail_lines=1, timestamps=True)) == b"2023-11-14T22:13:24.000000000Z line 5\n"
    assert run(LogOptions(limit_bytes=9)) == b"line 1\nli"
    assert run(LogOptions(follow=True)).endswith(b"line 5\n")  # the container is gone: follow ends


def test_node_restriction_limits_a_node_to_its_own_objects() -> None:
    kubelet = UserInfo("system:node:worker1", groups=("system:nodes",))
    admin = UserInfo("system:admin", groups=("system:masters",))
    mine = {"spec": {"nodeName": "worker1"}}
    theirs = {"spec": {"nodeName": "worker2"}}
    assert node_restriction(admin, "DELETE", "nodes", None, "worker2", None) is None
    assert node_restriction(kubelet, "GET", "pods", "ns", None, None) is None
    assert node_restriction(kubelet, "PATCH", "nodes", None, "worker1", "status") is None
    assert node_restriction(kubelet, "PATCH", "nodes", None, "worker2", "status") is not None
    assert node_restriction(kubelet, "PUT", "leases", "kube-node-lease", "worker1", None) is None
    assert node_restriction(kubelet, "PUT", "leases", "kube-node-lease", "worker2", None) is not None
    assert node_restriction(kubelet, "PATCH", "pods", "ns", "p", "status", stored=mine) is None
    assert node_restriction(kubelet, "PATCH", "pods", "ns", "p", "status", stored=theirs) is not None
    assert node_restriction(kubelet, "PATCH", "pods", "ns", "p", None, stored=mine) is not None  # no spec changes
    assert node_restriction(kubelet, "DELETE", "pods", "ns", "p", None, stored=mine) is None
    mirror = {"metadata": {"annotations": {"kubernetes.io/config.mirror": "h"}}, "spec": {"nodeName": "worker1"}}
    assert node_restriction(kubelet, "POST", "pods", "ns", None, None, body=mirror) is None
    assert node_restriction(kubelet, "POST", "pods", "ns", None, None, body=mine) is not None
    assert node_restriction(kubelet, "POST", "events", "ns", None, None) is None
    assert node_restriction(kubelet, "DELETE", "deployments", "ns", "d", None) is not None


def test_token_file_is_reloaded_and_node_tokens_are_found(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text('admintoken,system:admin,admin,"system:masters"\n')
    auth = TokenAuthenticator.from_file(str(path))
    assert auth.authenticate("Bearer nodetoken") is None
    with path.open("a") as f:
        f.write('nodetoken,system:node:w1,w1,"system:nodes"\n')
    user = auth.authenticate("Bearer nodetoken")
    assert user is not None and user.name == "system:node:w1" and user.groups == ("system:nodes",)
    assert auth.token_for("system:node:w1") == "nodetoken" and auth.admin_token() == "admintoken"
    path.write_bytes(b"\xff\xfe broken")  # a broken file keeps the old table
    assert auth.authenticate("Bearer nodetoken") is not None


def test_node_proxy_picks_the_container_and_the_kubelet_address() -> None:
    pod = {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}],
                                                 "initContainers": [{"name": "i"}]}}
    assert resolve_container(pod, "i") == "i"
    with pytest.raises(BadRequestError, match=r"choose one of: \[a b\] or one of the init containers: \[i\]"):
        resolve_container(pod, None)
    with pytest.raises(BadRequestError, match="container c is not valid for pod web"):
        resolve_container(pod, "c")
    node = {"metadata": {"name": "w1"}, "status": {"addresses": [{"type": "Hostname", "address": "w1"},
                                                                 {"type": "InternalIP", "address": "10.0.0.11"}],
                                                   "daemonEndpoints": {"kubeletEndpoint": {"Port": 10251}}}}
    assert kubelet_address(node) == ("10.0.0.11", 10251)
    assert json.dumps(kubelet_address({"status": {"addresses": [{"type": "Hostname", "address": "w2"}]}})) \
        == '["w2", 10250]'
