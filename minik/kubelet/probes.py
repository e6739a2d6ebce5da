"""Running one probe: exec (through the runtime's exec_sync), httpGet and tcpSocket (from inside the
pod's network namespace, see netns.py). Results and messages are worded like the kubelet's, because
they end up in `Liveness probe failed: ...` events.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
from dataclasses import dataclass
from typing import Any, Protocol

from minik.kubelet.netns import connect
from minik.kubelet.types import Obj
from minik.runtime.state import CRIError

USER_AGENT = "kube-probe/1.30"
MAX_OUTPUT = 10 * 1024


@dataclass(frozen=True)
class ProbeOutcome:
    success: bool
    output: str = ""


class ExecRuntime(Protocol):
    def exec_sync(self, container_id: str, cmd: list[str], timeout: int | float = 0) -> dict[str, Any]: ...


class SandboxRuntime(ExecRuntime, Protocol):
    def pod_sandbox_status(self, pod_sandbox_id: str, verbose: bool = False) -> dict[str, Any]: ...


def sandbox_netns_pid(runtime: SandboxRuntime, sandbox_id: str) -> int | None:
    """The sandbox's pause process, whose network namespace network probes and hooks enter."""
    with contextlib.suppress(CRIError):
        info = runtime.pod_sandbox_status(sandbox_id, verbose=True).get("info") or {}
        return int(info.get("pause_pid") or 0) or None
    return None


@dataclass(frozen=True)
class ProbeTarget:
    """Where a probe goes: the container (for exec), the pod's IP and namespace (for network probes)."""

    container_id: str
    pod_ip: str
    netns_pid: int | None
    ports: dict[str, int]  # named container ports


def named_ports(container: Obj) -> dict[str, int]:
    """The container's named ports, for probes and hooks that give a port by name."""
    ports: dict[str, int] = {}
    for port in container.get("ports") or []:
        if isinstance(port, dict) and port.get("name") and isinstance(port.get("containerPort"), int):
            ports[str(port["name"])] = port["containerPort"]
    return ports


def resolve_port(port: Any, ports: dict[str, int]) -> int:
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    text = str(port)
    if text.isdigit():
        return int(text)
    if text in ports:
        return ports[text]
    raise ValueError(f"couldn't find port: {text} in container")


def _dial_error(host: str, port: int, error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return f"dial tcp {host}:{port}: i/o timeout"
    if isinstance(error, ConnectionRefusedError):
        return f"dial tcp {host}:{port}: connect: connection refused"
    return f"dial tcp {host}:{port}: {error}"


def exec_command(runtime: ExecRuntime, container_id: str, command: list[str], timeout: float) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a command run in the container; CRIError when it could not run."""
    result = runtime.exec_sync(container_id, command, timeout)
    stdout = bytes(result.get("stdout") or b"")[:MAX_OUTPUT].decode(errors="replace")
    stderr = bytes(result.get("stderr") or b"")[:MAX_OUTPUT].decode(errors="replace")
    return int(result.get("exit_code") or 0), stdout, stderr


def run_exec(runtime: ExecRuntime, target: ProbeTarget, action: Obj, timeout: float) -> ProbeOutcome:
    command = [str(c) for c in action.get("command") or []]
    if not command:
        return ProbeOutcome(False, "exec probe has no command")
    try:
        code, stdout, stderr = exec_command(runtime, target.container_id, command, timeout)
    except CRIError as error:
        if "timed out" in str(error):
            return ProbeOutcome(False, f"command {' '.join(repr(c) for c in command)} timed out")
        return ProbeOutcome(False, str(error))
    text = (stdout + stderr)[:MAX_OUTPUT]
    if code == 0:
        return ProbeOutcome(True, text)
    return ProbeOutcome(False, text or f"command {command!r} exited with {code}")


class _NetnsHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, timeout: float, netns_pid: int | None) -> None:
        super().__init__(host, port, timeout=timeout)
        self.netns_pid = netns_pid

    def connect(self) -> None:
        self.sock = connect(self.host, self.port, float(self.timeout or 1), self.netns_pid)


class _NetnsHTTPSConnection(_NetnsHTTPConnection):
    def connect(self) -> None:
        super().connect()
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the kubelet does not verify probe certificates either
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


class HTTPGetError(Exception):
    """The request got no HTTP answer (bad port, refused, timed out); the message is Go's wording."""


def http_get(target: ProbeTarget, action: Obj, timeout: float, user_agent: str = USER_AGENT) -> tuple[int, str]:
    """GET an httpGet action's URL from inside the pod's network namespace: (status code, body)."""
    host = str(action.get("host") or target.pod_ip or "127.0.0.1")
    try:
        port = resolve_port(action.get("port"), target.ports)
    except ValueError as error:
        raise HTTPGetError(str(error)) from None
    scheme = str(action.get("scheme") or "HTTP").upper()
    path = str(action.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme.lower()}://{host}:{port}{path}"
    cls = _NetnsHTTPSConnection if scheme == "HTTPS" else _NetnsHTTPConnection
    conn = cls(host, port, timeout, target.netns_pid)
    headers = {"User-Agent": user_agent, "Accept": "*/*", "Connection": "close"}
    for header in action.get("httpHeaders") or []:
        if isinstance(header, dict) and header.get("name"):
            headers[str(header["name"])] = str(header.get("value") or "")
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read(MAX_OUTPUT).decode(errors="replace")
    except (OSError, http.client.HTTPException) as error:
        raise HTTPGetError(f'Get "{url}": {_dial_error(host, port, error)}') from None
    finally:
        conn.close()
    return response.status, body


def run_http_get(target: ProbeTarget, action: Obj, timeout: float) -> ProbeOutcome:
    try:
        status, body = http_get(target, action, timeout)
    except HTTPGetError as error:
        return ProbeOutcome(False, str(error))
    if 200 <= status < 400:
        return ProbeOutcome(True, body)
    return ProbeOutcome(False, f"HTTP probe failed with statuscode: {status}")


def run_tcp_socket(target: ProbeTarget, action: Obj, timeout: float) -> ProbeOutcome:
    host = str(action.get("host") or target.pod_ip or "127.0.0.1")
    try:
        port = resolve_port(action.get("port"), target.ports)
    except ValueError as error:
        return ProbeOutcome(False, str(error))
    try:
        connect(host, port, timeout, target.netns_pid).close()
    except OSError as error:
        return ProbeOutcome(False, _dial_error(host, port, error))
    return ProbeOutcome(True)


def run_probe(runtime: ExecRuntime, target: ProbeTarget, probe: Obj) -> ProbeOutcome:
    timeout = float(probe.get("timeoutSeconds") or 1)
    if isinstance(probe.get("exec"), dict):
        return run_exec(runtime, target, probe["exec"], timeout)
    if isinstance(probe.get("httpGet"), dict):
        return run_http_get(target, probe["httpGet"], timeout)
    if isinstance(probe.get("tcpSocket"), dict):
        return run_tcp_socket(target, probe["tcpSocket"], timeout)
    return ProbeOutcome(False, "probe has no exec, httpGet or tcpSocket handler (grpc is not supported)")
