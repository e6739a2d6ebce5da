"""Small builders for kubelet unit tests: pods as the API stores them, runtime statuses."""

from __future__ import annotations

from typing import Any

from minik.kubelet.types import (
    CONTAINER_CREATED,
    CONTAINER_EXITED,
    CONTAINER_RUNNING,
    ContainerStatus,
    PodStatus,
    SandboxStatus,
)

Obj = dict[str, Any]
SECOND = 1_000_000_000


def make_pod(containers: list[str] | None = None, inits: list[str] | None = None, policy: str = "Always",
             uid: str = "uid-1", **spec: Any) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "ns", "uid": uid},
        "spec": {"containers": [{"name": n, "image": "busybox"} for n in (containers or ["app"])],
                 **({"initContainers": [{"name": n, "image": "busybox"} for n in inits]} if inits else {}),
                 "restartPolicy": policy, **spec},
        "status": {"phase": "Pending"},
    }


_counter = [0]


def container(name: str, state: str, exit_code: int = 0, restarts: int = 0, created: int | None = None,
              reason: str = "", init: bool = False, hash_: str = "") -> ContainerStatus:
    _counter[0] += 1
    created = created if created is not None else _counter[0]
    return ContainerStatus(
        id=f"{name}-{created}", name=name, state=state, created_at=created * SECOND,
        started_at=created * SECOND if state != CONTAINER_CREATED else 0,
        finished_at=(created + 1) * SECOND if state == CONTAINER_EXITED else 0,
        exit_code=exit_code, image="busybox", image_ref="sha256:abc", restart_count=restarts,
        reason=reason, init=init, hash=hash_)


def runtime(*containers: ContainerStatus, sandbox: bool | None = True, attempt: int = 0) -> PodStatus:
    status = PodStatus(uid="uid-1", name="web", namespace="ns")
    if sandbox is not None:
        status.sandboxes.append(SandboxStatus(id="sb", ready=sandbox, attempt=attempt))
    status.containers = sorted(containers, key=lambda c: c.created_at, reverse=True)
    return status


__all__ = ["CONTAINER_CREATED", "CONTAINER_EXITED", "CONTAINER_RUNNING", "container", "make_pod", "runtime"]
