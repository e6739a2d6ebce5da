"""Kubernetes' defaulting, applied by the apiserver before validation.

Why: `kubectl get -o yaml` must show what a real cluster shows (imagePullPolicy, dnsPolicy,
tolerations, qosClass, ...), and validation and every controller can rely on the fields being set.
This gathers what Kubernetes spreads over SetDefaults_* functions, registry strategies
(PrepareForCreate) and the admission plugins that always run (DefaultTolerationSeconds,
ServiceAccount, Priority). Values the apiserver allocates (clusterIP, nodePort, uid) are not here.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from minik.api.apps import (
    DaemonSet,
    DaemonSetUpdateStrategy,
    Deployment,
    DeploymentStrategy,
    ReplicaSet,
    RollingUpdateDaemonSet,
    RollingUpdateDeployment,
)
from minik.api.base import K8sModel
from minik.api.core import (
    Container,
    EmptyDirVolumeSource,
    Endpoints,
    HTTPGetAction,
    Namespace,
    NamespaceSpec,
    NamespaceStatus,
    Node,
    NodeStatus,
    Pod,
    PodSecurityContext,
    PodSpec,
    PodStatus,
    PodTemplateSpec,
    Probe,
    ResourceRequirements,
    Service,
    Toleration,
    Volume,
)
from minik.api.meta import TypedObject
from minik.api.quantity import canonical, parse_quantity

DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_SCHEDULER_NAME = "default-scheduler"
TERMINATION_MESSAGE_PATH_DEFAULT = "/dev/termination-log"
DEFAULT_TOLERATION_SECONDS = 300
TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
FINALIZER_KUBERNETES = "kubernetes"
DEFAULT_CLIENT_IP_AFFINITY_SECONDS = 10800
VOLUME_DEFAULT_MODE = 0o644  # shown as 420, like kubectl does
# The system PriorityClasses every cluster has; other classes are not served by minik.
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}

# Every volume source Kubernetes knows; a volume naming none of them becomes an emptyDir.
VOLUME_SOURCES = (
    "emptyDir",
    "hostPath",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "quobyte",
    "downwardAPI",
    "fc",
    "flexVolume",
    "configMap",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "storageos",
    "projected",
    "scaleIO",
    "csi",
    "ephemeral",
    "image",
)

# distribution/reference grammar, enough to tell a tag from a registry port.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)


def set_defaults(obj: TypedObject, old: TypedObject | None = None) -> None:
    """Fill Kubernetes' defaults in place; `old` is the stored object on update (None on create)."""
    if isinstance(obj, Pod):
        _default_pod(obj)
    elif isinstance(obj, ReplicaSet):
        _default_replica_set(obj)
    elif isinstance(obj, Deployment):
        _default_deployment(obj)
    elif isinstance(obj, DaemonSet):
        _default_daemon_set(obj)
    elif isinstance(obj, Service):
        _default_service(obj)
    elif isinstance(obj, Namespace):
        _default_namespace(obj, creating=old is None)
    elif isinstance(obj, Node):
        _default_node(obj)
    elif isinstance(obj, Endpoints):
        _default_endpoints(obj)


# --- helpers -----------------------------------------------------------------------------


def _extra(model: K8sModel) -> dict[str, Any]:
    """The unknown-but-kept fields of a model, writable, so defaults can fill fields minik does not model."""
    if model.__pydantic_extra__ is None:
        model.__pydantic_extra__ = {}
    return model.__pydantic_extra__


def _quantity_value(value: Any) -> Decimal | None:
    """A parsed quantity, or None when it does not parse (validation reports that)."""
    try:
        return parse_quantity(str(value))
    except ValueError:
        return None


def _canonical_resources(resources: dict[str, str] | None) -> None:
    """Quantities serialize in canonical form on a real apiserver ("0.5" comes back as "500m")."""
    if not resources:
        return
    for name, value in resources.items():
        if isinstance(value, str | int | float) and _quantity_value(value) is not None:
            resources[name] = canonical(str(value))


def image_pull_policy_for(image: str | None) -> str:
    """Always for `:latest` or an untagged, undigested image; IfNotPresent otherwise (and when unparsable)."""
    match = _REFERENCE.match(image or "")
    if not match:
        return "IfNotPresent"
    tag, digest = match.group("tag"), match.group("digest")
    if tag == "latest" or (not tag and not digest):
        return "Always"
    return "IfNotPresent"


# --- pod spec (pods and pod templates) ---------------------------------------------------


def _default_pod_spec(spec: PodSpec) -> None:
    """SetDefaults_PodSpec plus the per-container defaults; shared by Pods and every pod template."""
    if not spec.dns_policy:
        spec.dns_policy = "ClusterFirst"
    if not spec.restart_policy:
        spec.restart_policy = "Always"
    if spec.security_context is None:
        spec.security_context = PodSecurityContext()
    if spec.termination_grace_period_seconds is None:
        spec.termination_grace_period_seconds = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    if not spec.scheduler_name:
        spec.scheduler_name = DEFAULT_SCHEDULER_NAME
    # v1 conversion keeps the deprecated serviceAccount in step with serviceAccountName.
    extra = _extra(spec)
    if not spec.service_account_name and isinstance(extra.get("serviceAccount"), str):
        spec.service_account_name = extra["serviceAccount"] or None
    if spec.service_account_name:
        extra["serviceAccount"] = spec.service_account_name
    for container in [*spec.containers, *(spec.init_containers or [])]:
        _default_container(container)
    for volume in spec.volumes or []:
        _default_volume(volume)


def _default_container(container: Container) -> None:
    if not container.image_pull_policy:
        container.image_pull_policy = image_pull_policy_for(container.image)
    if not container.termination_message_path:
        container.termination_message_path = TERMINATION_MESSAGE_PATH_DEFAULT
    if not container.termination_message_policy:
        container.termination_message_policy = "File"
    if container.resources is None:
        container.resources = ResourceRequirements()
    _canonical_resources(container.resources.limits)
    _canonical_resources(container.resources.requests)
    for port in container.ports or []:
        if not port.protocol:
            port.protocol = "TCP"
    for probe in (container.liveness_probe, container.readiness_probe, container.startup_probe):
        if probe is not None:
            _default_probe(probe)
    if container.lifecycle is not None:
        for handler in (container.lifecycle.post_start, container.lifecycle.pre_stop):
            if handler is not None and handler.http_get is not None:
                _default_http_get(handler.http_get)
    for env in container.env or []:
        field_ref = (env.value_from or {}).get("fieldRef")
        if isinstance(field_ref, dict) and not field_ref.get("apiVersion"):
            field_ref["apiVersion"] = "v1"


def _default_http_get(action: HTTPGetAction) -> None:
    if not action.path:
        action.path = "/"
    if not action.scheme:
        action.scheme = "HTTP"


def _default_probe(probe: Probe) -> None:
    if not probe.timeout_seconds:
        probe.timeout_seconds = 1
    if not probe.period_seconds:
        probe.period_seconds = 10
    if not probe.success_threshold:
        probe.success_threshold = 1
    if not probe.failure_threshold:
        probe.failure_threshold = 3
    if probe.http_get is not None:
        _default_http_get(probe.http_get)
    grpc = _extra(probe).get("grpc")
    if isinstance(grpc, dict) and grpc.get("service") is None:
        grpc["service"] = ""


def _default_volume(volume: Volume) -> None:
    extra = _extra(volume)
    if volume.empty_dir is None and volume.host_path is None and not any(k in extra for k in VOLUME_SOURCES):
        volume.empty_dir = EmptyDirVolumeSource()
    if volume.host_path is not None and volume.host_path.type is None:
        volume.host_path.type = ""
    size_limit = volume.empty_dir.size_limit if volume.empty_dir is not None else None
    if volume.empty_dir is not None and size_limit is not None and _quantity_value(size_limit) is not None:
        volume.empty_dir.size_limit = canonical(str(size_limit))
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(extra.get(source), dict) and extra[source].get("defaultMode") is None:
            extra[source]["defaultMode"] = VOLUME_DEFAULT_MODE
    projected = extra.get("projected")
    if isinstance(projected, dict):
        for item in projected.get("sources") or []:
            token = item.get("serviceAccountToken") if isinstance(item, dict) else None
            if isinstance(token, dict) and token.get("expirationSeconds") is None:
                token["expirationSeconds"] = 3600


def _default_template(template: PodTemplateSpec) -> None:
    _default_pod_spec(template.spec)


# --- pods ---------------------------------------------------------------------------------


def _default_pod(pod: Pod) -> None:
    spec = pod.spec
    _default_pod_spec(spec)
    # SetDefaults_Pod: only real pods get requests from limits, never templates.
    for container in [*spec.containers, *(spec.init_containers or [])]:
        resources = container.resources or ResourceRequirements()
        container.resources = resources
        if resources.limits is not None:
            if resources.requests is None:
                resources.requests = {}
            for name, value in resources.limits.items():
                resources.requests.setdefault(name, value)
    if spec.enable_service_links is None:
        spec.enable_service_links = True
    if spec.host_network:
        for container in [*spec.containers, *(spec.init_containers or [])]:
            for port in container.ports or []:
                if not port.host_port:
                    port.host_port = port.container_port
    _admit_priority(spec)
    annotations = pod.metadata.annotations or {}
    if not spec.service_account_name and MIRROR_POD_ANNOTATION not in annotations:
        spec.service_account_name = "default"
        _extra(spec)["serviceAccount"] = "default"
    _add_default_tolerations(spec)
    if pod.status is None:
        pod.status = PodStatus()
    if not pod.status.phase:
        pod.status.phase = "Pending"
    if not pod.status.qos_class:
        pod.status.qos_class = pod_qos_class(spec)


def _admit_priority(spec: PodSpec) -> None:
    """The Priority admission plugin: no PriorityClass means priority 0, preempting lower priorities."""
    extra = _extra(spec)
    if spec.priority is None:
        class_name = extra.get("priorityClassName") or ""
        if not class_name:
            spec.priority = 0
        elif class_name in SYSTEM_PRIORITY_CLASSES:
            spec.priority = SYSTEM_PRIORITY_CLASSES[class_name]
    if spec.priority is not None and not extra.get("preemptionPolicy"):
        extra["preemptionPolicy"] = "PreemptLowerPriority"


def _add_default_tolerations(spec: PodSpec) -> None:
    """DefaultTolerationSeconds admission: evict from a not-ready/unreachable node after 300s."""
    tolerations = spec.tolerations or []
    tolerates_not_ready = tolerates_unreachable = False
    for toleration in tolerations:
        no_execute = not toleration.effect or toleration.effect == "NoExecute"
        if no_execute and (not toleration.key or toleration.key == TAINT_NODE_NOT_READY):
            tolerates_not_ready = True
        if no_execute and (not toleration.key or toleration.key == TAINT_NODE_UNREACHABLE):
            tolerates_unreachable = True
    for key, tolerated in (
        (TAINT_NODE_NOT_READY, tolerates_not_ready),
        (TAINT_NODE_UNREACHABLE, tolerates_unreachable),
    ):
        if not tolerated:
            tolerations.append(
                Toleration(
                    key=key,
                    operator="Exists",
                    effect="NoExecute",
                    toleration_seconds=DEFAULT_TOLERATION_SECONDS,
                )
            )
    spec.tolerations = tolerations


def pod_qos_class(spec: PodSpec) -> str:
    """Kubernetes' ComputePodQOS over containers and init containers: BestEffort, Burstable or Guaranteed."""
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for container in [*spec.containers, *(spec.init_containers or [])]:
        resources = container.resources or ResourceRequirements()
        for name, value in (resources.requests or {}).items():
            quantity = _quantity_value(value)
            if name in ("cpu", "memory") and quantity is not None and quantity > 0:
                requests[name] = requests.get(name, Decimal(0)) + quantity
        found: set[str] = set()
        for name, value in (resources.limits or {}).items():
            quantity = _quantity_value(value)
            if name in ("cpu", "memory") and quantity is not None and quantity > 0:
                found.add(name)
                limits[name] = limits.get(name, Decimal(0)) + quantity
        if found != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    matching = all(name in limits and limits[name] == value for name, value in requests.items())
    if guaranteed and matching and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


# --- apps ---------------------------------------------------------------------------------


def _default_replica_set(rs: ReplicaSet) -> None:
    if rs.spec.replicas is None:
        rs.spec.replicas = 1
    if rs.spec.template is None:
        rs.spec.template = PodTemplateSpec()
    _default_template(rs.spec.template)


def _default_deployment(deployment: Deployment) -> None:
    spec = deployment.spec
    if spec.replicas is None:
        spec.replicas = 1
    if spec.strategy is None:
        spec.strategy = DeploymentStrategy()
    if not spec.strategy.type:
        spec.strategy.type = "RollingUpdate"
    if spec.strategy.type == "RollingUpdate":
        if spec.strategy.rolling_update is None:
            spec.strategy.rolling_update = RollingUpdateDeployment()
        if spec.strategy.rolling_update.max_unavailable is None:
            spec.strategy.rolling_update.max_unavailable = "25%"
        if spec.strategy.rolling_update.max_surge is None:
            spec.strategy.rolling_update.max_surge = "25%"
    if spec.revision_history_limit is None:
        spec.revision_history_limit = 10
    if spec.progress_deadline_seconds is None:
        spec.progress_deadline_seconds = 600
    _default_template(spec.template)


def _default_daemon_set(ds: DaemonSet) -> None:
    spec = ds.spec
    if spec.update_strategy is None:
        spec.update_strategy = DaemonSetUpdateStrategy()
    if not spec.update_strategy.type:
        spec.update_strategy.type = "RollingUpdate"
    if spec.update_strategy.type == "RollingUpdate":
        if spec.update_strategy.rolling_update is None:
            spec.update_strategy.rolling_update = RollingUpdateDaemonSet()
        if spec.update_strategy.rolling_update.max_unavailable is None:
            spec.update_strategy.rolling_update.max_unavailable = 1
        if spec.update_strategy.rolling_update.max_surge is None:
            spec.update_strategy.rolling_update.max_surge = 0
    if spec.revision_history_limit is None:
        spec.revision_history_limit = 10
    _default_template(spec.template)


# --- services & endpoints -----------------------------------------------------------------


def _default_service(svc: Service) -> None:
    spec = svc.spec
    extra = _extra(spec)
    if not spec.session_affinity:
        spec.session_affinity = "None"
    if spec.session_affinity == "None":
        extra.pop("sessionAffinityConfig", None)
    elif spec.session_affinity == "ClientIP":
        config = extra.get("sessionAffinityConfig")
        client_ip = config.get("clientIP") if isinstance(config, dict) else None
        if not isinstance(client_ip, dict) or client_ip.get("timeoutSeconds") is None:
            timeout = DEFAULT_CLIENT_IP_AFFINITY_SECONDS
            extra["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": timeout}}
    if not spec.type:
        spec.type = "ClusterIP"
    for port in spec.ports or []:
        if not port.protocol:
            port.protocol = "TCP"
        if port.target_port is None or port.target_port in (0, ""):
            port.target_port = port.port
    externally_accessible = spec.type in ("LoadBalancer", "NodePort") or (
        spec.type == "ClusterIP" and bool(spec.external_ips)
    )
    if externally_accessible and not spec.external_traffic_policy:
        spec.external_traffic_policy = "Cluster"
    if spec.internal_traffic_policy is None and spec.type in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec.internal_traffic_policy = "Cluster"
    if spec.type == "LoadBalancer" and extra.get("allocateLoadBalancerNodePorts") is None:
        extra["allocateLoadBalancerNodePorts"] = True
    if spec.type != "ExternalName":
        _default_service_ips(svc)


def _default_service_ips(svc: Service) -> None:
    """The service registry's clusterIP/clusterIPs sync and IP family choice (single-stack IPv4 cluster)."""
    spec = svc.spec
    if spec.cluster_ip and not spec.cluster_ips:
        spec.cluster_ips = [spec.cluster_ip]
    elif spec.cluster_ips and not spec.cluster_ip:
        spec.cluster_ip = spec.cluster_ips[0]
    headless = spec.cluster_ips == ["None"]
    if spec.ip_family_policy is None:
        dual = len(spec.cluster_ips or []) == 2 or len(spec.ip_families or []) == 2
        # Headless services without a selector take every family the cluster has.
        if dual or (headless and not spec.selector and not spec.ip_families):
            spec.ip_family_policy = "RequireDualStack"
        else:
            spec.ip_family_policy = "SingleStack"
    if not spec.ip_families:
        families: list[str] = []
        for ip in spec.cluster_ips or []:
            if ip != "None":
                families.append("IPv6" if ":" in ip else "IPv4")
        spec.ip_families = families or ["IPv4"]


def _default_endpoints(endpoints: Endpoints) -> None:
    for subset in endpoints.subsets or []:
        for port in subset.ports or []:
            if not port.protocol:
                port.protocol = "TCP"


# --- namespaces & nodes ---------------------------------------------------------------------


def _default_namespace(ns: Namespace, creating: bool) -> None:
    if ns.metadata.name:
        labels = ns.metadata.labels if ns.metadata.labels is not None else {}
        labels[NAMESPACE_NAME_LABEL] = ns.metadata.name
        ns.metadata.labels = labels
    if ns.spec is None:
        ns.spec = NamespaceSpec()
    # The namespace strategy requires the "kubernetes" finalizer on create only: the namespace
    # controller removes it while the namespace is deleted, and it must stay removed.
    if creating and ns.metadata.deletion_timestamp is None:
        finalizers = list(ns.spec.finalizers or [])
        if FINALIZER_KUBERNETES not in finalizers:
            finalizers.append(FINALIZER_KUBERNETES)
        ns.spec.finalizers = finalizers
    if ns.status is None:
        ns.status = NamespaceStatus()
    if not ns.status.phase:
        ns.status.phase = "Active"


def _default_node(node: Node) -> None:
    spec = node.spec
    if spec.pod_cidr and not spec.pod_cidrs:
        spec.pod_cidrs = [spec.pod_cidr]
    elif spec.pod_cidrs and not spec.pod_cidr:
        spec.pod_cidr = spec.pod_cidrs[0]
    if node.status is None:
        node.status = NodeStatus()
    _canonical_resources(node.status.capacity)
    _canonical_resources(node.status.allocatable)
    if node.status.allocatable is None and node.status.capacity is not None:
        node.status.allocatable = dict(node.status.capacity)
