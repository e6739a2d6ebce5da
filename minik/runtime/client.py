"""RuntimeClient: the kubelet's (and crictl's) handle on a node's runtime daemon.

Same method names and signatures as minik.runtime.service.Runtime, so code written against one
works with the other; errors come back as the same NotFoundError / CRIError.
"""

from __future__ import annotations

from typing import Any

import grpc

from minik.runtime.state import CRIError, NotFoundError
from minik.runtime.wire import METHODS, decode, encode, socket_target

DEFAULT_SOCKET = "unix:///run/minik/runtime.sock"


class RuntimeClient:
    def __init__(self, socket: str = DEFAULT_SOCKET, timeout: float = 300.0) -> None:
        self.target = socket_target(socket)
        self.timeout = timeout
        self.channel = grpc.insecure_channel(self.target)
        self._stubs: dict[str, Any] = {}

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> RuntimeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, deadline: float | None = None, **args: Any) -> Any:
        """Call a CRI method by its CRI name (`RunPodSandbox`) with keyword arguments.

        `deadline` bounds the RPC (seconds); the CRI's own `timeout` arguments pass through in `args`.
        """
        if method not in self._stubs:
            service, _ = METHODS[method]
            self._stubs[method] = self.channel.unary_unary(
                f"/{service}/{method}", request_serializer=encode, response_deserializer=decode
            )
        try:
            response = self._stubs[method]({"args": args}, timeout=deadline or self.timeout)
        except grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else None
            detail = error.details() if hasattr(error, "details") else str(error)
            if code == grpc.StatusCode.NOT_FOUND:
                raise NotFoundError(detail) from None
            if code == grpc.StatusCode.UNAVAILABLE:
                raise CRIError(f"runtime at {self.target} is not reachable: {detail}") from None
            raise CRIError(detail) from None
        return response["result"]

    # ---------------------------------------------------------------- RuntimeService

    def version(self) -> dict[str, Any]:
        return dict(self.call("Version"))

    def status(self) -> dict[str, Any]:
        return dict(self.call("Status"))

    def run_pod_sandbox(self, config: dict[str, Any], runtime_handler: str = "") -> str:
        return str(self.call("RunPodSandbox", config=config, runtime_handler=runtime_handler))

    def stop_pod_sandbox(self, pod_sandbox_id: str) -> None:
        self.call("StopPodSandbox", pod_sandbox_id=pod_sandbox_id)

    def remove_pod_sandbox(self, pod_sandbox_id: str) -> None:
        self.call("RemovePodSandbox", pod_sandbox_id=pod_sandbox_id)

    def pod_sandbox_status(self, pod_sandbox_id: str, verbose: bool = False) -> dict[str, Any]:
        return dict(self.call("PodSandboxStatus", pod_sandbox_id=pod_sandbox_id, verbose=verbose))

    def list_pod_sandbox(self, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # noqa: A002
        return list(self.call("ListPodSandbox", filter=filter))

    def create_container(self, pod_sandbox_id: str, config: dict[str, Any],
                         sandbox_config: dict[str, Any] | None = None) -> str:
        return str(self.call("CreateContainer", pod_sandbox_id=pod_sandbox_id, config=config,
                             sandbox_config=sandbox_config))

    def start_container(self, container_id: str) -> None:
        self.call("StartContainer", container_id=container_id)

    def stop_container(self, container_id: str, timeout: int | float = 0) -> None:
        self.call("StopContainer", self.timeout + float(timeout), container_id=container_id, timeout=timeout)

    def remove_container(self, container_id: str) -> None:
        self.call("RemoveContainer", container_id=container_id)

    def list_containers(self, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # noqa: A002
        return list(self.call("ListContainers", filter=filter))

    def container_status(self, container_id: str, verbose: bool = False) -> dict[str, Any]:
        return dict(self.call("ContainerStatus", container_id=container_id, verbose=verbose))

    def container_stats(self, container_id: str) -> dict[str, Any]:
        return dict(self.call("ContainerStats", container_id=container_id))

    def list_container_stats(self, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # noqa: A002
        return list(self.call("ListContainerStats", filter=filter))

    def exec_sync(self, container_id: str, cmd: list[str], timeout: int | float = 0) -> dict[str, Any]:
        """{stdout: bytes, stderr: bytes, exit_code: int}."""
        deadline = self.timeout + float(timeout or 0)
        return dict(self.call("ExecSync", deadline, container_id=container_id, cmd=cmd, timeout=timeout))

    # ---------------------------------------------------------------- ImageService

    def pull_image(self, image: dict[str, Any], auth: dict[str, Any] | None = None,
                   sandbox_config: dict[str, Any] | None = None) -> str:
        return str(self.call("PullImage", image=image, auth=auth, sandbox_config=sandbox_config))

    def image_status(self, image: dict[str, Any], verbose: bool = False) -> dict[str, Any]:
        return dict(self.call("ImageStatus", image=image, verbose=verbose))

    def list_images(self, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # noqa: A002
        return list(self.call("ListImages", filter=filter))

    def remove_image(self, image: dict[str, Any]) -> None:
        self.call("RemoveImage", image=image)

    def image_fs_info(self) -> list[dict[str, Any]]:
        return list(self.call("ImageFsInfo"))
