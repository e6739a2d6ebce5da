"""generate_api_pod_status: the pod's API status from what the runtime reports (pure logic).

Follows the kubelet's generateAPIPodStatus / convertToAPIContainerStatuses / getPhase and the
status package's condition generators, so kubectl (and minik's printers) derive the same
READY/STATUS/RESTARTS a Kubernetes cluster shows: Init:0/1, PodInitializing, CrashLoopBackOff,
OOMKilled, Completed, Error.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from minik.kubelet import podutil
from minik.kubelet.actions import should_container_be_restarted
from minik.kubelet.types import (
    CONTAINER_CREATING,
    CONTAINER_EXITED,
    CONTAINER_RUNNING,
    POD_INITIALIZING,
    ContainerStatus,
    Obj,
    PodStatus,
)

KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def rfc3339(ns_or_seconds: float, ns: bool = True) -> str:
    seconds = ns_or_seconds / 1e9 if ns else ns_or_seconds
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class WaitingReason:
    """Why a container could not be started on the last sync (the kubelet's reasonCache)."""

    reason: str
    message: str = ""


@dataclass
class ProbeView:
    """What the prober knows: readiness and startup by container id."""

    ready: Callable[[str], bool] = lambda _id: True
    started: Callable[[str], bool] = lambda _id: True


def _go_list(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def convert_container_status(status: ContainerStatus) -> Obj:
    """One runtime container -> API ContainerStatus (state only; ready/started are filled later)."""
    api: Obj = {"name": status.name, "state": {}, "lastState": {}, "ready": False,
                "restartCount": status.restart_count, "image": status.image, "imageID": status.image_ref,
                "containerID": status.container_id}
    if status.state == CONTAINER_RUNNING:
        api["state"] = {"running": {"startedAt": rfc3339(status.started_at)}}
    elif status.state == CONTAINER_EXITED:
        terminated: Obj = {"exitCode": status.exit_code, "reason": status.reason or
                           ("Completed" if status.exit_code == 0 else "Error"),
                           "startedAt": rfc3339(status.started_at) if status.started_at else None,
                           "finishedAt": rfc3339(status.finished_at) if status.finished_at else None,
                           "containerID": status.container_id}
        if status.message:
            terminated["message"] = status.message
        api["state"] = {"terminated": terminated}
    else:
        api["state"] = {"waiting": {}}
    return api


def convert_to_api_container_statuses(
    pod: Obj,
    runtime: PodStatus,
    old_statuses: list[Obj],
    containers: list[Obj],
    has_init_containers: bool,
    is_init: bool,
    reasons: dict[str, WaitingReason],
    probes: ProbeView,
) -> list[Obj]:
    default_reason = POD_INITIALIZING if has_init_containers else CONTAINER_CREATING
    old_by_name = {str(s.get("name")): s for s in old_statuses if isinstance(s, dict)}
    statuses: dict[str, Obj] = {}
    for container in containers:
        name = str(container["name"])
        api: Obj = {"name": name, "state": {"waiting": {"reason": default_reason}}, "lastState": {},
                    "ready": False, "restartCount": 0, "image": str(container.get("image") or ""), "imageID": ""}
        old = old_by_name.get(name)
        if old is not None:
            if ((old.get("state") or {}).get("terminated")) is not None:
                api = copy.deepcopy(old)
            else:
                api["restartCount"] = int(old.get("restartCount") or 0)
                api["lastState"] = copy.deepcopy(old.get("lastState") or {})
        statuses[name] = api

    seen: dict[str, int] = {}
    for status in sorted(runtime.containers, key=lambda s: s.created_at, reverse=True):
        if status.name not in statuses or seen.get(status.name, 0) >= 2:
            continue
        converted = convert_container_status(status)
        if seen.get(status.name, 0) == 0:
            statuses[status.name] = converted
        else:
            statuses[status.name]["lastState"] = converted["state"]
        seen[status.name] = seen.get(status.name, 0) + 1

    for container in containers:
        name = str(container["name"])
        if is_init:
            found = runtime.find_container(name)
            if found is not None and found.state == CONTAINER_EXITED and found.exit_code == 0:
                continue
        if not should_container_be_restarted(container, pod, runtime):
            continue
        why = reasons.get(name)
        if why is None:
            continue
        api = statuses[name]
        if (api.get("state") or {}).get("terminated") is not None:
            api["lastState"] = api["state"]
        waiting: Obj = {"reason": why.reason}
        if why.message:
            waiting["message"] = why.message
        api["state"] = {"waiting": waiting}

    out = []
    for container in containers:
        api = statuses[str(container["name"])]
        container_id = str(api.get("containerID") or "").removeprefix("minik://")
        running = (api.get("state") or {}).get("running") is not None
        api["started"] = bool(running and container_id and probes.started(container_id))
        api["ready"] = bool(api["started"] and probes.ready(container_id))
        if not api.get("containerID"):
            api.pop("containerID", None)
        out.append(api)
    return out


def _state(status: Obj | None, key: str) -> Any:
    return ((status or {}).get("state") or {}).get(key)


def get_phase(pod: Obj, statuses: list[Obj], init_statuses: list[Obj], pod_is_terminal: bool) -> str:
    by_name = {str(s.get("name")): s for s in [*statuses, *init_statuses]}
    pending_init = failed_init = 0
    for container in podutil.init_containers(pod):
        status = by_name.get(str(container["name"]))
        if status is None or _state(status, "running") is not None:
            pending_init += 1
        elif _state(status, "terminated") is not None:
            if int(_state(status, "terminated").get("exitCode") or 0) != 0:
                failed_init += 1
        elif _state(status, "waiting") is not None:
            last = (status.get("lastState") or {}).get("terminated")
            if last is not None:
                if int(last.get("exitCode") or 0) != 0:
                    failed_init += 1
            else:
                pending_init += 1
        else:
            pending_init += 1
    unknown = running = waiting = stopped = succeeded = 0
    for container in podutil.containers(pod):
        status = by_name.get(str(container["name"]))
        if status is None:
            unknown += 1
        elif _state(status, "running") is not None:
            running += 1
        elif _state(status, "terminated") is not None:
            stopped += 1
            if int(_state(status, "terminated").get("exitCode") or 0) == 0:
                succeeded += 1
        elif _state(status, "waiting") is not None:
            if (status.get("lastState") or {}).get("terminated") is not None:
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1
    policy = podutil.restart_policy(pod)
    if failed_init > 0 and policy == "Never":
        return "Failed"
    if pending_init > 0 or waiting > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if pod_is_terminal and not podutil.is_static_pod(pod):
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _condition(type_: str, ok: bool, reason: str = "", message: str = "") -> Obj:
    cond: Obj = {"type": type_, "status": "True" if ok else "False", "lastProbeTime": None}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def initialized_condition(pod: Obj, init_statuses: list[Obj], statuses: list[Obj], phase: str) -> Obj:
    inits = podutil.init_containers(pod)
    if not inits:
        return _condition("Initialized", True)
    by_name = {str(s.get("name")): s for s in init_statuses}
    unknown, incomplete = [], []
    for container in inits:
        name = str(container["name"])
        status = by_name.get(name)
        if status is None:
            unknown.append(name)
            continue
        terminated = _state(status, "terminated")
        if terminated is None or int(terminated.get("exitCode") or 0) != 0:
            incomplete.append(name)
    if phase == "Succeeded" and not unknown:
        return _condition("Initialized", True, "PodCompleted")
    if any(s.get("started") or _state(s, "running") is not None for s in statuses):
        return _condition("Initialized", True)
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_go_list(unknown)}")
    if incomplete:
        messages.append(f"containers with incomplete status: {_go_list(incomplete)}")
    if messages:
        return _condition("Initialized", False, "ContainersNotInitialized", ", ".join(messages))
    return _condition("Initialized", True)


def containers_ready_condition(pod: Obj, statuses: list[Obj], phase: str) -> Obj:
    by_name = {str(s.get("name")): s for s in statuses}
    unknown, unready = [], []
    for container in podutil.containers(pod):
        name = str(container["name"])
        status = by_name.get(name)
        if status is None:
            unknown.append(name)
        elif not status.get("ready"):
            unready.append(name)
    if phase == "Succeeded" and not unknown:
        return _condition("ContainersReady", False, "PodCompleted")
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_go_list(unknown)}")
    if unready:
        messages.append(f"containers with unready status: {_go_list(unready)}")
    if messages:
        return _condition("ContainersReady", False, "ContainersNotReady", ", ".join(messages))
    return _condition("ContainersReady", True)


def ready_condition(pod: Obj, containers_ready: Obj, old_conditions: list[Obj]) -> Obj:
    if containers_ready["status"] != "True":
        return {**containers_ready, "type": "Ready"}
    gates = [g.get("conditionType") for g in podutil.spec(pod).get("readinessGates") or [] if isinstance(g, dict)]
    missing, false = [], []
    for gate in gates:
        cond = next((c for c in old_conditions if c.get("type") == gate), None)
        if cond is None:
            missing.append(str(gate))
        elif cond.get("status") != "True":
            false.append(str(gate))
    messages = []
    if missing:
        messages.append(f"corresponding condition of pod readiness gate \"{missing[0]}\" does not exist.")
    if false:
        messages.append(f"the status of pod readiness gate \"{false[0]}\" is not \"True\", but False")
    if messages:
        return _condition("Ready", False, "ReadinessGatesNotReady", ", ".join(messages))
    return _condition("Ready", True)


def merge_conditions(new: list[Obj], old: list[Obj], now: str) -> list[Obj]:
    """Keep old lastTransitionTime when a condition's status did not change; keep others' conditions."""
    old_by_type = {c.get("type"): c for c in old if isinstance(c, dict)}
    merged = [c for c in old if isinstance(c, dict) and c.get("type") not in KUBELET_CONDITIONS]
    for cond in new:
        previous = old_by_type.get(cond["type"])
        if previous is not None and previous.get("status") == cond["status"] and previous.get("lastTransitionTime"):
            cond["lastTransitionTime"] = previous["lastTransitionTime"]
        else:
            cond["lastTransitionTime"] = now
        merged.append(cond)
    return merged


def generate_api_pod_status(
    pod: Obj,
    runtime: PodStatus,
    old_status: Obj,
    node_ip: str,
    reasons: dict[str, WaitingReason] | None = None,
    probes: ProbeView | None = None,
    pod_is_terminal: bool = False,
    now: str | None = None,
) -> Obj:
    reasons = reasons or {}
    probes = probes or ProbeView()
    now = now or now_rfc3339()
    inits = podutil.init_containers(pod)
    old_containers = [s for s in old_status.get("containerStatuses") or [] if isinstance(s, dict)]
    old_inits = [s for s in old_status.get("initContainerStatuses") or [] if isinstance(s, dict)]
    statuses = convert_to_api_container_statuses(pod, runtime, old_containers, podutil.containers(pod),
                                                 bool(inits), False, reasons, probes)
    init_statuses = convert_to_api_container_statuses(pod, runtime, old_inits, inits, bool(inits), True,
                                                      reasons, probes)
    phase = get_phase(pod, statuses, init_statuses, pod_is_terminal)
    if podutil.is_terminal_phase(str(old_status.get("phase") or "")):
        phase = str(old_status["phase"])  # a terminal phase never goes back
    old_conditions = [c for c in old_status.get("conditions") or [] if isinstance(c, dict)]
    sandbox_ready = any(s.ready for s in runtime.sandboxes)
    containers_ready = containers_ready_condition(pod, statuses, phase)
    conditions = [
        _condition("PodReadyToStartContainers", sandbox_ready),
        initialized_condition(pod, init_statuses, statuses, phase),
        ready_condition(pod, containers_ready, old_conditions),
        containers_ready,
        _condition("PodScheduled", True),
    ]
    status: Obj = {"phase": phase, "conditions": merge_conditions(conditions, old_conditions, now)}
    if node_ip:
        status["hostIP"] = node_ip
        status["hostIPs"] = [{"ip": node_ip}]
    ips = [node_ip] if podutil.host_network(pod) and node_ip else runtime.ips
    if ips:
        status["podIP"] = ips[0]
        status["podIPs"] = [{"ip": ip} for ip in ips]
    elif old_status.get("podIP"):
        status["podIP"] = old_status["podIP"]
        status["podIPs"] = old_status.get("podIPs") or [{"ip": old_status["podIP"]}]
    status["startTime"] = old_status.get("startTime") or now
    if inits:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = statuses
    status["qosClass"] = old_status.get("qosClass") or podutil.qos_class(pod)
    for key in ("reason", "message", "nominatedNodeName"):
        if old_status.get(key) and podutil.is_terminal_phase(phase):
            status[key] = old_status[key]
    return status
