"""Running one probe: exec (through the runtime's exec_sync), httpGet and tcpSocket (from inside the
pod's network namespace, see netns.py). Results and messages are worded like the kubelet's, because
they end up in `Liveness probe failed: ...` events.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class ProbeTarget:
    """Where a probe goes: the container (for exec), the pod's IP and namespace (for network probes)."""

    container_id: str
    pod_ip: str
    netns_pid: int | None
    ports: dict[str, int]  # named container ports


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


def run_exec(runtime: ExecRuntime, target: ProbeTarget, action: Obj, timeout: float) -> ProbeOutcome:
    command = [str(c) for c in action.get("command") or []]
    if not command:
        return ProbeOutcome(False, "exec probe has no command")
    try:
        result = runtime.exec_sync(target.container_id, command, timeout)
    except CRIError as error:
        if "timed out" in str(error):
            return ProbeOutcome(False, f"command {' '.join(repr(c) for c in command)} timed out")
        return ProbeOutcome(False, str(error))
    out = bytes(result.get("stdout") or b"") + bytes(result.get("stderr") or b"")
    text = out[:MAX_OUTPUT].decode(errors="replace")
    if int(result.get("exit_code") or 0) == 0:
        return ProbeOutcome(True, text)
    return ProbeOutcome(False, text or f"command {command!r} exited with {result.get('exit_code')}")


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


def run_http_get(target: ProbeTarget, action: Obj, timeout: float) -> ProbeOutcome:
    host = str(action.get("host") or target.pod_ip or "127.0.0.1")
    try:
        port = resolve_port(action.get("port"), target.ports)
    except ValueError as error:
        return ProbeOutcome(False, str(error))
    scheme = str(action.get("scheme") or "HTTP").upper()
    path = str(action.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme.lower()}://{host}:{port}{path}"
    cls = _NetnsHTTPSConnection if scheme == "HTTPS" else _NetnsHTTPConnection
    conn = cls(host, port, timeout, target.netns_pid)
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close"}
    for header in action.get("httpHeaders") or []:
        if isinstance(header, dict) and header.get("name"):
            headers[str(header["name"])] = str(header.get("value") or "")
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read(MAX_OUTPUT).decode(errors="replace")
    except (OSError, http.client.HTTPException) as error:
        return ProbeOutcome(False, f'Get "{url}": {_dial_error(host, port, error)}')
    finally:
        conn.close()
    if 200 <= response.status < 400:
        return ProbeOutcome(True, body)
    return ProbeOutcome(False, f"HTTP probe failed with statuscode: {response.status}")


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
