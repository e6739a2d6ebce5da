"""Creating and deleting a controller's pods, with the Events Kubernetes records for each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from minik.api.errors import ForbiddenError, NotFoundError, StatusError
from minik.api.resources import Resource, lookup
from minik.controllers.podutil import pod_from_template

Obj = dict[str, Any]

_pods = lookup("pods")
assert _pods is not None
PODS: Resource = _pods


class Recorder(Protocol):
    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None: ...


class PodClient(Protocol):
    def create(self, r: Resource, obj: Obj, namespace: str | None = None) -> Obj: ...

    def delete(self, r: Resource, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None,
               preconditions: Any = None) -> Obj: ...


def namespace_terminating(err: Exception) -> bool:
    """A create refused because the namespace is going away: nothing to retry."""
    if not isinstance(err, ForbiddenError):
        return False
    causes = [c.get("reason") for c in err.causes if isinstance(c, dict)]
    return "NamespaceTerminating" in causes or "because it is being terminated" in err.message


class PodControl:
    def __init__(self, client: PodClient, recorder: Recorder) -> None:
        self.client = client
        self.recorder = recorder

    def create_pod(self, namespace: str, template: Obj | None, owner: Obj, controller_ref: Obj,
                   mutate: Callable[[Obj], None] | None = None) -> Obj:
        pod = pod_from_template(template, str((owner.get("metadata") or {}).get("name")), controller_ref)
        if mutate is not None:
            mutate(pod)
        if not ((pod.get("metadata") or {}).get("labels")):
            raise ValueError("unable to create pods, no labels")
        try:
            created = self.client.create(PODS, pod, namespace)
        except StatusError as e:
            if not namespace_terminating(e):
                self.recorder.event(owner, "Warning", "FailedCreate", f"Error creating: {e.message}")
            raise
        self.recorder.event(owner, "Normal", "SuccessfulCreate",
                            f"Created pod: {(created.get('metadata') or {}).get('name')}")
        return created

    def delete_pod(self, namespace: str, name: str, owner: Obj) -> None:
        try:
            self.client.delete(PODS, name, namespace)
        except NotFoundError:
            raise
        except StatusError as e:
            self.recorder.event(owner, "Warning", "FailedDelete", f"Error deleting: {e.message}")
            raise
        self.recorder.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")


def slow_start_batch(count: int, initial_batch_size: int, fn: Callable[[], None]) -> tuple[int, Exception | None]:
    """Call fn up to count times in batches 1, 2, 4, ...; stop after the first batch with a failure.

    A quota or admission problem then costs one failed request, not hundreds.
    Returns (successes, first error).
    """
    remaining = count
    successes = 0
    batch = min(remaining, initial_batch_size)
    while batch > 0:
        error: Exception | None = None
        for _ in range(batch):
            try:
                fn()
                successes += 1
            except Exception as e:
                if error is None:
                    error = e
        if error is not None:
            return successes, error
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None
