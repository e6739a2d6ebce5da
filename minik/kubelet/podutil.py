"""Safe accessors for pod dicts: the kubelet reads pods straight from the API (or a manifest file), and a
field of the wrong type must never crash a sync, so every read goes through here."""

from __future__ import annotations

from typing import Any

from minik.kubelet.types import (
    CONFIG_HASH_ANNOTATION,
    CONFIG_MIRROR_ANNOTATION,
    CONFIG_SOURCE_ANNOTATION,
    Obj,
)

DEFAULT_GRACE_SECONDS = 30
TERMINAL_PHASES = ("Succeeded", "Failed")


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Obj]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def meta(pod: Obj) -> Obj:
    return _dict(pod.get("metadata"))


def spec(pod: Obj) -> Obj:
    return _dict(pod.get("spec"))


def status(pod: Obj) -> Obj:
    return _dict(pod.get("status"))


def uid(pod: Obj) -> str:
    return str(meta(pod).get("uid") or "")


def name(pod: Obj) -> str:
    return str(meta(pod).get("name") or "")


def namespace(pod: Obj) -> str:
    return str(meta(pod).get("namespace") or "default")


def annotations_of(pod: Obj) -> dict[str, str]:
    return {str(k): str(v) for k, v in _dict(meta(pod).get("annotations")).items()}


def labels(pod: Obj) -> dict[str, str]:
    return {str(k): str(v) for k, v in _dict(meta(pod).get("labels")).items()}


def containers(pod: Obj) -> list[Obj]:
    return [c for c in _list(spec(pod).get("containers")) if c.get("name")]


def init_containers(pod: Obj) -> list[Obj]:
    return [c for c in _list(spec(pod).get("initContainers")) if c.get("name")]


def volumes(pod: Obj) -> list[Obj]:
    return [v for v in _list(spec(pod).get("volumes")) if v.get("name")]


def restart_policy(pod: Obj) -> str:
    policy = spec(pod).get("restartPolicy")
    return policy if policy in ("Always", "OnFailure", "Never") else "Always"


def should_restart_on_failure(pod: Obj) -> bool:
    return restart_policy(pod) != "Never"


def host_network(pod: Obj) -> bool:
    return spec(pod).get("hostNetwork") is True


def deletion_timestamp(pod: Obj) -> str | None:
    value = meta(pod).get("deletionTimestamp")
    return str(value) if value else None


def termination_grace_seconds(pod: Obj) -> int:
    """The grace period to kill with: the deletion's own grace if the pod is being deleted, else the spec's."""
    for value in (meta(pod).get("deletionGracePeriodSeconds"), spec(pod).get("terminationGracePeriodSeconds")):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return DEFAULT_GRACE_SECONDS


def phase(pod: Obj) -> str:
    return str(status(pod).get("phase") or "")


def is_terminal_phase(value: str | None) -> bool:
    return value in TERMINAL_PHASES


def is_mirror_pod(pod: Obj) -> bool:
    return CONFIG_MIRROR_ANNOTATION in annotations_of(pod)


def is_static_pod(pod: Obj) -> bool:
    return annotations_of(pod).get(CONFIG_SOURCE_ANNOTATION, "api") not in ("api", "")


def config_hash(pod: Obj) -> str:
    return annotations_of(pod).get(CONFIG_HASH_ANNOTATION, "")


def key(pod: Obj) -> str:
    return f"{namespace(pod)}/{name(pod)}"


def find_container(pod: Obj, container_name: str) -> Obj | None:
    for container in [*containers(pod), *init_containers(pod)]:
        if container.get("name") == container_name:
            return container
    return None


def qos_class(pod: Obj) -> str:
    """Guaranteed, Burstable or BestEffort, computed like the API server does (falls back to the status)."""
    from pydantic import ValidationError

    from minik.api.core import PodSpec
    from minik.api.defaults import pod_qos_class

    try:
        return pod_qos_class(PodSpec.model_validate(spec(pod)))
    except (ValidationError, ValueError, TypeError, ArithmeticError):
        stored = status(pod).get("qosClass")
        return str(stored) if stored in ("Guaranteed", "Burstable", "BestEffort") else "BestEffort"
