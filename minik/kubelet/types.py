"""Names shared across the kubelet: runtime labels/annotations, container states, and the runtime's view
of a pod (kubecontainer.PodStatus) that status generation and compute_pod_actions read.

The labels and annotations are Kubernetes' own (`io.kubernetes.pod.uid`, ...), so `minik crictl ps`
on a node shows the same metadata `crictl` shows on a Kubernetes node, and a restarted kubelet finds
its pods' sandboxes and containers (and their restart counts) from the runtime alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

# ---------------------------------------------------------------- runtime labels and annotations

POD_NAME_LABEL = "io.kubernetes.pod.name"
POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
POD_UID_LABEL = "io.kubernetes.pod.uid"
CONTAINER_NAME_LABEL = "io.kubernetes.container.name"
CONTAINER_TYPE_LABEL = "io.kubernetes.container.type"  # minik: "init" or "regular"
KUBELET_MANAGED_LABEL = "io.kubernetes.kubelet"  # value: node name, so two kubelets on one runtime never mix

CONTAINER_HASH_ANNOTATION = "io.kubernetes.container.hash"
CONTAINER_RESTART_COUNT_ANNOTATION = "io.kubernetes.container.restartCount"
TERMINATION_MESSAGE_PATH_ANNOTATION = "io.kubernetes.container.terminationMessagePath"
TERMINATION_MESSAGE_POLICY_ANNOTATION = "io.kubernetes.container.terminationMessagePolicy"
TERMINATION_MESSAGE_HOST_PATH_ANNOTATION = "minik.io/terminationMessageHostPath"
POD_TERMINATION_GRACE_ANNOTATION = "io.kubernetes.pod.terminationGracePeriod"
# what a kill needs when the pod is gone from every source (an orphan): the preStop hook and the ports
CONTAINER_PRE_STOP_HANDLER_ANNOTATION = "io.kubernetes.container.preStopHandler"
CONTAINER_PORTS_ANNOTATION = "io.kubernetes.container.ports"
CONTAINER_IMAGE_ANNOTATION = "minik.io/image"  # the image as the pod spec names it

# static pods
CONFIG_MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
CONFIG_HASH_ANNOTATION = "kubernetes.io/config.hash"
CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source"
CONFIG_SEEN_ANNOTATION = "kubernetes.io/config.seen"

# ---------------------------------------------------------------- runtime states

CONTAINER_RUNNING = "running"
CONTAINER_CREATED = "created"
CONTAINER_EXITED = "exited"
CONTAINER_UNKNOWN = "unknown"

CRI_CONTAINER_STATES = {
    "CONTAINER_RUNNING": CONTAINER_RUNNING,
    "CONTAINER_CREATED": CONTAINER_CREATED,
    "CONTAINER_EXITED": CONTAINER_EXITED,
}

# ---------------------------------------------------------------- waiting reasons (kubectl shows them)

POST_START_HOOK_ERROR = "PostStartHookError"

CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
CREATE_CONTAINER_ERROR = "CreateContainerError"
RUN_CONTAINER_ERROR = "RunContainerError"
CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"

RUNTIME_PREFIX = "minik://"  # containerID in pod status: `minik://<id>` like `containerd://<id>`


@dataclass
class ContainerStatus:
    """One container instance as the runtime reports it (kubecontainer.Status)."""

    id: str
    name: str
    state: str
    created_at: int = 0  # ns since the epoch
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    image: str = ""
    image_ref: str = ""
    hash: str = ""
    restart_count: int = 0
    reason: str = ""
    message: str = ""
    log_path: str = ""
    init: bool = False
    sandbox_id: str = ""
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def container_id(self) -> str:
        return f"{RUNTIME_PREFIX}{self.id}"


@dataclass
class SandboxStatus:
    id: str
    ready: bool
    created_at: int = 0
    attempt: int = 0
    ip: str = ""
    host_network: bool = False


@dataclass
class PodStatus:
    """Everything the runtime knows about one pod: its sandboxes and containers, newest first."""

    uid: str
    name: str = ""
    namespace: str = ""
    sandboxes: list[SandboxStatus] = field(default_factory=list)
    containers: list[ContainerStatus] = field(default_factory=list)

    @property
    def ips(self) -> list[str]:
        for sandbox in self.sandboxes:
            if sandbox.ready and sandbox.ip:
                return [sandbox.ip]
        return []

    def find_container(self, name: str) -> ContainerStatus | None:
        """The newest instance of a container (Kubernetes' FindContainerStatusByName)."""
        for status in self.containers:
            if status.name == name:
                return status
        return None

    def instances(self, name: str) -> list[ContainerStatus]:
        return [s for s in self.containers if s.name == name]

    def running(self) -> list[ContainerStatus]:
        return [s for s in self.containers if s.state == CONTAINER_RUNNING]


def pod_full_name(pod: Obj) -> str:
    """`name_namespace`, the kubelet's key for a pod in messages (format.Pod without the uid)."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}"


def format_pod(pod: Obj) -> str:
    """`name_namespace(uid)`, as Kubernetes names a pod in kubelet messages and events."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"
