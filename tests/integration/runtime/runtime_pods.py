"""Helpers for the runtime integration tests: make pods, run containers, read logs, exec."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from util import wait_for

from minik.runtime.containers import EXITED, RUNNING
from minik.runtime.logs import read_lines
from minik.runtime.service import Runtime


class Pods:
    """Small helpers so tests read like what they check."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def sandbox(self, name: str = "web", **config: Any) -> str:
        meta = {"name": name, "namespace": "default", "uid": secrets.token_hex(4)}
        return self.runtime.run_pod_sandbox({"metadata": meta, **config})

    def create(self, sandbox_id: str, command: list[str] | None = None, image: str = "busybox",
               name: str = "main", **config: Any) -> str:
        cfg: dict[str, Any] = {"metadata": {"name": name}, "image": {"image": image}, **config}
        if command is not None:
            cfg["command"] = command
        return self.runtime.create_container(sandbox_id, cfg, None)

    def run(self, sandbox_id: str, command: list[str] | None = None, image: str = "busybox",
            name: str = "main", **config: Any) -> str:
        container_id = self.create(sandbox_id, command, image, name, **config)
        self.runtime.start_container(container_id)
        return container_id

    def status(self, container_id: str) -> dict[str, Any]:
        return self.runtime.container_status(container_id)["status"]

    def wait_exited(self, container_id: str, timeout: float = 60) -> dict[str, Any]:
        return wait_for(lambda: (s := self.status(container_id))["state"] == EXITED and s,
                        timeout=timeout, message=f"container {container_id[:12]} to exit")

    def wait_running(self, container_id: str) -> dict[str, Any]:
        return wait_for(lambda: (s := self.status(container_id))["state"] == RUNNING and s,
                        message=f"container {container_id[:12]} to run")

    def log(self, container_id: str) -> list[str]:
        path = Path(self.status(container_id)["log_path"])
        return [line.decode() for _, _, line in read_lines(path)]

    def wait_log(self, container_id: str, text: str, timeout: float = 30) -> list[str]:
        def seen() -> list[str] | None:
            lines = self.log(container_id)
            return lines if any(text in line for line in lines) else None

        return wait_for(seen, timeout=timeout, message=f"{text!r} in the log of {container_id[:12]}")

    def exec(self, container_id: str, *cmd: str) -> tuple[int, str, str]:
        result = self.runtime.exec_sync(container_id, list(cmd), 60)
        return result["exit_code"], result["stdout"].decode(), result["stderr"].decode()

    def info(self, container_id: str) -> dict[str, Any]:
        return self.runtime.container_status(container_id, verbose=True)["info"]
