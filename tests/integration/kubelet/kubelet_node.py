"""Helpers for the kubelet integration tests: a node (kubelet + credential + dirs) and pod shortcuts."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from util import free_port, wait_for

from minik.api.errors import NotFoundError
from minik.api.resources import require
from minik.client.kubeconfig import merge_context
from minik.client.rest import Client
from minik.kubelet.config import KubeletConfig
from minik.kubelet.kubelet import Kubelet
from minik.kubelet.types import KUBELET_MANAGED_LABEL
from minik.runtime.cleanup import remove_root
from minik.runtime.client import RuntimeClient

Obj = dict[str, Any]




PODS, NODES, LEASES, EVENTS = require("pods"), require("nodes"), require("leases"), require("events")

# short periods so the whole suite stays fast on a small machine
FAST_FLAGS = {
    "crash_loop_backoff_initial": 1.0,
    "crash_loop_backoff_max": 8.0,
    "node_status_update_frequency": 2.0,
    "lease_renew_interval": 2.0,
    "sync_frequency": 10.0,
    "file_check_frequency": 0.3,
    "pleg_relist_period": 0.5,
    "housekeeping_interval": 1.0,
}


@dataclass
class RuntimeDaemon:
    root: Path
    socket: str
    cgroup_parent: str
    client: RuntimeClient
    process: subprocess.Popen[bytes]

    def check_alive(self) -> None:
        """Fail with the daemon's own last words if it is gone (a clearer error than every RPC failing)."""
        code = self.process.poll()
        if code is not None:
            try:
                tail = "\n".join((self.root / "daemon.log").read_text(errors="replace").splitlines()[-40:])
            except OSError:
                tail = ""
            raise AssertionError(f"the runtime daemon exited with {code}; end of its log:\n{tail}")


def _token_rows(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True) if path.exists() else []


_token_lock = threading.Lock()


@dataclass
class TestNode:
    name: str
    token: str
    apiserver: Any
    client: Client
    runtime: RuntimeClient
    daemon: RuntimeDaemon
    workdir: Path
    port: int
    kubelet: Kubelet | None = None
    process: subprocess.Popen[bytes] | None = None
    extra_cleanup: list[Callable[[], None]] = field(default_factory=list)

    __test__ = False  # not a test class, whatever its name says

    # ---------------------------------------------------------------- layout

    @property
    def root_dir(self) -> Path:
        return self.workdir / "root"

    @property
    def manifests(self) -> Path:
        return self.workdir / "manifests"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubelet.kubeconfig"

    def config(self, **overrides: Any) -> KubeletConfig:
        values: dict[str, Any] = dict(FAST_FLAGS)
        values.update(overrides)
        return KubeletConfig(node_name=self.name, runtime_endpoint=self.daemon.socket, root_dir=self.root_dir,
                             pod_manifest_path=self.manifests, node_ip="127.0.0.1", address="127.0.0.1",
                             port=self.port, kubeconfig=self.kubeconfig, **values)

    # ---------------------------------------------------------------- kubelet in process or as a process

    def start_in_process(self, **overrides: Any) -> Kubelet:
        client = Client(self.apiserver.url, token=self.token, ca_data=self.apiserver.ca_data)
        runtime = RuntimeClient(self.daemon.socket, timeout=120)
        kubelet = Kubelet(self.config(**overrides), client, runtime, token=self.token)
        self.kubelet = kubelet
        kubelet.start()
        self.extra_cleanup.append(client.close)
        self.extra_cleanup.append(runtime.close)
        return kubelet

    def stop_in_process(self) -> None:
        if self.kubelet is not None:
            self.kubelet.stop()
            self.kubelet = None

    def start_process(self) -> subprocess.Popen[bytes]:
        cfg = self.config()
        argv = [sys.executable, "-m", "minik", "kubelet", "--kubeconfig", str(self.kubeconfig),
                "--node-name", self.name, "--runtime-endpoint", self.daemon.socket, "--root-dir", str(cfg.root_dir),
                "--pod-manifest-path", str(self.manifests), "--node-ip", "127.0.0.1", "--address", "127.0.0.1",
                "--port", str(self.port),
                "--crash-loop-backoff-initial", str(cfg.crash_loop_backoff_initial),
                "--crash-loop-backoff-max", str(cfg.crash_loop_backoff_max),
                "--node-status-update-frequency", str(cfg.node_status_update_frequency),
                "--node-lease-renew-interval", str(cfg.lease_renew_interval),
                "--sync-frequency", str(cfg.sync_frequency), "--file-check-frequency", str(cfg.file_check_frequency),
                "--pleg-relist-period", str(cfg.pleg_relist_period)]
        log = open(self.workdir / "kubelet.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self.process

    def wait_registered(self, timeout: float = 60) -> Obj:
        """The Node is there and Ready (a fresh heartbeat from this kubelet)."""

        def ready() -> Obj | None:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"the kubelet exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                node = self.client.get(NODES, self.name)
            except NotFoundError:
                return None
            conditions = (node.get("status") or {}).get("conditions") or []
            return node if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) else None

        return wait_for(ready, timeout=timeout, message=f"node {self.name} registered and Ready")

    def kill_process(self) -> None:
        """kill -9, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join((self.workdir / "kubelet.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # ---------------------------------------------------------------- pods

    def pod(self, namespace: str, name: str, containers: list[Obj], **spec: Any) -> Obj:
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
                "spec": {"nodeName": self.name, "containers": containers, **spec}}
        return self.client.create(PODS, body, namespace)

    def get(self, namespace: str, name: str) -> Obj:
        return self.client.get(PODS, name, namespace)

    def gone(self, namespace: str, name: str) -> bool:
        """The pod object is deleted (the kubelet finished its graceful deletion)."""
        try:
            self.get(namespace, name)
        except NotFoundError:
            return True
        return False

    def wait_pod(self, namespace: str, name: str, predicate: Callable[[Obj], Any], message: str,
                 timeout: float = 60) -> Obj:
        last: dict[str, Obj] = {}

        def check() -> Obj | None:
            pod = self.get(namespace, name)
            last["pod"] = pod
            return pod if predicate(pod) else None

        try:
            return wait_for(check, timeout=timeout, message=message)
        except AssertionError as error:
            status = (last.get("pod") or {}).get("status")
            raise AssertionError(f"{error}\nlast status: {status}") from None

    def events(self, namespace: str, name: str) -> list[Obj]:
        items = self.client.list(EVENTS, namespace, field_selector=f"involvedObject.name={name}")["items"]
        return sorted(items, key=lambda e: str(e.get("firstTimestamp") or ""))

    def event_reasons(self, namespace: str, name: str) -> list[str]:
        return [str(e.get("reason")) for e in self.events(namespace, name)]

    def runtime_containers(self, uid: str) -> list[Obj]:
        return self.runtime.list_containers({"label_selector": {"io.kubernetes.pod.uid": uid}})

    # ---------------------------------------------------------------- minictl

    def minictl(self, *argv: str, stdin: bytes | None = None) -> tuple[int, str, str]:
        """Run minictl in this process against the session apiserver (admin kubeconfig)."""
        return run_minictl(["--kubeconfig", str(self.apiserver.kubeconfig), *argv], stdin)

    # ---------------------------------------------------------------- cleanup

    def tear_down(self) -> None:
        errors: list[BaseException] = []

        def attempt(step: Callable[[], None]) -> None:
            try:
                step()
            except BaseException as error:  # noqa: BLE001 - finish every step, report the first failure
                errors.append(error)

        attempt(self.stop_in_process)
        attempt(self.kill_process)
        attempt(self._remove_runtime_pods)
        attempt(self._force_delete_pods)
        for step in self.extra_cleanup:
            attempt(step)
        attempt(self._delete_node)
        attempt(self._remove_token)
        attempt(lambda: remove_root(self.workdir))
        if errors:
            raise errors[0]

    def _force_delete_pods(self) -> None:
        pods = self.client.list(PODS, None, field_selector=f"spec.nodeName={self.name}")["items"]
        for pod in pods:
            with contextlib.suppress(NotFoundError):
                self.client.delete(PODS, pod["metadata"]["name"], pod["metadata"]["namespace"],
                                   grace_period_seconds=0)

    def _remove_runtime_pods(self) -> None:
        selector = {"label_selector": {KUBELET_MANAGED_LABEL: self.name}}
        for sandbox in self.runtime.list_pod_sandbox(selector):
            self.runtime.remove_pod_sandbox(sandbox["id"])
        for container in self.runtime.list_containers(selector):
            self.runtime.remove_container(container["id"])

    def _delete_node(self) -> None:
        with contextlib.suppress(NotFoundError):
            self.client.delete(LEASES, self.name, "kube-node-lease")
        with contextlib.suppress(NotFoundError):
            self.client.delete(NODES, self.name)

    def _remove_token(self) -> None:
        path = self.apiserver.workdir / "tokens.csv"
        with _token_lock:
            rows = [row for row in _token_rows(path) if not row.startswith(f"{self.token},")]
            path.write_text("".join(rows))


def start_node(apiserver: Any, client: Client, daemon: RuntimeDaemon, in_process: bool = True) -> TestNode:
    name = f"minik-test-node-{secrets.token_hex(4)}"
    token = secrets.token_urlsafe(24)
    workdir = Path(tempfile.mkdtemp(prefix=f"minik-test-{os.getpid()}-kubelet-"))
    node = TestNode(name, token, apiserver, client, RuntimeClient(daemon.socket, timeout=120), daemon, workdir,
                    free_port())
    node.extra_cleanup.append(node.runtime.close)
    node.manifests.mkdir()
    path = apiserver.workdir / "tokens.csv"
    with _token_lock, path.open("a") as f:
        f.write(f'{token},system:node:{name},{name},"system:nodes"\n')
    merge_context(node.kubeconfig, "minik", apiserver.url, token, apiserver.ca_data)
    if in_process:
        try:
            node.start_in_process()
            node.wait_registered()
        except BaseException:
            node.tear_down()
            raise
    return node


# ---------------------------------------------------------------- minictl

_MINICTL = """
import sys
from minik.ctl.commands import COMMANDS
from minik.ctl.commands import exec as exec_command
COMMANDS.setdefault("exec", exec_command.COMMAND)  # until exec is in minictl's command table
from minik.ctl.main import main
sys.exit(main(sys.argv[1:]))
"""


def run_minictl(argv: list[str], stdin: bytes | None = None, timeout: float = 120) -> tuple[int, str, str]:
    """minictl as a user runs it: its own process, talking to the apiserver only."""
    proc = subprocess.run([sys.executable, "-c", _MINICTL, *argv], input=stdin or b"", capture_output=True,
                          timeout=timeout, cwd="/")
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def popen_minictl(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", _MINICTL, *argv], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")


def container_states(pod: Obj, init: bool = False) -> dict[str, Obj]:
    key = "initContainerStatuses" if init else "containerStatuses"
    return {s["name"]: s for s in (pod.get("status") or {}).get(key) or []}


def condition(pod: Obj, type_: str) -> str | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return str(cond.get("status"))
    return None


def kill_signal(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
