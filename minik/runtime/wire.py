"""The wire format between the runtime daemon and its clients: gRPC over a unix socket, JSON bodies.

No protoc step: each CRI method is a unary gRPC method `/runtime.v1.<Service>/<Method>` whose request
is `{"args": {<python keyword arguments>}}` and whose response is `{"result": <return value>}`.
Bytes (exec output) travel as `{"__bytes__": "<base64>"}`. Errors travel as gRPC status codes:
NOT_FOUND for missing objects, FAILED_PRECONDITION for refused requests.
"""

from __future__ import annotations

import base64
import json
from typing import Any

RUNTIME_SERVICE = "runtime.v1.RuntimeService"
IMAGE_SERVICE = "runtime.v1.ImageService"

# CRI method name -> (service, python method name)
METHODS: dict[str, tuple[str, str]] = {
    "Version": (RUNTIME_SERVICE, "version"),
    "Status": (RUNTIME_SERVICE, "status"),
    "RunPodSandbox": (RUNTIME_SERVICE, "run_pod_sandbox"),
    "StopPodSandbox": (RUNTIME_SERVICE, "stop_pod_sandbox"),
    "RemovePodSandbox": (RUNTIME_SERVICE, "remove_pod_sandbox"),
    "PodSandboxStatus": (RUNTIME_SERVICE, "pod_sandbox_status"),
    "ListPodSandbox": (RUNTIME_SERVICE, "list_pod_sandbox"),
    "CreateContainer": (RUNTIME_SERVICE, "create_container"),
    "StartContainer": (RUNTIME_SERVICE, "start_container"),
    "StopContainer": (RUNTIME_SERVICE, "stop_container"),
    "RemoveContainer": (RUNTIME_SERVICE, "remove_container"),
    "ListContainers": (RUNTIME_SERVICE, "list_containers"),
    "ContainerStatus": (RUNTIME_SERVICE, "container_status"),
    "ContainerStats": (RUNTIME_SERVICE, "container_stats"),
    "ListContainerStats": (RUNTIME_SERVICE, "list_container_stats"),
    "ExecSync": (RUNTIME_SERVICE, "exec_sync"),
    "PullImage": (IMAGE_SERVICE, "pull_image"),
    "ImageStatus": (IMAGE_SERVICE, "image_status"),
    "ListImages": (IMAGE_SERVICE, "list_images"),
    "RemoveImage": (IMAGE_SERVICE, "remove_image"),
    "ImageFsInfo": (IMAGE_SERVICE, "image_fs_info"),
}


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(value)).decode()}
    raise TypeError(f"cannot send {type(value).__name__} over the runtime API")


def _hook(value: dict[str, Any]) -> Any:
    if len(value) == 1 and "__bytes__" in value:
        return base64.b64decode(value["__bytes__"])
    return value


def encode(message: Any) -> bytes:
    return json.dumps(message, default=_default, separators=(",", ":")).encode()


def decode(raw: bytes) -> Any:
    return json.loads(raw, object_hook=_hook)


def socket_target(listen: str) -> str:
    """`unix:///run/minik/runtime.sock` or a bare path -> the gRPC target string."""
    return listen if listen.startswith("unix:") else f"unix://{listen}"


def socket_path(listen: str) -> str:
    target = socket_target(listen)
    return target[len("unix://") :] if target.startswith("unix://") else target[len("unix:") :]
