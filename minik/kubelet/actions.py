"""compute_pod_actions: what a sync must do to bring a pod's runtime state to its spec (pure logic).

Mirrors kuberuntime_manager's computePodActions: (re)create the sandbox when there is no ready one
(all init containers then run again), run init containers one at a time in order, start app containers
that should be (re)started per the restart policy, and kill the ones whose spec changed or that failed
their liveness or startup probe. When nothing should keep running, the whole pod is killed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from minik.kubelet import podutil
from minik.kubelet.container import hash_container
from minik.kubelet.types import (
    CONTAINER_CREATED,
    CONTAINER_EXITED,
    CONTAINER_RUNNING,
    CONTAINER_UNKNOWN,
    ContainerStatus,
    Obj,
    PodStatus,
)

REASON_LIVENESS = "LivenessProbe"
REASON_STARTUP = "StartupProbe"
REASON_DEFINITION_CHANGED = "DefinitionChanged"
REASON_UNKNOWN = "Unknown"


@dataclass
class ContainerToKill:
    name: str
    container: Obj | None
    message: str
    reason: str = ""


@dataclass
class PodActions:
    kill_pod: bool = False
    create_sandbox: bool = False
    sandbox_id: str = ""
    attempt: int = 0
    next_init_container_to_start: Obj | None = None
    containers_to_start: list[Obj] = field(default_factory=list)
    containers_to_kill: dict[str, ContainerToKill] = field(default_factory=dict)

    def nothing_to_do(self) -> bool:
        return not (self.kill_pod or self.create_sandbox or self.next_init_container_to_start
                    or self.containers_to_start or self.containers_to_kill)


def pod_sandbox_changed(pod: Obj, status: PodStatus) -> tuple[bool, int, str]:
    """(create a new sandbox?, its attempt number, the current sandbox id)."""
    if not status.sandboxes:
        return True, 0, ""
    newest = status.sandboxes[0]
    ready = sum(1 for s in status.sandboxes if s.ready)
    if ready > 1 or not newest.ready:
        return True, newest.attempt + 1, newest.id
    if newest.host_network != podutil.host_network(pod):
        return True, newest.attempt + 1, newest.id
    return False, newest.attempt, newest.id


def is_init_container_failed(status: ContainerStatus) -> bool:
    return (status.state == CONTAINER_EXITED and status.exit_code != 0) or status.state == CONTAINER_UNKNOWN


def find_next_init_container_to_run(pod: Obj, status: PodStatus) -> tuple[ContainerStatus | None, Obj | None, bool]:
    """(status of the last failed init container, the init container to run next, all done?)."""
    inits = podutil.init_containers(pod)
    if not inits:
        return None, None, True
    for container in podutil.containers(pod):
        found = status.find_container(str(container["name"]))
        if found is not None and found.state == CONTAINER_RUNNING:
            return None, None, True  # app containers run: the init containers did, some time ago
    for container in reversed(inits):
        found = status.find_container(str(container["name"]))
        if found is not None and is_init_container_failed(found):
            return found, container, False
    for index in range(len(inits) - 1, -1, -1):
        found = status.find_container(str(inits[index]["name"]))
        if found is None:
            continue
        if found.state == CONTAINER_RUNNING:
            return None, None, False
        if found.state == CONTAINER_EXITED:
            if index == len(inits) - 1:
                return None, None, True
            return None, inits[index + 1], False
    return None, inits[0], False


def should_container_be_restarted(container: Obj, pod: Obj, status: PodStatus) -> bool:
    """Kubernetes' ShouldContainerBeRestarted: never for a pod being deleted; else per restart policy."""
    if podutil.deletion_timestamp(pod):
        return False
    found = status.find_container(str(container["name"]))
    if found is None:
        return True
    if found.state == CONTAINER_RUNNING:
        return False
    if found.state in (CONTAINER_UNKNOWN, CONTAINER_CREATED):
        return True
    policy = podutil.restart_policy(pod)
    if policy == "Never":
        return False
    return not (policy == "OnFailure" and found.exit_code == 0)


def _container_succeeded(container: Obj, status: PodStatus) -> bool:
    found = status.find_container(str(container["name"]))
    return found is not None and found.state == CONTAINER_EXITED and found.exit_code == 0


def compute_pod_actions(
    pod: Obj,
    status: PodStatus,
    liveness_failed: Callable[[str], bool] = lambda _id: False,
    startup_failed: Callable[[str], bool] = lambda _id: False,
) -> PodActions:
    create_sandbox, attempt, sandbox_id = pod_sandbox_changed(pod, status)
    actions = PodActions(kill_pod=create_sandbox, create_sandbox=create_sandbox, sandbox_id=sandbox_id,
                         attempt=attempt)
    containers = podutil.containers(pod)
    if create_sandbox:
        if not podutil.should_restart_on_failure(pod) and attempt != 0 and status.containers:
            # a Never pod whose sandbox died after its containers ran: nothing may run again
            actions.create_sandbox = False
            return actions
        to_start = [c for c in containers
                    if not (podutil.restart_policy(pod) == "OnFailure" and _container_succeeded(c, status))]
        if not to_start:
            _, _, done = find_next_init_container_to_run(pod, status)
            if done:
                actions.create_sandbox = False
                return actions
        inits = podutil.init_containers(pod)
        if inits:
            actions.next_init_container_to_start = inits[0]
            return actions
        actions.containers_to_start = to_start
        return actions

    last_init, next_init, done = find_next_init_container_to_run(pod, status)
    if not done:
        if next_init is not None:
            failed = last_init is not None and is_init_container_failed(last_init)
            if failed and not podutil.should_restart_on_failure(pod):
                actions.kill_pod = True
            else:
                if last_init is not None and last_init.state == CONTAINER_UNKNOWN:
                    actions.containers_to_kill[last_init.id] = ContainerToKill(
                        last_init.name, next_init, "The container is in unknown state, will be killed and recreated",
                        REASON_UNKNOWN)
                actions.next_init_container_to_start = next_init
        return actions

    keep = 0
    for container in containers:
        name = str(container["name"])
        found = status.find_container(name)
        if found is None or found.state != CONTAINER_RUNNING:
            if should_container_be_restarted(container, pod, status):
                actions.containers_to_start.append(container)
            continue
        restart = podutil.should_restart_on_failure(pod)
        if found.hash and found.hash != hash_container(container):
            message, reason, restart = f"Container {name} definition changed", REASON_DEFINITION_CHANGED, True
        elif liveness_failed(found.id):
            message, reason = f"Container {name} failed liveness probe", REASON_LIVENESS
        elif startup_failed(found.id):
            message, reason = f"Container {name} failed startup probe", REASON_STARTUP
        else:
            keep += 1
            continue
        if podutil.deletion_timestamp(pod):
            restart = False
        if restart:
            message += ", will be restarted"
            actions.containers_to_start.append(container)
        actions.containers_to_kill[found.id] = ContainerToKill(name, container, message, reason)
    if keep == 0 and not actions.containers_to_start:
        actions.kill_pod = True
    return actions
