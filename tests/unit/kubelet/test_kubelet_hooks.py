"""Lifecycle hooks: what each handler does, the messages of failures, and how preStop and postStart sit in
the kill and the start (a fake runtime records the order of exec and stop)."""

from __future__ import annotations

import http.server
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kubelet_fakes import make_pod  # noqa: E402

from minik.kubelet.container import PodContext, generate_container_config, restore_container_spec  # noqa: E402
from minik.kubelet.lifecycle import HandlerRunner  # noqa: E402
from minik.kubelet.probes import ProbeTarget  # noqa: E402
from minik.kubelet.runtime_manager import MIN_GRACE_SECONDS, PodContextSource, RuntimeManager, SyncResult  # noqa: E402
from minik.kubelet.types import CONTAINER_RUNNING, POST_START_HOOK_ERROR, ContainerStatus  # noqa: E402
from minik.runtime.state import CRIError  # noqa: E402

Obj = dict[str, Any]


class FakeRuntime:
    """exec_sync answers with `exit_code` (or raises `error`); every exec and stop is recorded in order."""

    def __init__(self, exit_code: int = 0, stderr: bytes = b"", error: str = "") -> None:
        self.exit_code, self.stderr, self.error = exit_code, stderr, error
        self.calls: list[tuple[Any, ...]] = []

    def exec_sync(self, container_id: str, cmd: list[str], timeout: int | float = 0) -> dict[str, Any]:
        self.calls.append(("exec", container_id, cmd, timeout))
        if self.error:
            raise CRIError(self.error)
        return {"stdout": b"out\n", "stderr": self.stderr, "exit_code": self.exit_code}

    def pod_sandbox_status(self, pod_sandbox_id: str, verbose: bool = False) -> dict[str, Any]:
        return {"status": {"network": {"ip": "127.0.0.1"}}, "info": {}}

    def stop_container(self, container_id: str, timeout: int | float = 0) -> None:
        self.calls.append(("stop", container_id, timeout))


def target() -> ProbeTarget:
    return ProbeTarget("c1", "127.0.0.1", None, {"web": 0})


def pod_with(lifecycle: Obj, grace: int = 30, **meta: Any) -> Obj:
    pod = make_pod(terminationGracePeriodSeconds=grace)
    pod["spec"]["containers"][0]["lifecycle"] = lifecycle
    pod["metadata"].update(meta)
    return pod


def manager(runtime: FakeRuntime, events: list[tuple[str, str, str]]) -> RuntimeManager:
    none = cast(Any, None)
    return RuntimeManager(cast(Any, runtime), "node", none, none, none,
                          lambda _pod, type_, reason, message: events.append((type_, reason, message)),
                          Path("/nonexistent"), PodContextSource(lambda: "10.0.0.1", dict))


def running(name: str = "app", annotations: dict[str, str] | None = None) -> ContainerStatus:
    return ContainerStatus(id="c1", name=name, state=CONTAINER_RUNNING, sandbox_id="sb",
                           annotations=annotations or {})


# ---------------------------------------------------------------- the handlers


def test_exec_hook_runs_in_the_container_and_failures_say_why() -> None:
    runtime = FakeRuntime()
    runner = HandlerRunner(runtime)
    hook = {"exec": {"command": ["sh", "-c", "exit 3"]}}
    assert runner.run(hook, make_pod(), "app", target) == ""
    assert runtime.calls == [("exec", "c1", ["sh", "-c", "exit 3"], 0)]
    failing = HandlerRunner(FakeRuntime(exit_code=3, stderr=b"boom\n"))
    assert failing.run(hook, make_pod(), "app", target, timeout=5) == (
        'Exec lifecycle hook ([sh -c exit 3]) for Container "app" in Pod "web_ns(uid-1)" failed - error: '
        "command 'sh -c exit 3' exited with 3: boom\n, message: \"out\\nboom\\n\"")
    gone = HandlerRunner(FakeRuntime(error="container c1 is not running"))
    assert gone.run(hook, make_pod(), "app", target).endswith(
        "failed - error: container c1 is not running, message: \"\"")


@pytest.fixture
def http_server() -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """Answers every GET with 500 and records (path, User-Agent)."""
    seen: list[tuple[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            seen.append((self.path, self.headers.get("User-Agent", "")))
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def test_http_hook_succeeds_on_any_answer_and_fails_without_one(http_server: tuple[int, list]) -> None:
    port, seen = http_server
    runner = HandlerRunner(FakeRuntime())
    named = lambda: ProbeTarget("c1", "127.0.0.1", None, {"web": port})  # noqa: E731
    assert runner.run({"httpGet": {"path": "/shutdown", "port": "web"}}, make_pod(), "app", named) == ""
    assert seen == [("/shutdown", "kube-lifecycle/1.30")]  # a 500 is an answer: Kubernetes calls that success
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        free = closed.getsockname()[1]
    message = runner.run({"httpGet": {"path": "/x", "port": free}}, make_pod(), "app", named)
    assert message == (f'HTTP lifecycle hook (/x) for Container "app" in Pod "web_ns(uid-1)" failed - error: '
                       f'Get "http://127.0.0.1:{free}/x": dial tcp 127.0.0.1:{free}: connect: connection refused')


def test_sleep_hook_is_bounded_by_the_timeout_and_cut_by_a_stopping_kubelet() -> None:
    stop = threading.Event()
    runner = HandlerRunner(FakeRuntime(), stop)
    assert runner.run({"sleep": {"seconds": 3600}}, make_pod(), "app", target, timeout=0.01) == ""
    stop.set()
    assert runner.run({"sleep": {"seconds": 5}}, make_pod(), "app", target) == (
        'Sleep lifecycle hook (5) for Container "app" in Pod "web_ns(uid-1)" failed - error: '
        "container terminated before sleep hook finished")
    assert runner.run({"tcpSocket": {"port": 80}}, make_pod(), "app", target).startswith(
        "Cannot run handler: invalid handler: ")


# ---------------------------------------------------------------- preStop in the kill


def test_pre_stop_runs_before_the_stop_and_its_time_counts_against_the_grace_period() -> None:
    runtime, events = FakeRuntime(), []
    rm = manager(runtime, events)
    rm.kill_container(pod_with({"preStop": {"exec": {"command": ["nginx", "-s", "quit"]}}}), running())
    assert runtime.calls == [("exec", "c1", ["nginx", "-s", "quit"], 30), ("stop", "c1", 30)]
    assert events == [("Normal", "Killing", "Stopping container app")]

    runtime.calls.clear()
    rm.kill_container(pod_with({"preStop": {"sleep": {"seconds": 1}}}, grace=4), running())
    assert runtime.calls == [("stop", "c1", 3)]  # the second the hook slept is gone from the grace period


def test_failed_pre_stop_hook_is_an_event_and_the_kill_goes_on() -> None:
    runtime, events = FakeRuntime(exit_code=1), []
    manager(runtime, events).kill_container(pod_with({"preStop": {"exec": {"command": ["false"]}}}), running(),
                                            "Container app failed liveness probe, will be restarted")
    assert [c[0] for c in runtime.calls] == ["exec", "stop"]
    assert events == [("Normal", "Killing", "Container app failed liveness probe, will be restarted"),
                      ("Warning", "FailedPreStopHook", "PreStopHook failed")]


def test_no_pre_stop_without_a_grace_period() -> None:
    runtime = FakeRuntime()
    pod = pod_with({"preStop": {"exec": {"command": ["true"]}}}, deletionGracePeriodSeconds=0)
    manager(runtime, []).kill_container(pod, running())
    assert runtime.calls == [("stop", "c1", MIN_GRACE_SECONDS)]


def test_an_orphans_pre_stop_hook_comes_from_the_container_annotations() -> None:
    pod = pod_with({"preStop": {"exec": {"command": ["echo", "bye"]}}}, grace=7)
    spec = pod["spec"]["containers"][0]
    spec["ports"] = [{"name": "web", "containerPort": 8080}]
    ctx = PodContext(pod, "node", "127.0.0.1")
    annotations = generate_container_config(spec, pod, ctx, 0, "busybox", [], "app/0.log")["annotations"]
    assert restore_container_spec("app", annotations) == {"name": "app", "ports": spec["ports"],
                                                          "lifecycle": spec["lifecycle"]}
    runtime = FakeRuntime()
    manager(runtime, []).kill_container(None, running(annotations=annotations))
    assert runtime.calls == [("exec", "c1", ["echo", "bye"], 7), ("stop", "c1", 7)]


# ---------------------------------------------------------------- postStart in the start


def test_failed_post_start_hook_kills_the_container_and_leaves_its_reason() -> None:
    runtime, events = FakeRuntime(exit_code=1), []
    pod = pod_with({"postStart": {"exec": {"command": ["false"]}}})
    result = SyncResult()
    started = manager(runtime, events)._run_post_start_hook(pod, pod["spec"]["containers"][0], "c1", "sb", result)
    assert started is False
    assert [c[0] for c in runtime.calls] == ["exec", "stop"]
    assert events == [("Warning", "FailedPostStartHook", "PostStartHook failed"),
                      ("Normal", "Killing", "FailedPostStartHook")]
    reason = result.reasons["app"]
    assert reason.reason == POST_START_HOOK_ERROR
    assert reason.message.startswith('Exec lifecycle hook ([false]) for Container "app" in Pod "web_ns(uid-1)" '
                                     "failed - error: command 'false' exited with 1: ")
    ok = FakeRuntime()
    assert manager(ok, [])._run_post_start_hook(pod, pod["spec"]["containers"][0], "c1", "sb", SyncResult())
    assert [c[0] for c in ok.calls] == ["exec"]
