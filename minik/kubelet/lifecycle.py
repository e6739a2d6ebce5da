"""Container lifecycle hooks, postStart and preStop: the kubelet's lifecycle handlerRunner.

A handler is `exec` (the runtime's exec_sync, as for an exec probe), `httpGet` (a GET from inside the
pod's network namespace, as for an httpGet probe, except that any HTTP answer is a success: Kubernetes
fails the hook only when no answer comes) or `sleep` (k8s 1.30). `tcpSocket` passes validation for
compatibility but cannot run, as in Kubernetes. A failure returns Kubernetes' message, which is what a
failed postStart leaves as the container's waiting message (`PostStartHookError`).

When the hooks run is the runtime manager's business (runtime_manager.py): postStart right after the
container starts, preStop before the stop signal, within the grace period.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from minik.kubelet.probes import HTTPGetError, ProbeTarget, SandboxRuntime, exec_command, http_get
from minik.kubelet.types import Obj, format_pod
from minik.runtime.state import CRIError

USER_AGENT = "kube-lifecycle/1.30"
HTTP_TIMEOUT = 30.0  # Kubernetes' hook client has no timeout of its own; a silent peer must not hang a sync


def go_quote(text: str) -> str:
    """Go's %q, near enough for messages."""
    return json.dumps(text, ensure_ascii=False)


class HandlerRunner:
    """Runs one lifecycle handler for one container; `stop` cuts a sleep short (the kubelet is stopping)."""

    def __init__(self, runtime: SandboxRuntime, stop: threading.Event | None = None) -> None:
        self.runtime = runtime
        self.stop = stop or threading.Event()

    def run(self, handler: Obj, pod: Obj, container_name: str, target: Callable[[], ProbeTarget],
            timeout: float = 0) -> str:
        """'' when the hook succeeded, else why it failed. `timeout` (0: none) bounds exec and sleep."""
        where = f"for Container {go_quote(container_name)} in Pod {go_quote(format_pod(pod))}"
        if isinstance(handler.get("exec"), dict):
            return self._run_exec(handler["exec"], where, target(), timeout)
        if isinstance(handler.get("httpGet"), dict):
            action = handler["httpGet"]
            try:
                http_get(target(), action, timeout or HTTP_TIMEOUT, USER_AGENT)
            except HTTPGetError as error:
                return f"HTTP lifecycle hook ({action.get('path') or ''}) {where} failed - error: {error}"
            return ""
        if isinstance(handler.get("sleep"), dict):
            seconds = handler["sleep"].get("seconds") or 0
            wait = min(float(seconds), timeout) if timeout else float(seconds)
            if self.stop.wait(max(wait, 0.0)):
                return (f"Sleep lifecycle hook ({seconds}) {where} failed - error: "
                        "container terminated before sleep hook finished")
            return ""
        return f"Cannot run handler: invalid handler: {json.dumps(handler, sort_keys=True)}"

    def _run_exec(self, action: Obj, where: str, target: ProbeTarget, timeout: float) -> str:
        command = [str(c) for c in action.get("command") or []]
        output = ""
        try:
            code, stdout, stderr = exec_command(self.runtime, target.container_id, command, timeout)
            output = stdout + stderr
            error = "" if code == 0 else f"command '{' '.join(command)}' exited with {code}: {stderr}"
        except CRIError as failure:
            error = str(failure)
        if not error:
            return ""
        return (f"Exec lifecycle hook ([{' '.join(command)}]) {where} failed - error: {error}, "
                f"message: {go_quote(output)}")
