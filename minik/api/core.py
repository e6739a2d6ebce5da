"""core/v1 kinds the labs use: Namespace, Pod, Node, Service, Endpoints, Event, ConfigMap."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from minik.api.base import K8sModel
from minik.api.meta import Condition, LabelSelectorRequirement, ObjectReference, TypedObject

IntOrString = int | str


# --- containers --------------------------------------------------------------------------


class ContainerPort(K8sModel):
    name: str | None = None
    container_port: int | None = None
    host_port: int | None = None
    host_ip: str | None = Field(default=None, alias="hostIP")
    protocol: str | None = None


class EnvVar(K8sModel):
    name: str = ""
    value: str | None = None
    value_from: dict[str, Any] | None = None


class ResourceRequirements(K8sModel):
    limits: dict[str, str] | None = None
    requests: dict[str, str] | None = None


class VolumeMount(K8sModel):
    name: str = ""
    mount_path: str = ""
    read_only: bool | None = None
    sub_path: str | None = None


class ExecAction(K8sModel):
    command: list[str] | None = None


class HTTPGetAction(K8sModel):
    path: str | None = None
    port: IntOrString = 0
    host: str | None = None
    scheme: str | None = None
    http_headers: list[dict[str, str]] | None = None


class TCPSocketAction(K8sModel):
    port: IntOrString = 0
    host: str | None = None


class SleepAction(K8sModel):
    seconds: int = 0


class LifecycleHandler(K8sModel):
    """What a postStart/preStop hook runs: exactly one of exec, httpGet, sleep (tcpSocket is accepted
    by validation for compatibility but fails when run, as in Kubernetes)."""

    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    sleep: SleepAction | None = None


class Lifecycle(K8sModel):
    post_start: LifecycleHandler | None = None
    pre_stop: LifecycleHandler | None = None


class Probe(K8sModel):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    initial_delay_seconds: int | None = None
    period_seconds: int | None = None
    timeout_seconds: int | None = None
    success_threshold: int | None = None
    failure_threshold: int | None = None
    termination_grace_period_seconds: int | None = None


class Capabilities(K8sModel):
    add: list[str] | None = None
    drop: list[str] | None = None


class SecurityContext(K8sModel):
    privileged: bool | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    read_only_root_filesystem: bool | None = None
    allow_privilege_escalation: bool | None = None
    capabilities: Capabilities | None = None


class Container(K8sModel):
    name: str = ""
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    working_dir: str | None = None
    ports: list[ContainerPort] | None = None
    env: list[EnvVar] | None = None
    resources: ResourceRequirements | None = None
    volume_mounts: list[VolumeMount] | None = None
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Lifecycle | None = None
    image_pull_policy: str | None = None
    security_context: SecurityContext | None = None
    termination_message_path: str | None = None
    termination_message_policy: str | None = None
    stdin: bool | None = None
    tty: bool | None = None


# --- pod spec ----------------------------------------------------------------------------


class EmptyDirVolumeSource(K8sModel):
    medium: str | None = None
    size_limit: str | None = None


class HostPathVolumeSource(K8sModel):
    path: str = ""
    type: str | None = None


class Volume(K8sModel):
    name: str = ""
    empty_dir: EmptyDirVolumeSource | None = None
    host_path: HostPathVolumeSource | None = None


class NodeSelectorTerm(K8sModel):
    match_expressions: list[LabelSelectorRequirement] | None = None
    match_fields: list[LabelSelectorRequirement] | None = None


class NodeSelector(K8sModel):
    node_selector_terms: list[NodeSelectorTerm] = Field(default_factory=list)


class PreferredSchedulingTerm(K8sModel):
    weight: int = 0
    preference: NodeSelectorTerm = Field(default_factory=NodeSelectorTerm)


class NodeAffinity(K8sModel):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] | None = None


class Affinity(K8sModel):
    node_affinity: NodeAffinity | None = None


class Toleration(K8sModel):
    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


class PodSecurityContext(K8sModel):
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    fs_group: int | None = None


class PodSpec(K8sModel):
    containers: list[Container] = Field(default_factory=list)
    init_containers: list[Container] | None = None
    volumes: list[Volume] | None = None
    node_selector: dict[str, str] | None = None
    affinity: Affinity | None = None
    tolerations: list[Toleration] | None = None
    restart_policy: str | None = None
    node_name: str | None = None
    scheduler_name: str | None = None
    dns_policy: str | None = None
    termination_grace_period_seconds: int | None = None
    active_deadline_seconds: int | None = None
    service_account_name: str | None = None
    host_network: bool | None = None
    host_pid: bool | None = Field(default=None, alias="hostPID")
    host_ipc: bool | None = Field(default=None, alias="hostIPC")
    hostname: str | None = None
    subdomain: str | None = None
    priority: int | None = None
    enable_service_links: bool | None = None
    security_context: PodSecurityContext | None = None


class PodTemplateSpec(K8sModel):
    metadata: dict[str, Any] | None = None
    spec: PodSpec = Field(default_factory=PodSpec)


# --- pod status --------------------------------------------------------------------------


class ContainerStateWaiting(K8sModel):
    reason: str | None = None
    message: str | None = None


class ContainerStateRunning(K8sModel):
    started_at: str | None = None


class ContainerStateTerminated(K8sModel):
    exit_code: int = 0
    signal: int | None = None
    reason: str | None = None
    message: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    container_id: str | None = Field(default=None, alias="containerID")


class ContainerState(K8sModel):
    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(K8sModel):
    name: str = ""
    state: ContainerState | None = None
    last_state: ContainerState | None = None
    ready: bool = False
    restart_count: int = 0
    image: str = ""
    image_id: str = Field(default="", alias="imageID")
    container_id: str | None = Field(default=None, alias="containerID")
    started: bool | None = None


class PodIP(K8sModel):
    ip: str = ""


class PodStatus(K8sModel):
    phase: str | None = None
    conditions: list[Condition] | None = None
    message: str | None = None
    reason: str | None = None
    host_ip: str | None = Field(default=None, alias="hostIP")
    host_ips: list[PodIP] | None = Field(default=None, alias="hostIPs")
    pod_ip: str | None = Field(default=None, alias="podIP")
    pod_ips: list[PodIP] | None = Field(default=None, alias="podIPs")
    start_time: str | None = None
    init_container_statuses: list[ContainerStatus] | None = None
    container_statuses: list[ContainerStatus] | None = None
    qos_class: str | None = None
    nominated_node_name: str | None = None


class Pod(TypedObject):
    spec: PodSpec = Field(default_factory=PodSpec)
    status: PodStatus | None = None


class Binding(TypedObject):
    target: ObjectReference = Field(default_factory=ObjectReference)


# --- node --------------------------------------------------------------------------------


class Taint(K8sModel):
    key: str = ""
    value: str | None = None
    effect: str = ""
    time_added: str | None = None


class NodeSpec(K8sModel):
    pod_cidr: str | None = Field(default=None, alias="podCIDR")
    pod_cidrs: list[str] | None = Field(default=None, alias="podCIDRs")
    taints: list[Taint] | None = None
    unschedulable: bool | None = None
    provider_id: str | None = Field(default=None, alias="providerID")


class NodeAddress(K8sModel):
    type: str = ""
    address: str = ""


class NodeSystemInfo(K8sModel):
    machine_id: str = Field(default="", alias="machineID")
    system_uuid: str = Field(default="", alias="systemUUID")
    boot_id: str = Field(default="", alias="bootID")
    kernel_version: str = ""
    os_image: str = ""
    container_runtime_version: str = ""
    kubelet_version: str = ""
    kube_proxy_version: str = ""
    operating_system: str = ""
    architecture: str = ""


class NodeStatus(K8sModel):
    capacity: dict[str, str] | None = None
    allocatable: dict[str, str] | None = None
    conditions: list[Condition] | None = None
    addresses: list[NodeAddress] | None = None
    node_info: NodeSystemInfo | None = None
    phase: str | None = None


class Node(TypedObject):
    spec: NodeSpec = Field(default_factory=NodeSpec)
    status: NodeStatus | None = None


# --- namespace ---------------------------------------------------------------------------


class NamespaceSpec(K8sModel):
    finalizers: list[str] | None = None


class NamespaceStatus(K8sModel):
    phase: str | None = None


class Namespace(TypedObject):
    spec: NamespaceSpec | None = None
    status: NamespaceStatus | None = None


# --- service & endpoints -----------------------------------------------------------------


class ServicePort(K8sModel):
    name: str | None = None
    protocol: str | None = None
    port: int = 0
    target_port: IntOrString | None = None
    node_port: int | None = None


class ServiceSpec(K8sModel):
    type: str | None = None
    selector: dict[str, str] | None = None
    ports: list[ServicePort] | None = None
    cluster_ip: str | None = Field(default=None, alias="clusterIP")
    cluster_ips: list[str] | None = Field(default=None, alias="clusterIPs")
    external_ips: list[str] | None = Field(default=None, alias="externalIPs")
    session_affinity: str | None = None
    external_traffic_policy: str | None = None
    internal_traffic_policy: str | None = None
    ip_families: list[str] | None = None
    ip_family_policy: str | None = None


class Service(TypedObject):
    spec: ServiceSpec = Field(default_factory=ServiceSpec)
    status: dict[str, Any] | None = None


class EndpointAddress(K8sModel):
    ip: str = ""
    hostname: str | None = None
    node_name: str | None = None
    target_ref: ObjectReference | None = None


class EndpointPort(K8sModel):
    name: str | None = None
    port: int = 0
    protocol: str | None = None


class EndpointSubset(K8sModel):
    addresses: list[EndpointAddress] | None = None
    not_ready_addresses: list[EndpointAddress] | None = None
    ports: list[EndpointPort] | None = None


class Endpoints(TypedObject):
    subsets: list[EndpointSubset] | None = None


# --- configmap ---------------------------------------------------------------------------


class ConfigMap(TypedObject):
    """Plain configuration; `kube-public/cluster-info` is how a joining machine discovers the cluster."""

    data: dict[str, str] | None = None
    binary_data: dict[str, str] | None = None
    immutable: bool | None = None


# --- event -------------------------------------------------------------------------------


class EventSource(K8sModel):
    component: str | None = None
    host: str | None = None


class Event(TypedObject):
    involved_object: ObjectReference = Field(default_factory=ObjectReference)
    reason: str | None = None
    message: str | None = None
    source: EventSource | None = None
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    event_time: str | None = None
    count: int | None = None
    type: str | None = None
    action: str | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None
