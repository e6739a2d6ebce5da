"""DefaultBinder: bind through the API (`POST pods/NAME/binding`), as kube-scheduler does."""

from __future__ import annotations

from typing import Protocol

from minik.scheduler.framework import BindPlugin, CycleState, Status
from minik.scheduler.pod_info import PodInfo

NAME = "DefaultBinder"


class Binder(Protocol):
    def bind(self, pod_namespace: str, pod_name: str, node_name: str) -> None: ...


class DefaultBinder(BindPlugin):
    name = NAME

    def __init__(self, client: Binder) -> None:
        self.client = client

    def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        try:
            self.client.bind(pod.namespace, pod.name, node_name)
        except Exception as e:  # the scheduler decides: drop (409/404) or retry with back-off
            return Status.as_status(e, plugin=NAME)
        return None
