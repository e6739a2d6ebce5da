"""The CRI ContainerConfig for one container of a pod (kuberuntime's generateContainerConfig).

Environment variables are resolved here (literal values, `$(VAR)` references, the downward API's
fieldRef/resourceFieldRef), as are `$(VAR)` references in command and args, the security context,
the cgroup resources, and the labels/annotations that let a restarted kubelet recognise its containers.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from minik.kubelet import podutil
from minik.kubelet.resources import container_limits, container_requests, linux_container_resources
from minik.kubelet.types import (
    CONTAINER_HASH_ANNOTATION,
    CONTAINER_IMAGE_ANNOTATION,
    CONTAINER_NAME_LABEL,
    CONTAINER_PORTS_ANNOTATION,
    CONTAINER_PRE_STOP_HANDLER_ANNOTATION,
    CONTAINER_RESTART_COUNT_ANNOTATION,
    CONTAINER_TYPE_LABEL,
    KUBELET_MANAGED_LABEL,
    POD_NAME_LABEL,
    POD_NAMESPACE_LABEL,
    POD_TERMINATION_GRACE_ANNOTATION,
    POD_UID_LABEL,
    TERMINATION_MESSAGE_HOST_PATH_ANNOTATION,
    TERMINATION_MESSAGE_PATH_ANNOTATION,
    TERMINATION_MESSAGE_POLICY_ANNOTATION,
    Obj,
)

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


class ContainerConfigError(Exception):
    """The container cannot be configured (CreateContainerConfigError); the message is for the user."""


def hash_container(container: Obj) -> str:
    """A stable hash of the container's spec: when it changes, the container is restarted."""
    raw = json.dumps(container, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:8]


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined names are replaced, `$$` escapes, unknown stay as written."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _REFERENCE.sub(replace, text)


@dataclass
class PodContext:
    """What env resolution needs to know about the pod and the node."""

    pod: Obj
    node_name: str
    host_ip: str
    pod_ips: list[str] = field(default_factory=list)
    node_allocatable: dict[str, int] = field(default_factory=dict)
    service_env: dict[str, str] | None = None  # envvars.service_env_var_map; None until looked up


def _field_ref(ref: Obj, ctx: PodContext) -> str:
    path = str(ref.get("fieldPath") or "")
    meta = podutil.meta(ctx.pod)
    simple = {
        "metadata.name": podutil.name(ctx.pod),
        "metadata.namespace": podutil.namespace(ctx.pod),
        "metadata.uid": podutil.uid(ctx.pod),
        "spec.nodeName": ctx.node_name,
        "spec.serviceAccountName": str(podutil.spec(ctx.pod).get("serviceAccountName") or ""),
        "status.hostIP": ctx.host_ip,
        "status.hostIPs": ctx.host_ip,
        "status.podIP": ctx.pod_ips[0] if ctx.pod_ips else (ctx.host_ip if podutil.host_network(ctx.pod) else ""),
        "status.podIPs": ",".join(ctx.pod_ips),
    }
    if path in simple:
        return simple[path]
    match = _SUBSCRIPT.match(path)
    if match:
        values = meta.get(match.group(1)) or {}
        return str(values.get(match.group(2), "")) if isinstance(values, dict) else ""
    if path in ("metadata.labels", "metadata.annotations"):
        values = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items())) if isinstance(values, dict) else ""
    raise ContainerConfigError(f"unsupported fieldPath: {path}")


def _resource_field_ref(ref: Obj, container: Obj, pod: Obj, ctx: PodContext) -> str:
    target = container
    if ref.get("containerName"):
        found = podutil.find_container(pod, str(ref["containerName"]))
        if found is None:
            raise ContainerConfigError(f"container {ref['containerName']!r} not found for resourceFieldRef")
        target = found
    resource = str(ref.get("resource") or "")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory"):
        raise ContainerConfigError(f"unsupported container resource: {resource}")
    amounts = container_limits(target) if kind == "limits" else container_requests(target)
    amount = amounts.get(name)
    if amount is None:
        amount = ctx.node_allocatable.get(name, 0) if kind == "limits" else 0
    divisor_text = str(ref.get("divisor") or "1")
    from minik.api.quantity import milli_value, value

    try:
        if name == "cpu":
            divisor = milli_value(divisor_text) or 1000
            return str(math.ceil(amount / divisor))
        divisor = value(divisor_text) or 1
        return str(math.ceil(amount / divisor))
    except (ValueError, ArithmeticError) as error:
        raise ContainerConfigError(f"invalid divisor {divisor_text!r}: {error}") from None


def make_environment(container: Obj, ctx: PodContext) -> dict[str, str]:
    """The container's env in definition order (later entries may reference earlier ones and the
    Service variables), then the Service variables it does not set itself."""
    services = ctx.service_env or {}
    env: dict[str, str] = {}
    lookup = ChainMap(env, services)
    for item in container.get("env") or []:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        name = str(item["name"])
        source = item.get("valueFrom")
        if isinstance(source, dict) and source:
            if isinstance(source.get("fieldRef"), dict):
                env[name] = _field_ref(source["fieldRef"], ctx)
            elif isinstance(source.get("resourceFieldRef"), dict):
                env[name] = _resource_field_ref(source["resourceFieldRef"], container, ctx.pod, ctx)
            else:
                kind = next(iter(source))
                raise ContainerConfigError(f"env {name}: {kind} is not supported by minik yet")
        else:
            env[name] = expand(str(item.get("value") or ""), lookup)
    for name in sorted(services):
        env.setdefault(name, services[name])
    return env


def security_context(container: Obj, pod: Obj) -> Obj:
    """CRI LinuxContainerSecurityContext from the container's and the pod's securityContext."""
    pod_ctx = podutil.spec(pod).get("securityContext") or {}
    ctx = container.get("securityContext") or {}
    pod_ctx = pod_ctx if isinstance(pod_ctx, dict) else {}
    ctx = ctx if isinstance(ctx, dict) else {}
    out: Obj = {}
    user = ctx.get("runAsUser", pod_ctx.get("runAsUser"))
    group = ctx.get("runAsGroup", pod_ctx.get("runAsGroup"))
    if isinstance(user, int):
        out["run_as_user"] = {"value": user}
    if isinstance(group, int):
        out["run_as_group"] = {"value": group}
    supplemental = [g for g in pod_ctx.get("supplementalGroups") or [] if isinstance(g, int)]
    if isinstance(pod_ctx.get("fsGroup"), int):
        supplemental.append(pod_ctx["fsGroup"])
    if supplemental:
        out["supplemental_groups"] = supplemental
    if ctx.get("privileged") is True:
        out["privileged"] = True
    if ctx.get("readOnlyRootFilesystem") is True:
        out["readonly_rootfs"] = True
    caps = ctx.get("capabilities") or {}
    if isinstance(caps, dict) and (caps.get("add") or caps.get("drop")):
        out["capabilities"] = {"add_capabilities": [str(c) for c in caps.get("add") or []],
                               "drop_capabilities": [str(c) for c in caps.get("drop") or []]}
    return out


def container_labels(pod: Obj, container_name: str, node_name: str, init: bool) -> dict[str, str]:
    return {
        POD_NAME_LABEL: podutil.name(pod),
        POD_NAMESPACE_LABEL: podutil.namespace(pod),
        POD_UID_LABEL: podutil.uid(pod),
        CONTAINER_NAME_LABEL: container_name,
        CONTAINER_TYPE_LABEL: "init" if init else "regular",
        KUBELET_MANAGED_LABEL: node_name,
    }


def generate_container_config(
    container: Obj,
    pod: Obj,
    ctx: PodContext,
    restart_count: int,
    image: str,
    mounts: list[Obj],
    log_path: str,
    termination_message_host_path: str = "",
    init: bool = False,
) -> Obj:
    """The CRI ContainerConfig the runtime's create_container takes."""
    name = str(container["name"])
    env = make_environment(container, ctx)
    annotations = {
        CONTAINER_HASH_ANNOTATION: hash_container(container),
        CONTAINER_RESTART_COUNT_ANNOTATION: str(restart_count),
        POD_TERMINATION_GRACE_ANNOTATION: str(podutil.termination_grace_seconds(pod)),
        CONTAINER_IMAGE_ANNOTATION: str(container.get("image") or ""),
        TERMINATION_MESSAGE_PATH_ANNOTATION: str(container.get("terminationMessagePath") or "/dev/termination-log"),
        TERMINATION_MESSAGE_POLICY_ANNOTATION: str(container.get("terminationMessagePolicy") or "File"),
    }
    if termination_message_host_path:
        annotations[TERMINATION_MESSAGE_HOST_PATH_ANNOTATION] = termination_message_host_path
    pre_stop = (container.get("lifecycle") or {}).get("preStop")
    if isinstance(pre_stop, dict):
        annotations[CONTAINER_PRE_STOP_HANDLER_ANNOTATION] = json.dumps(pre_stop, separators=(",", ":"))
    if container.get("ports"):
        annotations[CONTAINER_PORTS_ANNOTATION] = json.dumps(container["ports"], separators=(",", ":"))
    config: Obj = {
        "metadata": {"name": name, "attempt": restart_count},
        "image": {"image": image},
        "command": [expand(str(c), env) for c in container.get("command") or []],
        "args": [expand(str(a), env) for a in container.get("args") or []],
        "working_dir": str(container.get("workingDir") or ""),
        "envs": [{"key": k, "value": v} for k, v in env.items()],
        "mounts": mounts,
        "labels": container_labels(pod, name, ctx.node_name, init),
        "annotations": annotations,
        "log_path": log_path,
        "stdin": container.get("stdin") is True,
        "stdin_once": container.get("stdinOnce") is True,
        "tty": container.get("tty") is True,
        "linux": {
            "resources": linux_container_resources(container),
            "security_context": security_context(container, pod),
        },
    }
    return config


def _annotation_json(annotations: dict[str, str], key: str) -> Any:
    try:
        return json.loads(annotations[key])
    except (KeyError, ValueError):
        return None


def restore_container_spec(name: str, annotations: dict[str, str]) -> Obj:
    """What the runtime's annotations keep of a container's spec (restoreSpecsFromContainerLabels):
    enough to run its preStop hook when no source knows its pod any more."""
    spec: Obj = {"name": name}
    ports = _annotation_json(annotations, CONTAINER_PORTS_ANNOTATION)
    if isinstance(ports, list):
        spec["ports"] = ports
    pre_stop = _annotation_json(annotations, CONTAINER_PRE_STOP_HANDLER_ANNOTATION)
    if isinstance(pre_stop, dict):
        spec["lifecycle"] = {"preStop": pre_stop}
    return spec


def restart_count_of(annotations: dict[str, Any]) -> int:
    try:
        return max(0, int(str(annotations.get(CONTAINER_RESTART_COUNT_ANNOTATION, "0"))))
    except ValueError:
        return 0
