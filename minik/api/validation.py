"""Kubernetes' validation rules, with the field paths and messages Kubernetes reports.

Why: kubectl users see these errors verbatim (`The Pod "x" is invalid: spec.containers[0].image:
Required value`), so the checks, their order, their paths and their words follow
pkg/apis/core/validation, pkg/apis/apps/validation and apimachinery, including their quirks
(`spec.template.labels`, `metadata.taints`). The apiserver runs set_defaults() first, so required
defaulted fields (restartPolicy, dnsPolicy, protocol, ...) are reported only for raw objects.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from minik.api.apps import DaemonSet, Deployment, ReplicaSet
from minik.api.base import K8sModel
from minik.api.coordination import Lease
from minik.api.core import (
    Affinity,
    ConfigMap,
    Container,
    ContainerPort,
    Endpoints,
    EnvVar,
    Event,
    HTTPGetAction,
    Namespace,
    Node,
    NodeSelectorTerm,
    Pod,
    PodSpec,
    PodTemplateSpec,
    Probe,
    ResourceRequirements,
    Service,
    ServicePort,
    Toleration,
    Volume,
    VolumeMount,
)
from minik.api.defaults import MIRROR_POD_ANNOTATION, VOLUME_SOURCES
from minik.api.errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from minik.api.labels import SelectorError, from_label_selector, validate_label_key, validate_label_value
from minik.api.meta import LabelSelector, LabelSelectorRequirement, ObjectMeta, TypedObject
from minik.api.names import (
    max_len_error,
    regex_error,
    validate_dns1035_label,
    validate_dns1123_label,
    validate_dns1123_subdomain,
)
from minik.api.quantity import canonical, parse_quantity

Errors = list[FieldError]
NameFn = Callable[[str, bool], list[str]]

IS_NEGATIVE = "must be greater than or equal to 0"
FIELD_IMMUTABLE = "field is immutable"
MAX_INT32 = 2**31 - 1
MAX_UID = 0xFFFFFFFF
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
UPDATABLE_POD_SPEC_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)

PORT_PROTOCOLS = ["SCTP", "TCP", "UDP"]
RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
TERMINATION_MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"]
HTTP_SCHEMES = ["HTTP", "HTTPS"]
HOST_PATH_TYPES = [
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
]
MOUNT_PROPAGATIONS = ["Bidirectional", "HostToContainer", "None"]
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
TOLERATION_OPERATORS = ["Equal", "Exists"]
PREEMPTION_POLICIES = ["PreemptLowerPriority", "Never"]
SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
SESSION_AFFINITIES = ["ClientIP", "None"]
TRAFFIC_POLICIES = ["Cluster", "Local"]
IP_FAMILIES = ["IPv4", "IPv6"]
IP_FAMILY_POLICIES = ["PreferDualStack", "RequireDualStack", "SingleStack"]
DEPLOYMENT_STRATEGIES = ["Recreate", "RollingUpdate"]
DAEMONSET_STRATEGIES = ["RollingUpdate", "OnDelete"]
MAX_CLIENT_IP_AFFINITY_SECONDS = 86400
STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}
STANDARD_RESOURCES = {
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
}
INTEGER_RESOURCES = {
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
}
STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
# Where "may not specify more than 1 volume type" points, quirks (cephFS, downwarAPI) included.
VOLUME_SOURCE_FIELD = {"cephfs": "cephFS", "downwardAPI": "downwarAPI"}

_PORT_NAME_CHARSET = re.compile(r"^[-a-z0-9]+$")
_PERCENT_FMT = "[0-9]+%"
_HTTP_HEADER_FMT = "[-A-Za-z0-9]+"
_IPV4_SLOPPY = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")


def validate(obj: TypedObject, old: TypedObject | None = None) -> list[FieldError]:
    """All validation errors of `obj`; `old` is the stored object on update, None on create.

    Identical errors (update paths check metadata twice, as Kubernetes does) are reported once,
    as Kubernetes' aggregated message does.
    """
    unique: dict[str, FieldError] = {}
    for error in _validate(obj, old):
        unique.setdefault(str(error), error)
    return list(unique.values())


def _validate(obj: TypedObject, old: TypedObject | None) -> Errors:
    if isinstance(obj, Pod):
        return _validate_pod(obj, old if isinstance(old, Pod) else None)
    if isinstance(obj, Service):
        return _validate_service(obj, old if isinstance(old, Service) else None)
    if isinstance(obj, ReplicaSet):
        return _validate_replica_set(obj, old if isinstance(old, ReplicaSet) else None)
    if isinstance(obj, Deployment):
        return _validate_deployment(obj, old if isinstance(old, Deployment) else None)
    if isinstance(obj, DaemonSet):
        return _validate_daemon_set(obj, old if isinstance(old, DaemonSet) else None)
    if isinstance(obj, Namespace):
        return _validate_namespace(obj, old if isinstance(old, Namespace) else None)
    if isinstance(obj, Node):
        return _validate_node(obj, old if isinstance(old, Node) else None)
    if isinstance(obj, Endpoints):
        return _validate_endpoints(obj, old if isinstance(old, Endpoints) else None)
    if isinstance(obj, Event):
        return _validate_event(obj, old if isinstance(old, Event) else None)
    if isinstance(obj, Lease):
        return _validate_lease(obj, old if isinstance(old, Lease) else None)
    if isinstance(obj, ConfigMap):
        return _validate_config_map(obj, old if isinstance(old, ConfigMap) else None)
    return []


# --- small helpers (apimachinery util/validation) ----------------------------------------


def _not_found(field: str, value: Any) -> FieldError:
    return FieldError(field, "FieldValueNotFound", "", value)


def _too_long(field: str, max_length: int) -> FieldError:
    return FieldError(field, "FieldValueTooLong", f"must have at most {max_length} bytes")


def _inclusive_range(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def _nonnegative(value: int | None, path: str) -> Errors:
    return [invalid(path, value, IS_NEGATIVE)] if (value or 0) < 0 else []


def _port_num_errors(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [_inclusive_range(1, 65535)]


def _port_name_errors(port: str) -> list[str]:
    """IANA_SVC_NAME: what container port names and named targetPorts must look like."""
    errs = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_CHARSET.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _validate_port_num_or_name(port: int | str | None, path: str) -> Errors:
    if isinstance(port, str):
        return [invalid(path, port, msg) for msg in _port_name_errors(port)]
    value = port or 0
    return [invalid(path, value, msg) for msg in _port_num_errors(value)]


def _percent_errors(value: str) -> list[str]:
    if re.match(f"^{_PERCENT_FMT}$", value):
        return []
    return [
        regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'",
            _PERCENT_FMT,
            "1%",
            "93%",
        )
    ]


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Go's ParseIPSloppy: IPv4 octets may carry leading zeros; zones are not IPs."""
    if "%" in value:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        pass
    match = _IPV4_SLOPPY.match(value)
    if match and all(int(octet) <= 255 for octet in match.groups()):
        return ipaddress.IPv4Address(".".join(str(int(octet)) for octet in match.groups()))
    return None


def _is_valid_ip(path: str, value: str) -> Errors:
    if _parse_ip(value) is None:
        return [invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def _is_valid_cidr(path: str, value: str) -> Errors:
    ip, _, bits = value.partition("/")
    parsed = _parse_ip(ip)
    limit = 32 if isinstance(parsed, ipaddress.IPv4Address) else 128
    if parsed is None or not bits.isdigit() or int(bits) > limit:
        return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


def _validate_non_special_ip(value: str, path: str) -> Errors:
    ip = _parse_ip(value)
    if ip is None:
        return [invalid(path, value, "must be a valid IP address")]
    errs = []
    if ip.is_unspecified:
        errs.append(invalid(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        errs.append(invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local:
        errs.append(invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    link_local_multicast = (ipaddress.ip_network("224.0.0.0/24"), ipaddress.ip_network("ff02::/16"))
    if any(ip.version == net.version and ip in net for net in link_local_multicast):
        errs.append(
            invalid(path, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
        )
    return errs


def _quantity(value: Any) -> tuple[Decimal | None, str]:
    """(parsed quantity, parse error message)."""
    try:
        return parse_quantity(str(value)), ""
    except ValueError as exc:
        return None, str(exc)


def _dump(model: K8sModel | None) -> Any:
    return model.to_dict() if model is not None else None


# --- names, labels, annotations, selectors -------------------------------------------------


def _mask_trailing_dash(name: str) -> str:
    """apimachinery's maskTrailingDash: a generateName prefix may end in '-'."""
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def _name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return validate_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def _name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return validate_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def _name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return validate_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def _path_segment_name(name: str, prefix: bool) -> list[str]:
    """ValidatePathSegmentName: the only rule the generic registry applies to every name."""
    if not prefix:
        for illegal in (".", ".."):
            if name == illegal:
                return [f"may not be '{illegal}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


def _validate_label_name(key: str, path: str) -> Errors:
    return [invalid(path, key, msg) for msg in validate_label_key(key)]


def _validate_labels(labels: Mapping[str, Any] | None, path: str) -> Errors:
    errs: Errors = []
    for key, value in (labels or {}).items():
        errs += _validate_label_name(str(key), path)
        errs += [invalid(path, value, msg) for msg in validate_label_value(str(value))]
    return errs


def _validate_annotations(annotations: Mapping[str, Any] | None, path: str) -> Errors:
    errs: Errors = []
    total = 0
    for key, value in (annotations or {}).items():
        errs += [invalid(path, key, msg) for msg in validate_label_key(str(key).lower())]
        total += len(str(key)) + len(str(value))
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(_too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def _validate_label_selector(selector: LabelSelector | None, path: str) -> Errors:
    if selector is None:
        return []
    errs = _validate_labels(selector.match_labels, f"{path}.matchLabels")
    for i, requirement in enumerate(selector.match_expressions or []):
        errs += _validate_selector_requirement(requirement, f"{path}.matchExpressions[{i}]")
    return errs


def _validate_selector_requirement(req: LabelSelectorRequirement, path: str) -> Errors:
    errs: Errors = []
    values = req.values or []
    if req.operator in ("In", "NotIn"):
        if not values:
            errs.append(required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
    elif req.operator in ("Exists", "DoesNotExist"):
        if values:
            errs.append(
                forbidden(
                    f"{path}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                )
            )
    else:
        errs.append(invalid(f"{path}.operator", req.operator, "not a valid selector operator"))
    errs += _validate_label_name(req.key, f"{path}.key")
    for i, value in enumerate(values):
        errs += [invalid(f"{path}.values[{i}]", value, msg) for msg in validate_label_value(value)]
    return errs


def _selector_matches(selector: LabelSelector | None, labels: Mapping[str, str] | None) -> bool | None:
    """LabelSelectorAsSelector(...).Matches(labels): nil matches nothing, empty matches all, None on error."""
    if selector is None:
        return False
    if not selector.match_labels and not selector.match_expressions:
        return True
    try:
        return from_label_selector(selector).matches(dict(labels or {}))
    except SelectorError:
        return None


def _selector_is_empty(selector: LabelSelector) -> bool:
    return not selector.match_labels and not selector.match_expressions


# --- object meta ----------------------------------------------------------------------------


def _validate_object_meta(
    meta: ObjectMeta, namespaced: bool, name_fn: NameFn, path: str = "metadata"
) -> Errors:
    errs: Errors = []
    if meta.generate_name:
        errs += [
            invalid(f"{path}.generateName", meta.generate_name, msg)
            for msg in name_fn(meta.generate_name, True)
        ]
    if not meta.name:
        errs.append(required(f"{path}.name", "name or generateName is required"))
    else:
        errs += [invalid(f"{path}.name", meta.name, msg) for msg in name_fn(meta.name, False)]
    if namespaced:
        if not meta.namespace:
            errs.append(required(f"{path}.namespace"))
        else:
            errs += [
                invalid(f"{path}.namespace", meta.namespace, msg)
                for msg in validate_dns1123_label(meta.namespace)
            ]
    elif meta.namespace:
        errs.append(forbidden(f"{path}.namespace", "not allowed on this type"))
    errs += _nonnegative(meta.generation, f"{path}.generation")
    errs += _validate_meta_common(meta, path)
    return errs


def _validate_meta_common(meta: ObjectMeta, path: str) -> Errors:
    """Labels, annotations, owner references and finalizers: checked on create and on update."""
    errs = _validate_labels(meta.labels, f"{path}.labels")
    errs += _validate_annotations(meta.annotations, f"{path}.annotations")
    errs += _validate_owner_references(meta, f"{path}.ownerReferences")
    finalizers = meta.finalizers or []
    for finalizer in finalizers:
        errs += [invalid(f"{path}.finalizers", finalizer, msg) for msg in validate_label_key(finalizer)]
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(
            invalid(
                f"{path}.finalizers", finalizers, "finalizer orphan and foregroundDeletion cannot be both set"
            )
        )
    for i, finalizer in enumerate(finalizers):
        errs += _validate_kube_finalizer_name(finalizer, f"{path}.finalizers[{i}]")
    return errs


def _validate_kube_finalizer_name(name: str, path: str) -> Errors:
    if "/" not in name and name not in STANDARD_FINALIZERS:
        return [invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified")]
    return []


def _validate_owner_references(meta: ObjectMeta, path: str) -> Errors:
    errs: Errors = []
    first_controller = ""
    for ref in meta.owner_references or []:
        group, _, version = ref.api_version.rpartition("/")
        if ref.api_version.count("/") > 1:
            group = version = ""
        if not version:
            errs.append(invalid(f"{path}.apiVersion", ref.api_version, "version must not be empty"))
        if not ref.kind:
            errs.append(invalid(f"{path}.kind", ref.kind, "must not be empty"))
        if not ref.name:
            errs.append(invalid(f"{path}.name", ref.name, "must not be empty"))
        if not ref.uid:
            errs.append(invalid(f"{path}.uid", ref.uid, "must not be empty"))
        if group == "" and version == "v1" and ref.kind == "Event":
            errs.append(invalid(path, _dump(ref), "/v1, Kind=Event is disallowed from being an owner"))
        if ref.controller:
            current = f"{ref.kind}/{ref.name}"
            if first_controller:
                errs.append(
                    invalid(
                        path,
                        [_dump(r) for r in meta.owner_references or []],
                        'Only one reference can have Controller set to true. Found "true" in '
                        f"references for {first_controller} and {current}",
                    )
                )
            else:
                first_controller = current
    return errs


def _immutable(new: Any, old: Any, path: str) -> Errors:
    return [] if new == old else [invalid(path, new, FIELD_IMMUTABLE)]


def _validate_object_meta_update(new: ObjectMeta, old: ObjectMeta, path: str = "metadata") -> Errors:
    """ValidateObjectMetaUpdate. System fields a client left out (uid, creationTimestamp, ...) and a
    missing resourceVersion (unconditional update) count as unchanged: the apiserver carries them
    over from the stored object before validating, as Kubernetes' registry does."""
    errs: Errors = []
    if old.deletion_timestamp is not None:
        added = sorted(set(new.finalizers or []) - set(old.finalizers or []))
        if added:
            listed = "[]string{" + ", ".join(json.dumps(f) for f in added) + "}"
            errs.append(
                forbidden(
                    f"{path}.finalizers",
                    "no new finalizers can be added if the object is "
                    f"being deleted, found new finalizers {listed}",
                )
            )
    if new.generation is not None and old.generation is not None and new.generation < old.generation:
        errs.append(invalid(f"{path}.generation", new.generation, "must not be decremented"))
    errs += _immutable(new.name or "", old.name or "", f"{path}.name")
    errs += _immutable(new.namespace or "", old.namespace or "", f"{path}.namespace")
    for attr, child in (
        ("uid", "uid"),
        ("creation_timestamp", "creationTimestamp"),
        ("deletion_timestamp", "deletionTimestamp"),
        ("deletion_grace_period_seconds", "deletionGracePeriodSeconds"),
    ):
        new_value = getattr(new, attr)
        if new_value is not None:
            errs += _immutable(new_value, getattr(old, attr), f"{path}.{child}")
    errs += _validate_meta_common(new, path)
    return errs


# --- pods -----------------------------------------------------------------------------------


def _validate_pod(pod: Pod, old: Pod | None) -> Errors:
    errs: Errors = []
    if old is not None:
        errs += _validate_object_meta_update(pod.metadata, old.metadata)
    errs += _validate_object_meta(pod.metadata, True, _name_is_dns_subdomain)
    errs += _validate_pod_specific_annotations(pod.metadata.annotations, pod.spec, "metadata.annotations")
    errs += _validate_pod_spec(pod.spec, "spec", is_pod=True)
    for kind in ("containers", "initContainers"):
        containers = pod.spec.containers if kind == "containers" else pod.spec.init_containers or []
        for i, container in enumerate(containers):
            image = container.image or ""
            if image != image.strip():
                errs.append(
                    invalid(f"spec.{kind}[{i}].image", image, "must not have leading or trailing whitespace")
                )
    extra = _spec_extra(pod.spec)
    if old is None:
        if extra.get("ephemeralContainers"):
            errs.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
        if pod.spec.node_name and extra.get("schedulingGates"):
            errs.append(
                forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared")
            )
        return errs
    errs += _validate_pod_annotation_updates(pod.metadata, old.metadata)
    errs += _validate_pod_spec_update(pod.spec, old.spec)
    return errs


def _validate_pod_specific_annotations(
    annotations: Mapping[str, str] | None, spec: PodSpec, path: str
) -> Errors:
    errs: Errors = []
    annotations = annotations or {}
    if MIRROR_POD_ANNOTATION in annotations and not spec.node_name:
        errs.append(
            invalid(
                f"{path}[{MIRROR_POD_ANNOTATION}]",
                annotations[MIRROR_POD_ANNOTATION],
                "must set spec.nodeName if mirror pod annotation is set",
            )
        )
    if POD_DELETION_COST_ANNOTATION in annotations:
        cost = str(annotations[POD_DELETION_COST_ANNOTATION])
        valid_first = bool(cost) and (cost[0] == "-" or cost == "0" or "1" <= cost[0] <= "9")
        try:
            ok = valid_first and -(2**31) <= int(cost, 10) <= MAX_INT32 and cost.lstrip("-").isdigit()
        except ValueError:
            ok = False
        if not ok:
            errs.append(invalid(f"{path}[{POD_DELETION_COST_ANNOTATION}]", cost, "must be a 32bit integer"))
    return errs


def _validate_pod_annotation_updates(new: ObjectMeta, old: ObjectMeta) -> Errors:
    new_annotations, old_annotations = new.annotations or {}, old.annotations or {}
    path = f"metadata.annotations[{MIRROR_POD_ANNOTATION}]"
    if MIRROR_POD_ANNOTATION in old_annotations:
        if new_annotations.get(MIRROR_POD_ANNOTATION) != old_annotations[MIRROR_POD_ANNOTATION]:
            return [forbidden(path, "may not remove or update mirror pod annotation")]
    elif MIRROR_POD_ANNOTATION in new_annotations:
        return [forbidden(path, "may not add mirror pod annotation")]
    return []


def _spec_extra(spec: K8sModel) -> dict[str, Any]:
    return dict(spec.__pydantic_extra__ or {})


def _validate_pod_spec(spec: PodSpec, path: str, *, is_pod: bool) -> Errors:
    """ValidatePodSpec, for a Pod (`spec`) or a template (`spec.template.spec`)."""
    errs: Errors = []
    extra = _spec_extra(spec)
    if spec.termination_grace_period_seconds is None:
        errs.append(required(f"{path}.terminationGracePeriodSeconds"))
    volumes, volume_errs = _validate_volumes(spec.volumes or [], f"{path}.volumes")
    errs += volume_errs
    grace = spec.termination_grace_period_seconds
    errs += _validate_containers(spec.containers, volumes, grace, f"{path}.containers")
    errs += _validate_init_containers(
        spec.init_containers or [], spec.containers, volumes, grace, f"{path}.initContainers"
    )
    if spec.host_network:
        for i, container in enumerate(spec.containers):
            for j, port in enumerate(container.ports or []):
                host, cport = port.host_port or 0, port.container_port or 0
                if (is_pod or host != 0) and host != cport:
                    errs.append(
                        invalid(
                            f"{path}.containers[{i}].ports[{j}].hostPort",
                            host,
                            "must match `containerPort` when `hostNetwork` is true",
                        )
                    )
    errs += _validate_enum(spec.restart_policy, f"{path}.restartPolicy", RESTART_POLICIES)
    errs += _validate_enum(spec.dns_policy, f"{path}.dnsPolicy", DNS_POLICIES)
    errs += _validate_labels(spec.node_selector, f"{path}.nodeSelector")
    errs += _validate_pod_security_context(spec, f"{path}.securityContext")
    errs += _validate_affinity(spec.affinity, f"{path}.affinity")
    errs += _validate_dns_config(extra.get("dnsConfig"), spec.dns_policy, f"{path}.dnsConfig")
    for field_name, value in (
        ("serviceAccountName", spec.service_account_name),
        ("nodeName", spec.node_name),
    ):
        if value:
            errs += [invalid(f"{path}.{field_name}", value, msg) for msg in validate_dns1123_subdomain(value)]
    if spec.active_deadline_seconds is not None and not 1 <= spec.active_deadline_seconds <= MAX_INT32:
        errs.append(
            invalid(
                f"{path}.activeDeadlineSeconds", spec.active_deadline_seconds, _inclusive_range(1, MAX_INT32)
            )
        )
    for field_name, value in (("hostname", spec.hostname), ("subdomain", spec.subdomain)):
        if value:
            errs += [invalid(f"{path}.{field_name}", value, msg) for msg in validate_dns1123_label(value)]
    if spec.tolerations:
        errs += _validate_tolerations(spec.tolerations, f"{path}.tolerations")
    priority_class = extra.get("priorityClassName")
    if isinstance(priority_class, str) and priority_class:
        errs += [
            invalid(f"{path}.priorityClassName", priority_class, msg)
            for msg in validate_dns1123_subdomain(priority_class)
        ]
    if "preemptionPolicy" in extra and extra["preemptionPolicy"] is not None:
        policy = extra["preemptionPolicy"]
        if policy == "":
            errs.append(required(f"{path}.preemptionPolicy"))
        elif policy not in PREEMPTION_POLICIES:
            errs.append(not_supported(f"{path}.preemptionPolicy", policy, PREEMPTION_POLICIES))
    return errs


def _validate_enum(value: str | None, path: str, supported: list[str]) -> Errors:
    """The `switch` Kubernetes uses for defaulted enums: empty is Required, unknown is NotSupported."""
    if not value:
        return [required(path)]
    if value not in supported:
        return [not_supported(path, value, supported)]
    return []


def _validate_pod_security_context(spec: PodSpec, path: str) -> Errors:
    context = spec.security_context
    if context is None:
        return []
    errs: Errors = []
    for field_name, value in (
        ("fsGroup", context.fs_group),
        ("runAsUser", context.run_as_user),
        ("runAsGroup", context.run_as_group),
    ):
        if value is not None and not 0 <= value <= MAX_UID:
            errs.append(invalid(f"{path}.{field_name}", value, _inclusive_range(0, MAX_UID)))
    return errs


def _validate_dns_config(config: Any, dns_policy: str | None, path: str) -> Errors:
    if dns_policy == "None":
        if not isinstance(config, dict):
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not config.get("nameservers"):
            return [
                required(
                    f"{path}.nameservers", "must provide at least one DNS nameserver when `dnsPolicy` is None"
                )
            ]
    if not isinstance(config, dict):
        return []
    errs: Errors = []
    nameservers = config.get("nameservers") or []
    if len(nameservers) > 3:
        errs.append(invalid(f"{path}.nameservers", nameservers, "must not have more than 3 nameservers"))
    for i, server in enumerate(nameservers):
        errs += _is_valid_ip(f"{path}.nameservers[{i}]", str(server))
    return errs


# --- volumes --------------------------------------------------------------------------------


def _validate_volumes(volumes: list[Volume], path: str) -> tuple[dict[str, Volume], Errors]:
    """The volumes that are valid (so mounts can refer to them) and the errors of the rest."""
    errs: Errors = []
    valid: dict[str, Volume] = {}
    for i, volume in enumerate(volumes):
        index_path = f"{path}[{i}]"
        volume_errs = _validate_volume_source(volume, index_path)
        if not volume.name:
            volume_errs.append(required(f"{index_path}.name"))
        else:
            volume_errs += [
                invalid(f"{index_path}.name", volume.name, msg) for msg in validate_dns1123_label(volume.name)
            ]
        if volume.name in valid:
            volume_errs.append(duplicate(f"{index_path}.name", volume.name))
        if volume_errs:
            errs += volume_errs
        else:
            valid[volume.name] = volume
    return valid, errs


def _validate_volume_source(volume: Volume, path: str) -> Errors:
    errs: Errors = []
    extra = _spec_extra(volume)
    count = 0
    for source in VOLUME_SOURCES:
        if source == "emptyDir":
            value: Any = volume.empty_dir
        elif source == "hostPath":
            value = volume.host_path
        else:
            value = extra.get(source)
        if value is None:
            continue
        if count > 0:
            errs.append(
                forbidden(
                    f"{path}.{VOLUME_SOURCE_FIELD.get(source, source)}",
                    "may not specify more than 1 volume type",
                )
            )
            continue
        count += 1
        errs += _validate_one_volume_source(volume, source, value, f"{path}.{source}")
    if count == 0:
        errs.append(required(path, "must specify a volume type"))
    return errs


def _validate_one_volume_source(volume: Volume, source: str, value: Any, path: str) -> Errors:
    errs: Errors = []
    if source == "emptyDir" and volume.empty_dir is not None and volume.empty_dir.size_limit is not None:
        size, error = _quantity(volume.empty_dir.size_limit)
        if size is None:
            errs.append(invalid(f"{path}.sizeLimit", volume.empty_dir.size_limit, error))
        elif size < 0:
            errs.append(forbidden(f"{path}.sizeLimit", "SizeLimit field must be a valid resource quantity"))
    elif source == "hostPath" and volume.host_path is not None:
        host_path = volume.host_path
        if not host_path.path:
            return [required(f"{path}.path")]
        errs += _validate_no_backsteps(host_path.path, f"{path}.path")
        if host_path.type is not None and host_path.type not in HOST_PATH_TYPES:
            errs.append(not_supported(f"{path}.type", host_path.type, HOST_PATH_TYPES))
    elif isinstance(value, dict):
        required_keys = {
            "secret": ["secretName"],
            "configMap": ["name"],
            "persistentVolumeClaim": ["claimName"],
            "nfs": ["server", "path"],
        }.get(source, [])
        errs += [required(f"{path}.{key}") for key in required_keys if not value.get(key)]
        mode = value.get("defaultMode")
        file_source = source in ("secret", "configMap", "downwardAPI", "projected")
        if file_source and isinstance(mode, int) and not 0 <= mode <= 0o777:
            errs.append(
                invalid(
                    f"{path}.defaultMode", mode, "must be a number between 0 and 0777 (octal), both inclusive"
                )
            )
        if source == "nfs" and not str(value.get("path") or "").startswith("/"):
            errs.append(invalid(f"{path}.path", value.get("path") or "", "must be an absolute path"))
    return errs


def _validate_no_backsteps(target: str, path: str) -> Errors:
    if ".." in target.replace("\\", "/").split("/"):
        return [invalid(path, target, "must not contain '..'")]
    return []


def _validate_local_descending_path(target: str, path: str) -> Errors:
    errs: Errors = []
    if target.startswith("/"):
        errs.append(invalid(path, target, "must be a relative path"))
    return errs + _validate_no_backsteps(target, path)


# --- containers -----------------------------------------------------------------------------


def _validate_containers(
    containers: list[Container], volumes: dict[str, Volume], grace: int | None, path: str
) -> Errors:
    if not containers:
        return [required(path)]
    errs: Errors = []
    names: set[str] = set()
    for i, container in enumerate(containers):
        index_path = f"{path}[{i}]"
        errs += _validate_container_common(container, volumes, index_path)
        if container.name in names:
            errs.append(duplicate(f"{index_path}.name", container.name))
        else:
            names.add(container.name)
        errs += _validate_lifecycle(container, grace, f"{index_path}.lifecycle")
        errs += _validate_probes(container, index_path)
        if _spec_extra(container).get("restartPolicy") is not None:
            errs.append(forbidden(f"{index_path}.restartPolicy", "may not be set for non-init containers"))
    errs += _check_host_port_conflicts(containers, path)
    return errs


def _validate_init_containers(
    containers: list[Container], regular: list[Container], volumes: dict[str, Volume], grace: int | None,
    path: str,
) -> Errors:
    errs: Errors = []
    names = {c.name for c in regular}
    for i, container in enumerate(containers):
        index_path = f"{path}[{i}]"
        errs += _validate_container_common(container, volumes, index_path)
        restart_policy = _spec_extra(container).get("restartPolicy")
        if restart_policy is not None and restart_policy != "Always":
            errs.append(not_supported(f"{index_path}.restartPolicy", restart_policy, ["Always"]))
        if container.name in names:
            errs.append(duplicate(f"{index_path}.name", container.name))
        elif container.name:
            names.add(container.name)
        errs += _check_host_port_conflicts([container], path)
        if restart_policy == "Always":
            errs += _validate_lifecycle(container, grace, f"{index_path}.lifecycle")
            errs += _validate_probes(container, index_path)
        else:
            detail = "may not be set for init containers without restartPolicy=Always"
            if container.lifecycle is not None:
                errs.append(forbidden(f"{index_path}.lifecycle", detail))
            for field_name, probe in (
                ("livenessProbe", container.liveness_probe),
                ("readinessProbe", container.readiness_probe),
                ("startupProbe", container.startup_probe),
            ):
                if probe is not None:
                    errs.append(forbidden(f"{index_path}.{field_name}", detail))
    return errs


def _validate_container_common(container: Container, volumes: dict[str, Volume], path: str) -> Errors:
    errs: Errors = []
    if not container.name:
        errs.append(required(f"{path}.name"))
    else:
        errs += [
            invalid(f"{path}.name", container.name, msg) for msg in validate_dns1123_label(container.name)
        ]
    if not container.image:
        errs.append(required(f"{path}.image"))
    errs += _validate_enum(
        container.termination_message_policy, f"{path}.terminationMessagePolicy", TERMINATION_MESSAGE_POLICIES
    )
    errs += _validate_container_ports(container.ports or [], f"{path}.ports")
    errs += _validate_env(container.env or [], f"{path}.env")
    errs += _validate_volume_mounts(container, volumes, f"{path}.volumeMounts")
    errs += _validate_enum(container.image_pull_policy, f"{path}.imagePullPolicy", PULL_POLICIES)
    errs += _validate_resources(container.resources or ResourceRequirements(), f"{path}.resources")
    errs += _validate_container_security_context(container, f"{path}.securityContext")
    return errs


def _validate_container_security_context(container: Container, path: str) -> Errors:
    context = container.security_context
    if context is None:
        return []
    errs: Errors = []
    for field_name, value in (("runAsUser", context.run_as_user), ("runAsGroup", context.run_as_group)):
        if value is not None and not 0 <= value <= MAX_UID:
            errs.append(invalid(f"{path}.{field_name}", value, _inclusive_range(0, MAX_UID)))
    if context.allow_privilege_escalation is False and context.privileged:
        errs.append(
            invalid(
                path,
                _dump(context),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            )
        )
    return errs


def _validate_container_ports(ports: list[ContainerPort], path: str) -> Errors:
    errs: Errors = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        index_path = f"{path}[{i}]"
        if port.name:
            messages = _port_name_errors(port.name)
            if messages:
                errs += [invalid(f"{index_path}.name", port.name, msg) for msg in messages]
            elif port.name in names:
                errs.append(duplicate(f"{index_path}.name", port.name))
            else:
                names.add(port.name)
        if not port.container_port:
            errs.append(required(f"{index_path}.containerPort"))
        else:
            errs += [
                invalid(f"{index_path}.containerPort", port.container_port, msg)
                for msg in _port_num_errors(port.container_port)
            ]
        if port.host_port:
            errs += [
                invalid(f"{index_path}.hostPort", port.host_port, msg)
                for msg in _port_num_errors(port.host_port)
            ]
        errs += _validate_enum(port.protocol, f"{index_path}.protocol", PORT_PROTOCOLS)
    return errs


def _check_host_port_conflicts(containers: list[Container], path: str) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    for i, container in enumerate(containers):
        for j, port in enumerate(container.ports or []):
            if not port.host_port:
                continue
            key = f"{port.protocol or ''}/{port.host_ip or ''}/{port.host_port}"
            if key in seen:
                errs.append(duplicate(f"{path}[{i}].ports[{j}].hostPort", key))
            else:
                seen.add(key)
    return errs


def _env_name_errors(name: str) -> list[str]:
    """IsRelaxedEnvVarName (RelaxedEnvironmentVariableValidation is GA): printable ASCII but '='."""
    if any(not " " <= ch <= "~" or ch == "=" for ch in name):
        return [
            "a valid environment variable name must consist only of printable ASCII characters other than '='"
        ]
    return []


def _validate_env(env: list[EnvVar], path: str) -> Errors:
    errs: Errors = []
    for i, var in enumerate(env):
        index_path = f"{path}[{i}]"
        if not var.name:
            errs.append(required(f"{index_path}.name"))
        else:
            errs += [invalid(f"{index_path}.name", var.name, msg) for msg in _env_name_errors(var.name)]
        if var.value_from is None:
            continue
        from_path = f"{index_path}.valueFrom"
        sources = [
            k
            for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")
            if var.value_from.get(k) is not None
        ]
        if not sources:
            errs.append(
                invalid(
                    from_path,
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, "
                    "`configMapKeyRef` or `secretKeyRef`",
                )
            )
        elif var.value:
            errs.append(invalid(from_path, "", "may not be specified when `value` is not empty"))
        elif len(sources) > 1:
            errs.append(invalid(from_path, "", "may not have more than one field specified at a time"))
    return errs


def _validate_volume_mounts(container: Container, volumes: dict[str, Volume], path: str) -> Errors:
    errs: Errors = []
    mount_points: set[str] = set()
    privileged = bool(container.security_context and container.security_context.privileged)
    mount: VolumeMount
    for i, mount in enumerate(container.volume_mounts or []):
        index_path = f"{path}[{i}]"
        if not mount.name:
            errs.append(required(f"{index_path}.name"))
        if mount.name not in volumes:
            errs.append(_not_found(f"{index_path}.name", mount.name))
        if not mount.mount_path:
            errs.append(required(f"{index_path}.mountPath"))
        if mount.mount_path in mount_points:
            errs.append(invalid(f"{index_path}.mountPath", mount.mount_path, "must be unique"))
        mount_points.add(mount.mount_path)
        if mount.sub_path:
            errs += _validate_local_descending_path(mount.sub_path, f"{path}.subPath")
        propagation = _spec_extra(mount).get("mountPropagation")
        if propagation is not None:
            if propagation not in MOUNT_PROPAGATIONS:
                errs.append(not_supported(f"{path}.mountPropagation", propagation, MOUNT_PROPAGATIONS))
            if propagation == "Bidirectional" and not privileged:
                errs.append(
                    forbidden(
                        f"{path}.mountPropagation",
                        "Bidirectional mount propagation is available only to privileged containers",
                    )
                )
    return errs


# --- resources ------------------------------------------------------------------------------


def _is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def _is_native_resource(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_extended_resource(name: str) -> bool:
    if _is_native_resource(name) or name.startswith("requests."):
        return False
    return not validate_label_key("requests." + name)


def _is_overcommit_allowed(name: str) -> bool:
    return _is_native_resource(name) and not _is_hugepages(name)


def _validate_container_resource_name(name: str, path: str) -> Errors:
    errs = [invalid(path, name, msg) for msg in validate_label_key(name)]
    if not errs and "/" not in name and name not in STANDARD_RESOURCES and not _is_hugepages(name):
        errs.append(invalid(path, name, "must be a standard resource type or fully qualified"))
    if "/" not in name:
        if name not in STANDARD_CONTAINER_RESOURCES and not _is_hugepages(name):
            errs.append(invalid(path, name, "must be a standard resource for containers"))
    elif not _is_native_resource(name) and not _is_extended_resource(name):
        errs.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return errs


def _validate_quantity_value(name: str, raw: Any, path: str) -> tuple[Decimal | None, Errors]:
    quantity, error = _quantity(raw)
    if quantity is None:
        return None, [invalid(path, raw, error)]
    errs: Errors = []
    if quantity < 0:
        errs.append(invalid(path, canonical(str(raw)), IS_NEGATIVE))
    if (
        name in INTEGER_RESOURCES or _is_extended_resource(name)
    ) and quantity != quantity.to_integral_value():
        errs.append(invalid(path, canonical(str(raw)), "must be an integer"))
    return quantity, errs


def _validate_resources(resources: ResourceRequirements, path: str) -> Errors:
    errs: Errors = []
    limit_path, request_path = f"{path}.limits", f"{path}.requests"
    limits: dict[str, Decimal] = {}
    cpu_or_memory = hugepages = False
    for name, raw in (resources.limits or {}).items():
        errs += _validate_container_resource_name(name, f"{limit_path}[{name}]")
        quantity, quantity_errs = _validate_quantity_value(name, raw, f"{limit_path}[{name}]")
        errs += quantity_errs
        if quantity is not None:
            limits[name] = quantity
        hugepages = hugepages or _is_hugepages(name)
        cpu_or_memory = cpu_or_memory or name in ("cpu", "memory")
    for name, raw in (resources.requests or {}).items():
        errs += _validate_container_resource_name(name, f"{request_path}[{name}]")
        quantity, quantity_errs = _validate_quantity_value(name, raw, f"{request_path}[{name}]")
        errs += quantity_errs
        limit_raw = (resources.limits or {}).get(name)
        if limit_raw is not None:
            limit = limits.get(name)
            if quantity is not None and limit is not None:
                shown, limit_shown = canonical(str(raw)), canonical(str(limit_raw))
                if quantity != limit and not _is_overcommit_allowed(name):
                    errs.append(
                        invalid(request_path, shown, f"must be equal to {name} limit of {limit_shown}")
                    )
                elif quantity > limit:
                    errs.append(
                        invalid(
                            request_path,
                            shown,
                            f"must be less than or equal to {name} limit of {limit_shown}",
                        )
                    )
        elif not _is_overcommit_allowed(name):
            errs.append(required(limit_path, "Limit must be set for non overcommitable resources"))
        hugepages = hugepages or _is_hugepages(name)
        cpu_or_memory = cpu_or_memory or name in ("cpu", "memory")
    if hugepages and not cpu_or_memory:
        errs.append(forbidden(path, "HugePages require cpu or memory"))
    return errs


# --- probes & lifecycle -----------------------------------------------------------------------


def _validate_probes(container: Container, path: str) -> Errors:
    errs: Errors = []
    for field_name, probe in (
        ("livenessProbe", container.liveness_probe),
        ("readinessProbe", container.readiness_probe),
        ("startupProbe", container.startup_probe),
    ):
        if probe is None:
            continue
        probe_path = f"{path}.{field_name}"
        errs += _validate_probe(probe, probe_path)
        if field_name == "readinessProbe":
            if probe.termination_grace_period_seconds is not None:
                errs.append(
                    invalid(
                        f"{probe_path}.terminationGracePeriodSeconds",
                        probe.termination_grace_period_seconds,
                        "must not be set for readinessProbes",
                    )
                )
        elif (probe.success_threshold or 0) != 1:
            errs.append(invalid(f"{probe_path}.successThreshold", probe.success_threshold or 0, "must be 1"))
    return errs


def _validate_probe(probe: Probe, path: str) -> Errors:
    handlers: dict[str, Any] = {
        "exec": _dump(probe.exec),
        "httpGet": probe.http_get,
        "tcpSocket": _dump(probe.tcp_socket),
        "grpc": _spec_extra(probe).get("grpc"),
    }
    errs = _validate_handler(handlers, None, path)
    for field_name, value in (
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ):
        errs += _nonnegative(value, f"{path}.{field_name}")
    grace = probe.termination_grace_period_seconds
    if grace is not None and grace <= 0:
        errs.append(invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be greater than 0"))
    return errs


def _validate_handler(handlers: dict[str, Any], grace: int | None, path: str) -> Errors:
    """Exactly one of exec/httpGet/tcpSocket/grpc/sleep, each well formed; a sleep must fit in `grace`."""
    errs: Errors = []
    count = 0
    for kind, handler in handlers.items():
        if handler is None:
            continue
        if count > 0:
            errs.append(forbidden(f"{path}.{kind}", "may not specify more than 1 handler type"))
            continue
        count += 1
        handler_path = f"{path}.{kind}"
        fields = handler if isinstance(handler, dict) else {}
        if kind == "exec" and not fields.get("command"):
            errs.append(required(f"{handler_path}.command"))
        elif kind == "httpGet":
            action = handler if isinstance(handler, HTTPGetAction) else _http_get_action(fields)
            errs += _validate_http_get(action, handler_path)
        elif kind in ("tcpSocket", "grpc"):
            port = fields.get("port") or 0
            errs += _validate_port_num_or_name(
                port if isinstance(port, int | str) else 0, f"{handler_path}.port"
            )
        elif kind == "sleep":
            errs += _validate_sleep_action(fields.get("seconds") or 0, grace, handler_path)
    if count == 0:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _http_get_action(fields: dict[str, Any]) -> HTTPGetAction:
    """An httpGet given as raw JSON as a model; garbage becomes an empty action."""
    try:
        return HTTPGetAction.model_validate(fields)
    except ValueError:
        return HTTPGetAction()


def _validate_sleep_action(seconds: int, grace: int | None, path: str) -> Errors:
    """validateSleepAction: the sleep must end within the pod's grace period (it counts against it)."""
    if grace is None or 0 < seconds <= grace:
        return []
    detail = f"must be greater than 0 and less than terminationGracePeriodSeconds ({grace})"
    return [invalid(path, seconds, detail)]


def _validate_http_get(action: HTTPGetAction, path: str) -> Errors:
    errs: Errors = []
    if not action.path:
        errs.append(required(f"{path}.path"))
    errs += _validate_port_num_or_name(action.port, f"{path}.port")
    if (action.scheme or "") not in HTTP_SCHEMES:
        errs.append(not_supported(f"{path}.scheme", action.scheme or "", HTTP_SCHEMES))
    for header in action.http_headers or []:
        name = header.get("name", "")
        if not re.match(f"^{_HTTP_HEADER_FMT}$", name):
            errs.append(
                invalid(
                    f"{path}.httpHeaders",
                    name,
                    regex_error(
                        "a valid HTTP header must consist of alphanumeric characters or '-'",
                        _HTTP_HEADER_FMT,
                        "X-Header-Name",
                    ),
                )
            )
    return errs


def _validate_lifecycle(container: Container, grace: int | None, path: str) -> Errors:
    lifecycle = container.lifecycle
    if lifecycle is None:
        return []
    errs: Errors = []
    for hook, handler in (("postStart", lifecycle.post_start), ("preStop", lifecycle.pre_stop)):
        if handler is not None:
            handlers: dict[str, Any] = {
                "exec": _dump(handler.exec),
                "httpGet": handler.http_get,
                "tcpSocket": _dump(handler.tcp_socket),
                "sleep": _dump(handler.sleep),
            }
            errs += _validate_handler(handlers, grace, f"{path}.{hook}")
    return errs


# --- scheduling: tolerations, affinity --------------------------------------------------------


def _validate_tolerations(tolerations: list[Toleration], path: str) -> Errors:
    errs: Errors = []
    for i, toleration in enumerate(tolerations):
        index_path = f"{path}[{i}]"
        key, operator, value = toleration.key or "", toleration.operator or "", toleration.value or ""
        effect = toleration.effect or ""
        if key:
            errs += _validate_label_name(key, f"{index_path}.key")
        if not key and operator != "Exists":
            errs.append(
                invalid(
                    f"{index_path}.operator",
                    operator,
                    'operator must be Exists when `key` is empty, which means "match all values '
                    'and all keys"',
                )
            )
        if toleration.toleration_seconds is not None and effect != "NoExecute":
            errs.append(
                invalid(
                    f"{index_path}.effect",
                    effect,
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        if operator in ("Equal", ""):
            messages = validate_label_value(value)
            if messages:
                errs.append(invalid(f"{index_path}.operator", value, ";".join(messages)))
        elif operator == "Exists":
            if value:
                errs.append(
                    invalid(
                        f"{index_path}.operator", value, "value must be empty when `operator` is 'Exists'"
                    )
                )
        else:
            errs.append(not_supported(f"{index_path}.operator", operator, TOLERATION_OPERATORS))
        if effect:
            errs += _validate_taint_effect(effect, True, f"{index_path}.effect")
    return errs


def _validate_taint_effect(effect: str, allow_empty: bool, path: str) -> Errors:
    if not allow_empty and not effect:
        return [required(path)]
    if effect not in TAINT_EFFECTS:
        return [not_supported(path, effect, TAINT_EFFECTS)]
    return []


def _validate_affinity(affinity: Affinity | None, path: str) -> Errors:
    if affinity is None or affinity.node_affinity is None:
        return []
    node_affinity = affinity.node_affinity
    path = f"{path}.nodeAffinity"
    errs: Errors = []
    required_selector = node_affinity.required_during_scheduling_ignored_during_execution
    if required_selector is not None:
        terms_path = f"{path}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
        if not required_selector.node_selector_terms:
            errs.append(required(terms_path, "must have at least one node selector term"))
        for i, term in enumerate(required_selector.node_selector_terms):
            errs += _validate_node_selector_term(term, False, f"{terms_path}[{i}]")
    preferred_path = f"{path}.preferredDuringSchedulingIgnoredDuringExecution"
    for i, preferred in enumerate(node_affinity.preferred_during_scheduling_ignored_during_execution or []):
        if not 1 <= preferred.weight <= 100:
            errs.append(
                invalid(f"{preferred_path}[{i}].weight", preferred.weight, "must be in the range 1-100")
            )
        errs += _validate_node_selector_term(preferred.preference, True, f"{preferred_path}[{i}].preference")
    return errs


def _validate_node_selector_term(term: NodeSelectorTerm, allow_invalid_values: bool, path: str) -> Errors:
    errs: Errors = []
    for j, req in enumerate(term.match_expressions or []):
        req_path = f"{path}.matchExpressions[{j}]"
        values = req.values or []
        if req.operator in ("In", "NotIn"):
            if not values:
                errs.append(
                    required(f"{req_path}.values", "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif req.operator in ("Exists", "DoesNotExist"):
            if values:
                errs.append(
                    forbidden(
                        f"{req_path}.values",
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        elif req.operator in ("Gt", "Lt"):
            if len(values) != 1:
                errs.append(
                    required(
                        f"{req_path}.values", "must be specified single value when `operator` is 'Lt' or 'Gt'"
                    )
                )
        else:
            errs.append(invalid(f"{req_path}.operator", req.operator, "not a valid selector operator"))
        errs += _validate_label_name(req.key, f"{req_path}.key")
        if not allow_invalid_values:
            for k, value in enumerate(values):
                errs += [
                    invalid(f"{req_path}.values[{k}]", value, msg) for msg in validate_label_value(value)
                ]
    for j, req in enumerate(term.match_fields or []):
        req_path = f"{path}.matchFields[{j}]"
        if req.operator in ("In", "NotIn"):
            if len(req.values or []) != 1:
                errs.append(
                    required(
                        f"{req_path}.values",
                        "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                    )
                )
        else:
            errs.append(invalid(f"{req_path}.operator", req.operator, "not a valid selector operator"))
        if req.key != "metadata.name":
            errs.append(invalid(f"{req_path}.key", req.key, "not a valid field selector key"))
        else:
            for k, value in enumerate(req.values or []):
                errs += [
                    invalid(f"{req_path}.values[{k}]", value, msg)
                    for msg in validate_dns1123_subdomain(value)
                ]
    return errs


# --- pod update -------------------------------------------------------------------------------


def _normalized(value: Any) -> Any:
    """Semantic equality as Kubernetes compares specs: nil and empty lists/maps are the same."""
    if isinstance(value, dict):
        out = {k: _normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def _spec_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """A cmp.Diff-like listing of the changed top-level fields, for the Forbidden message."""
    lines = ["  core.PodSpec{"]
    for key in [*old, *(k for k in new if k not in old)]:
        if old.get(key) == new.get(key):
            continue
        if key in old:
            lines.append(f"- \t{key}: {json.dumps(old[key], sort_keys=True)},")
        if key in new:
            lines.append(f"+ \t{key}: {json.dumps(new[key], sort_keys=True)},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


def _validate_container_updates(new: list[Container], old: list[Container], path: str) -> tuple[Errors, bool]:
    if len(new) != len(old):
        return [forbidden(path, "pod updates may not add or remove containers")], True
    errs: Errors = []
    for i, container in enumerate(new):
        image = container.image or ""
        if not image:
            errs.append(required(f"{path}[{i}].image"))
        if image != image.strip():
            errs.append(invalid(f"{path}[{i}].image", image, "must not have leading or trailing whitespace"))
    return errs, False


def _validate_pod_spec_update(new: PodSpec, old: PodSpec) -> Errors:
    """ValidatePodUpdate: only images, activeDeadlineSeconds and added tolerations may change.

    nodeName is part of the frozen spec: only the binding subresource sets it."""
    errs, stop = _validate_container_updates(new.containers, old.containers, "spec.containers")
    if stop:
        return errs
    init_errs, stop = _validate_container_updates(
        new.init_containers or [], old.init_containers or [], "spec.initContainers"
    )
    errs += init_errs
    if stop:
        return errs
    if new.active_deadline_seconds is not None:
        deadline = new.active_deadline_seconds
        if not 0 <= deadline <= MAX_INT32:
            return errs + [invalid("spec.activeDeadlineSeconds", deadline, _inclusive_range(0, MAX_INT32))]
        if old.active_deadline_seconds is not None and old.active_deadline_seconds < deadline:
            return errs + [
                invalid(
                    "spec.activeDeadlineSeconds", deadline, "must be less than or equal to previous value"
                )
            ]
    elif old.active_deadline_seconds is not None:
        errs.append(
            invalid(
                "spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"
            )
        )
    errs += _validate_only_added_tolerations(new.tolerations or [], old.tolerations or [], "spec.tolerations")

    old_spec = _normalized(old.model_dump(by_alias=True, exclude_none=True, mode="json"))
    munged = _normalized(new.model_dump(by_alias=True, exclude_none=True, mode="json"))
    if munged == old_spec:
        return errs
    for kind in ("containers", "initContainers"):
        for container, old_container in zip(munged.get(kind, []), old_spec.get(kind, []), strict=False):
            container.pop("image", None)
            if "image" in old_container:
                container["image"] = old_container["image"]
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged.pop(key, None)
        if key in old_spec:
            munged[key] = old_spec[key]
    old_grace = old.termination_grace_period_seconds
    if old_grace is not None and old_grace < 0 and new.termination_grace_period_seconds == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if munged != old_spec:
        detail = (
            "pod updates may not change fields other than "
            + ",".join(UPDATABLE_POD_SPEC_FIELDS)
            + "\n"
            + _spec_diff(old_spec, munged)
        )
        errs.append(forbidden("spec", detail))
    return errs


def _validate_only_added_tolerations(new: list[Toleration], old: list[Toleration], path: str) -> Errors:
    def key(toleration: Toleration) -> tuple[str, str, str, str]:
        return (
            toleration.key or "",
            toleration.operator or "",
            toleration.value or "",
            toleration.effect or "",
        )

    new_keys = {key(t) for t in new}
    if any(key(t) not in new_keys for t in old):
        return [forbidden(path, "existing toleration can not be modified except its tolerationSeconds")]
    return _validate_tolerations(new, path)


# --- pod templates ----------------------------------------------------------------------------


def _template_meta(template: PodTemplateSpec) -> tuple[Any, Any]:
    meta = template.metadata if isinstance(template.metadata, dict) else {}
    return meta.get("labels"), meta.get("annotations")


def _validate_pod_template_spec(template: PodTemplateSpec, path: str) -> Errors:
    labels, annotations = _template_meta(template)
    errs: Errors = []
    if labels is not None and not isinstance(labels, dict):
        errs.append(invalid(f"{path}.labels", labels, "must be a map of strings"))
        labels = None
    if annotations is not None and not isinstance(annotations, dict):
        errs.append(invalid(f"{path}.annotations", annotations, "must be a map of strings"))
        annotations = None
    errs += _validate_labels(labels, f"{path}.labels")
    errs += _validate_annotations(annotations, f"{path}.annotations")
    errs += _validate_pod_specific_annotations(annotations, template.spec, f"{path}.annotations")
    errs += _validate_pod_spec(template.spec, f"{path}.spec", is_pod=False)
    if _spec_extra(template.spec).get("ephemeralContainers"):
        errs.append(
            forbidden(f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template")
        )
    return errs


def _validate_template_for_replica_set(
    template: PodTemplateSpec, selector: LabelSelector | None, path: str, kind: str = "ReplicaSet"
) -> Errors:
    """ValidatePodTemplateSpecForReplicaSet (Deployments use it too, message and all)."""
    errs: Errors = []
    labels, _ = _template_meta(template)
    selects_all = selector is not None and _selector_is_empty(selector)
    if not selects_all and _selector_matches(selector, labels if isinstance(labels, dict) else None) is False:
        errs.append(invalid(f"{path}.metadata.labels", labels, "`selector` does not match template `labels`"))
    errs += _validate_pod_template_spec(template, path)
    if template.spec.restart_policy != "Always":
        errs.append(
            not_supported(f"{path}.spec.restartPolicy", template.spec.restart_policy or "", ["Always"])
        )
    if template.spec.active_deadline_seconds is not None:
        errs.append(
            forbidden(
                f"{path}.spec.activeDeadlineSeconds", f"activeDeadlineSeconds in {kind} is not Supported"
            )
        )
    return errs


def _validate_workload_selector(selector: LabelSelector | None, path: str, kind: str) -> Errors:
    """Required, well formed, non-empty, parseable: the selector rules of Deployments and ReplicaSets."""
    if selector is None:
        return [required(path)]
    errs = _validate_label_selector(selector, path)
    if _selector_is_empty(selector):
        errs.append(invalid(path, _dump(selector), f"empty selector is invalid for {kind}"))
    if _selector_matches(selector, {}) is None:
        errs.append(invalid(path, _dump(selector), "invalid label selector"))
    return errs


# --- apps -------------------------------------------------------------------------------------


def _validate_replica_set(rs: ReplicaSet, old: ReplicaSet | None) -> Errors:
    errs: Errors = []
    if old is not None:
        errs += _validate_object_meta_update(rs.metadata, old.metadata)
    else:
        errs += _validate_object_meta(rs.metadata, True, _name_is_dns_subdomain)
    spec = rs.spec
    errs += _nonnegative(spec.replicas, "spec.replicas")
    errs += _nonnegative(spec.min_ready_seconds, "spec.minReadySeconds")
    errs += _validate_workload_selector(spec.selector, "spec.selector", "deployment")
    if _selector_matches(spec.selector, {}) is not None:
        errs += _validate_template_for_replica_set(
            spec.template or PodTemplateSpec(), spec.selector, "spec.template"
        )
    if old is not None:
        errs += _immutable(_dump(spec.selector), _dump(old.spec.selector), "spec.selector")
    return errs


def _validate_deployment(deployment: Deployment, old: Deployment | None) -> Errors:
    errs: Errors = []
    if old is not None:
        errs += _validate_object_meta_update(deployment.metadata, old.metadata)
    else:
        errs += _validate_object_meta(deployment.metadata, True, _name_is_dns_subdomain)
    spec = deployment.spec
    errs += _nonnegative(spec.replicas, "spec.replicas")
    errs += _validate_workload_selector(spec.selector, "spec.selector", "deployment")
    if _selector_matches(spec.selector, {}) is not None:
        errs += _validate_template_for_replica_set(spec.template, spec.selector, "spec.template")
    errs += _validate_deployment_strategy(deployment, "spec.strategy")
    errs += _nonnegative(spec.min_ready_seconds, "spec.minReadySeconds")
    if spec.revision_history_limit is not None:
        errs += _nonnegative(spec.revision_history_limit, "spec.revisionHistoryLimit")
    if spec.progress_deadline_seconds is not None:
        errs += _nonnegative(spec.progress_deadline_seconds, "spec.progressDeadlineSeconds")
        if spec.progress_deadline_seconds <= (spec.min_ready_seconds or 0):
            errs.append(
                invalid(
                    "spec.progressDeadlineSeconds",
                    spec.progress_deadline_seconds,
                    "must be greater than minReadySeconds",
                )
            )
    if old is not None:
        errs += _immutable(_dump(spec.selector), _dump(old.spec.selector), "spec.selector")
    return errs


def _validate_deployment_strategy(deployment: Deployment, path: str) -> Errors:
    strategy = deployment.spec.strategy
    strategy_type = strategy.type if strategy else None
    if strategy_type == "Recreate":
        if strategy is not None and strategy.rolling_update is not None:
            return [
                forbidden(f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")
            ]
        return []
    if strategy_type == "RollingUpdate" and strategy is not None:
        rolling = strategy.rolling_update
        if rolling is None:
            return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        rolling_path = f"{path}.rollingUpdate"
        errs = _validate_int_or_percent(rolling.max_unavailable, f"{rolling_path}.maxUnavailable")
        errs += _validate_int_or_percent(rolling.max_surge, f"{rolling_path}.maxSurge")
        if (
            _int_or_percent_value(rolling.max_unavailable) == 0
            and _int_or_percent_value(rolling.max_surge) == 0
        ):
            errs.append(
                invalid(
                    f"{rolling_path}.maxUnavailable",
                    _int_or_string(rolling.max_unavailable),
                    "may not be 0 when `maxSurge` is 0",
                )
            )
        errs += _not_more_than_100_percent(rolling.max_unavailable, f"{rolling_path}.maxUnavailable")
        return errs
    return [not_supported(path, _dump(strategy), DEPLOYMENT_STRATEGIES)]


def _int_or_string(value: int | str | None) -> int | str:
    return 0 if value is None else value


def _percent_value(value: int | str | None) -> int | None:
    if isinstance(value, str) and not _percent_errors(value):
        return int(value[:-1])
    return None


def _int_or_percent_value(value: int | str | None) -> int:
    """getIntOrPercentValue: a percentage's number, an int, or a string's integer value (0 if none)."""
    percent = _percent_value(value)
    if percent is not None:
        return percent
    if isinstance(value, str):
        return int(value) if re.match(r"^[+-]?\d+$", value) else 0
    return value or 0


def _validate_int_or_percent(value: int | str | None, path: str) -> Errors:
    if isinstance(value, str):
        return [invalid(path, value, msg) for msg in _percent_errors(value)]
    return _nonnegative(value, path)


def _not_more_than_100_percent(value: int | str | None, path: str) -> Errors:
    percent = _percent_value(value)
    if percent is None or percent <= 100:
        return []
    return [invalid(path, value, "must not be greater than 100%")]


def _validate_daemon_set(ds: DaemonSet, old: DaemonSet | None) -> Errors:
    errs: Errors = []
    if old is not None:
        errs += _validate_object_meta_update(ds.metadata, old.metadata)
    else:
        errs += _validate_object_meta(ds.metadata, True, _name_is_dns_subdomain)
    spec = ds.spec
    errs += _validate_label_selector(spec.selector, "spec.selector")
    labels, _ = _template_meta(spec.template)
    if _selector_matches(spec.selector, labels if isinstance(labels, dict) else None) is False:
        errs.append(
            invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
        )
    if spec.selector is not None and _selector_is_empty(spec.selector):
        errs.append(invalid("spec.selector", _dump(spec.selector), "empty selector is invalid for daemonset"))
    errs += _validate_pod_template_spec(spec.template, "spec.template")
    if spec.template.spec.restart_policy != "Always":
        errs.append(
            not_supported(
                "spec.template.spec.restartPolicy", spec.template.spec.restart_policy or "", ["Always"]
            )
        )
    if spec.template.spec.active_deadline_seconds is not None:
        errs.append(
            forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in DaemonSet is not Supported",
            )
        )
    errs += _nonnegative(spec.min_ready_seconds, "spec.minReadySeconds")
    errs += _validate_daemon_set_update_strategy(ds, "spec.updateStrategy")
    if spec.revision_history_limit is not None:
        errs += _nonnegative(spec.revision_history_limit, "spec.revisionHistoryLimit")
    if old is not None:
        errs += _immutable(_dump(spec.selector), _dump(old.spec.selector), "spec.selector")
    return errs


def _validate_daemon_set_update_strategy(ds: DaemonSet, path: str) -> Errors:
    strategy = ds.spec.update_strategy
    strategy_type = strategy.type if strategy else None
    if strategy_type == "OnDelete":
        return []
    if strategy_type == "RollingUpdate" and strategy is not None:
        rolling = strategy.rolling_update
        if rolling is None:
            return [required(f"{path}.rollingUpdate")]
        rolling_path = f"{path}.rollingUpdate"
        errs = _validate_int_or_percent(rolling.max_unavailable, f"{rolling_path}.maxUnavailable")
        errs += _validate_int_or_percent(rolling.max_surge, f"{rolling_path}.maxSurge")
        errs += _not_more_than_100_percent(rolling.max_unavailable, f"{rolling_path}.maxUnavailable")
        errs += _not_more_than_100_percent(rolling.max_surge, f"{rolling_path}.maxSurge")
        has_unavailable = _int_or_percent_value(rolling.max_unavailable) != 0
        has_surge = _int_or_percent_value(rolling.max_surge) != 0
        if has_unavailable and has_surge:
            errs.append(
                invalid(
                    f"{rolling_path}.maxSurge",
                    _int_or_string(rolling.max_surge),
                    "may not be set when maxUnavailable is non-zero",
                )
            )
        elif not has_unavailable and not has_surge:
            errs.append(required(f"{rolling_path}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
        return errs
    return [not_supported(path, _dump(strategy), DAEMONSET_STRATEGIES)]


# --- services -------------------------------------------------------------------------------


def _is_headless(svc: Service) -> bool:
    return svc.spec.cluster_ips == ["None"]


def _validate_service(svc: Service, old: Service | None) -> Errors:
    errs: Errors = []
    if old is not None:
        errs += _validate_object_meta_update(svc.metadata, old.metadata)
        errs += _validate_cluster_ips_update(old, svc)
        errs += _validate_ip_families_update(old, svc)
    errs += _validate_object_meta(svc.metadata, True, _name_is_dns1035_label)
    spec = svc.spec
    extra = _spec_extra(spec)
    headless = _is_headless(svc)
    ports = spec.ports or []
    if not ports and not headless and spec.type != "ExternalName":
        errs.append(required("spec.ports"))
    if spec.type in ("LoadBalancer", "NodePort") and headless:
        errs.append(
            invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {spec.type} services")
        )
    elif spec.type == "ExternalName":
        if spec.cluster_ips:
            errs.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if spec.ip_families:
            errs.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.ip_family_policy is not None:
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = str(extra.get("externalName") or "").removesuffix(".")
        if cname:
            errs += [invalid("spec.externalName", cname, msg) for msg in validate_dns1123_subdomain(cname)]
        else:
            errs.append(required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        errs += _validate_service_port(port, len(ports) > 1, names, f"spec.ports[{i}]")
    if spec.selector is not None:
        errs += _validate_labels(spec.selector, "spec.selector")
    if not spec.session_affinity:
        errs.append(required("spec.sessionAffinity"))
    elif spec.session_affinity not in SESSION_AFFINITIES:
        errs.append(not_supported("spec.sessionAffinity", spec.session_affinity, SESSION_AFFINITIES))
    errs += _validate_session_affinity_config(spec.session_affinity, extra.get("sessionAffinityConfig"))
    errs += _validate_cluster_ips(svc)
    for i, ip in enumerate(spec.external_ips or []):
        ip_errs = _is_valid_ip(f"spec.externalIPs[{i}]", ip)
        errs += ip_errs or _validate_non_special_ip(ip, f"spec.externalIPs[{i}]")
    if not spec.type:
        errs.append(required("spec.type"))
    elif spec.type not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", spec.type, SERVICE_TYPES))
    if spec.type == "ClusterIP":
        for i, port in enumerate(ports):
            if port.node_port:
                errs.append(
                    forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'")
                )
    node_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        if not port.node_port:
            continue
        node_key = (port.protocol or "", port.node_port)
        if node_key in node_ports:
            errs.append(duplicate(f"spec.ports[{i}].nodePort", port.node_port))
        node_ports.add(node_key)
    seen_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        port_key = (port.protocol or "", port.port)
        if port_key in seen_ports:
            errs.append(duplicate(f"spec.ports[{i}]", {"protocol": port.protocol or "", "port": port.port}))
        seen_ports.add(port_key)
    errs += _validate_load_balancer_fields(svc)
    errs += _validate_traffic_policies(svc)
    return errs


def _validate_service_port(port: ServicePort, require_name: bool, names: set[str], path: str) -> Errors:
    errs: Errors = []
    if require_name and not port.name:
        errs.append(required(f"{path}.name"))
    elif port.name:
        errs += [invalid(f"{path}.name", port.name, msg) for msg in validate_dns1123_label(port.name)]
        if port.name in names:
            errs.append(duplicate(f"{path}.name", port.name))
        else:
            names.add(port.name)
    errs += [invalid(f"{path}.port", port.port, msg) for msg in _port_num_errors(port.port)]
    if not port.protocol:
        errs.append(required(f"{path}.protocol"))
    elif port.protocol not in PORT_PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", port.protocol, PORT_PROTOCOLS))
    errs += _validate_port_num_or_name(port.target_port, f"{path}.targetPort")
    app_protocol = _spec_extra(port).get("appProtocol")
    if isinstance(app_protocol, str):
        errs += [
            invalid(f"{path}.appProtocol", app_protocol, msg) for msg in validate_label_key(app_protocol)
        ]
    return errs


def _validate_session_affinity_config(affinity: str | None, config: Any) -> Errors:
    path = "spec.sessionAffinityConfig"
    if affinity == "None" and config is not None:
        return [forbidden(path, "must not be set when session affinity is None")]
    if affinity != "ClientIP":
        return []
    detail = "when session affinity type is ClientIP"
    if not isinstance(config, dict):
        return [required(path, detail)]
    client_ip = config.get("clientIP")
    if not isinstance(client_ip, dict):
        return [required(f"{path}.clientIP", detail)]
    timeout = client_ip.get("timeoutSeconds")
    if timeout is None:
        return [required(f"{path}.clientIP.timeoutSeconds", detail)]
    if not isinstance(timeout, int) or not 0 < timeout <= MAX_CLIENT_IP_AFFINITY_SECONDS:
        return [
            invalid(
                f"{path}.clientIP.timeoutSeconds",
                timeout,
                f"must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}",
            )
        ]
    return []


def _validate_cluster_ips(svc: Service) -> Errors:
    """ValidateServiceClusterIPsRelatedFields: clusterIP/clusterIPs in step, valid, one per family."""
    spec = svc.spec
    if spec.type == "ExternalName":
        return []
    errs: Errors = []
    cluster_ips = spec.cluster_ips or []
    if spec.cluster_ip:
        if not cluster_ips:
            errs.append(required("spec.clusterIPs"))
        elif cluster_ips[0] != spec.cluster_ip:
            errs.append(invalid("spec.clusterIPs", cluster_ips, "first value must match `clusterIP`"))
    elif cluster_ips:
        errs.append(
            invalid("spec.clusterIPs", cluster_ips, "must be empty when `clusterIP` is not specified")
        )
    seen: set[str] = set()
    for i, family in enumerate(spec.ip_families or []):
        if family not in IP_FAMILIES:
            errs.append(not_supported(f"spec.ipFamilies[{i}]", family, IP_FAMILIES))
        if family in seen:
            errs.append(duplicate(f"spec.ipFamilies[{i}]", family))
        seen.add(family)
    if spec.ip_family_policy is not None and spec.ip_family_policy not in IP_FAMILY_POLICIES:
        errs.append(not_supported("spec.ipFamilyPolicy", spec.ip_family_policy, IP_FAMILY_POLICIES))
    has_invalid = False
    for i, ip in enumerate(cluster_ips):
        if i == 0 and ip == "None":
            if len(cluster_ips) > 1:
                has_invalid = True
                errs.append(
                    invalid("spec.clusterIPs", cluster_ips, "'None' must be the first and only value")
                )
            continue
        ip_errs = _is_valid_ip(f"spec.clusterIPs[{i}]", ip)
        has_invalid = has_invalid or bool(ip_errs)
        errs += ip_errs
    if len(cluster_ips) > 2:
        errs.append(invalid("spec.clusterIPs", cluster_ips, "may only hold up to 2 values"))
    if has_invalid:
        return errs
    if len(cluster_ips) > 1:
        versions = {ip.version for ip in (_parse_ip(v) for v in cluster_ips) if ip is not None}
        if len(versions) != len(cluster_ips):
            errs.append(
                invalid("spec.clusterIPs", cluster_ips, "may specify no more than one IP for each IP family")
            )
    if not _is_headless(svc) and cluster_ips and spec.ip_families:
        for i, ip in enumerate(cluster_ips[: len(spec.ip_families)]):
            is_v6 = ":" in ip
            if spec.ip_families[i] == "IPv4" and is_v6:
                errs.append(
                    invalid(
                        f"spec.clusterIPs[{i}]",
                        ip,
                        f"expected an IPv4 value as indicated by `ipFamilies[{i}]`",
                    )
                )
            if spec.ip_families[i] == "IPv6" and not is_v6:
                errs.append(
                    invalid(
                        f"spec.clusterIPs[{i}]",
                        ip,
                        f"expected an IPv6 value as indicated by `ipFamilies[{i}]`",
                    )
                )
    return errs


def _validate_cluster_ips_update(old: Service, new: Service) -> Errors:
    """validateUpgradeDowngradeClusterIPs: an allocated clusterIP never changes."""
    if "ExternalName" in (new.spec.type, old.spec.type) or (_is_headless(old) and _is_headless(new)):
        return []
    old_ips, new_ips = old.spec.cluster_ips or [], new.spec.cluster_ips or []
    if not new.spec.cluster_ip and not new_ips:
        return []  # left out: the registry carries the allocated IPs over, as kube-apiserver does
    errs: Errors = []
    if len(old_ips) == len(new_ips):
        errs += [
            invalid(f"spec.clusterIPs[{i}]", new_ips, "may not change once set")
            for i, ip in enumerate(old_ips)
            if ip != new_ips[i]
        ]
    elif len(old_ips) > len(new_ips):
        if not new_ips:
            errs.append(invalid("spec.clusterIPs[0]", new_ips, "primary clusterIP can not be unset"))
        elif new_ips[0] != old_ips[0]:
            errs.append(invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
        if len(new_ips) == 1 and new.spec.ip_family_policy != "SingleStack":
            errs.append(
                invalid(
                    "spec.ipFamilyPolicy",
                    new.spec.ip_family_policy,
                    "must be set to 'SingleStack' when releasing the secondary clusterIP",
                )
            )
    elif old_ips and new_ips[0] != old_ips[0]:
        errs.append(invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
    return errs


def _validate_ip_families_update(old: Service, new: Service) -> Errors:
    if "ExternalName" in (new.spec.type, old.spec.type) or _is_headless(old) or _is_headless(new):
        return []
    old_families, new_families = old.spec.ip_families or [], new.spec.ip_families or []
    if len(old_families) == len(new_families):
        return [
            invalid("spec.ipFamilies[0]", new_families, "may not change once set")
            for i, family in enumerate(old_families)
            if family != new_families[i]
        ]
    if len(old_families) > len(new_families):
        errs: Errors = []
        if not new.spec.cluster_ips:
            errs.append(invalid("spec.ipFamilies[0]", new_families, "primary ipFamily can not be unset"))
        if new_families and new_families[0] != old_families[0]:
            errs.append(invalid("spec.ipFamilies[0]", new.spec.cluster_ips, "may not change once set"))
        if len(new_families) == 1 and new.spec.ip_family_policy != "SingleStack":
            errs.append(
                invalid(
                    "spec.ipFamilyPolicy",
                    new.spec.ip_family_policy,
                    "must be set to 'SingleStack' when releasing the secondary ipFamily",
                )
            )
        return errs
    if old_families and new_families[0] != old_families[0]:
        return [invalid("spec.ipFamilies[0]", new.spec.cluster_ips, "may not change once set")]
    return []


def _validate_load_balancer_fields(svc: Service) -> Errors:
    spec = svc.spec
    extra = _spec_extra(spec)
    errs: Errors = []
    ranges = extra.get("loadBalancerSourceRanges")
    if isinstance(ranges, list) and ranges:
        if spec.type != "LoadBalancer":
            errs.append(
                forbidden("spec.LoadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'")
            )
        for i, value in enumerate(ranges):
            errs += _is_valid_cidr(f"spec.LoadBalancerSourceRanges[{i}]", str(value).strip())
    allocate = extra.get("allocateLoadBalancerNodePorts")
    if allocate is not None and spec.type != "LoadBalancer":
        errs.append(
            forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'")
        )
    if spec.type == "LoadBalancer" and allocate is None:
        errs.append(required("allocateLoadBalancerNodePorts"))
    if extra.get("loadBalancerClass") is not None and spec.type != "LoadBalancer":
        errs.append(forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"))
    return errs


def _validate_traffic_policies(svc: Service) -> Errors:
    spec = svc.spec
    errs: Errors = []
    accessible = spec.type in ("LoadBalancer", "NodePort") or (
        spec.type == "ClusterIP" and bool(spec.external_ips)
    )
    if not accessible:
        if spec.external_traffic_policy:
            errs.append(
                invalid(
                    "spec.externalTrafficPolicy",
                    spec.external_traffic_policy,
                    "may only be set for externally-accessible services",
                )
            )
    elif not spec.external_traffic_policy:
        errs.append(required("spec.externalTrafficPolicy"))
    elif spec.external_traffic_policy not in TRAFFIC_POLICIES:
        errs.append(
            not_supported("spec.externalTrafficPolicy", spec.external_traffic_policy, TRAFFIC_POLICIES)
        )
    health_port = _spec_extra(spec).get("healthCheckNodePort")
    needs_health = spec.type == "LoadBalancer" and spec.external_traffic_policy == "Local"
    if not needs_health and health_port:
        errs.append(
            invalid(
                "spec.healthCheckNodePort",
                health_port,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            )
        )
    if spec.internal_traffic_policy is None:
        if spec.type in ("NodePort", "LoadBalancer", "ClusterIP"):
            errs.append(required("spec.internalTrafficPolicy"))
    elif spec.internal_traffic_policy not in TRAFFIC_POLICIES:
        errs.append(
            not_supported("spec.internalTrafficPolicy", spec.internal_traffic_policy, TRAFFIC_POLICIES)
        )
    return errs


# --- endpoints --------------------------------------------------------------------------------


def _validate_endpoints(endpoints: Endpoints, old: Endpoints | None) -> Errors:
    errs: Errors = []
    if old is not None:
        errs += _validate_object_meta_update(endpoints.metadata, old.metadata)
    errs += _validate_object_meta(endpoints.metadata, True, _name_is_dns_subdomain)
    for i, subset in enumerate(endpoints.subsets or []):
        path = f"subsets[{i}]"
        if not subset.addresses and not subset.not_ready_addresses:
            errs.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
        for kind, addresses in (
            ("addresses", subset.addresses),
            ("notReadyAddresses", subset.not_ready_addresses),
        ):
            for j, address in enumerate(addresses or []):
                address_path = f"{path}.{kind}[{j}]"
                errs += _is_valid_ip(f"{address_path}.ip", address.ip)
                if address.hostname:
                    errs += [
                        invalid(f"{address_path}.hostname", address.hostname, msg)
                        for msg in validate_dns1123_label(address.hostname)
                    ]
                if address.node_name is not None:
                    errs += [
                        invalid(f"{address_path}.nodeName", address.node_name, msg)
                        for msg in validate_dns1123_subdomain(address.node_name)
                    ]
                errs += _validate_non_special_ip(address.ip, f"{address_path}.ip")
        ports = subset.ports or []
        for j, port in enumerate(ports):
            port_path = f"{path}.ports[{j}]"
            if len(ports) > 1 and not port.name:
                errs.append(required(f"{port_path}.name"))
            elif port.name:
                errs += [
                    invalid(f"{port_path}.name", port.name, msg) for msg in validate_dns1123_label(port.name)
                ]
            errs += [invalid(f"{port_path}.port", port.port, msg) for msg in _port_num_errors(port.port)]
            if not port.protocol:
                errs.append(required(f"{port_path}.protocol"))
            elif port.protocol not in PORT_PROTOCOLS:
                errs.append(not_supported(f"{port_path}.protocol", port.protocol, PORT_PROTOCOLS))
    return errs


# --- namespaces, nodes, events, leases --------------------------------------------------------


def _validate_namespace(ns: Namespace, old: Namespace | None) -> Errors:
    if old is not None:
        return _validate_object_meta_update(ns.metadata, old.metadata)
    errs = _validate_object_meta(ns.metadata, False, _name_is_dns_label)
    for finalizer in (ns.spec.finalizers if ns.spec else None) or []:
        errs += [invalid("spec.finalizers", finalizer, msg) for msg in validate_label_key(finalizer)]
        errs += _validate_kube_finalizer_name(finalizer, "spec.finalizers")
    return errs


def _validate_node(node: Node, old: Node | None) -> Errors:
    errs: Errors = []
    if old is not None:
        errs += _validate_object_meta_update(node.metadata, old.metadata)
    else:
        errs += _validate_object_meta(node.metadata, False, _name_is_dns_subdomain)
    spec = node.spec
    if spec.taints:
        errs += _validate_node_taints(node, "metadata.taints")
    status = node.status
    for kind in ("capacity", "allocatable"):
        resources = getattr(status, kind) if status is not None else None
        for name, raw in (resources or {}).items():
            errs += _validate_quantity_value(name, raw, f"status.{kind}.{name}")[1]
    pod_cidrs = spec.pod_cidrs or ([spec.pod_cidr] if spec.pod_cidr else [])
    if old is None:
        for i, cidr in enumerate(pod_cidrs):
            errs += _is_valid_cidr(f"spec.podCIDRs[{i}]", cidr)
        if len(pod_cidrs) > 1:
            families = {
                c.version for c in (_parse_ip(x.partition("/")[0]) for x in pod_cidrs) if c is not None
            }
            if len(families) != len(pod_cidrs) or len(pod_cidrs) > 2:
                errs.append(
                    invalid(
                        "spec.podCIDRs", pod_cidrs, "may specify no more than one CIDR for each IP family"
                    )
                )
            seen: set[str] = set()
            for i, cidr in enumerate(pod_cidrs):
                if cidr in seen:
                    errs.append(duplicate(f"spec.podCIDRs[{i}]", cidr))
                seen.add(cidr)
        return errs
    old_cidrs = old.spec.pod_cidrs or ([old.spec.pod_cidr] if old.spec.pod_cidr else [])
    if old_cidrs and old_cidrs != pod_cidrs:
        errs.append(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
    if old.spec.provider_id and old.spec.provider_id != spec.provider_id:
        errs.append(
            forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid')
        )
    return errs


def _validate_node_taints(node: Node, path: str) -> Errors:
    errs: Errors = []
    seen: dict[str, set[str]] = {}
    for i, taint in enumerate(node.spec.taints or []):
        index_path = f"{path}[{i}]"
        errs += _validate_label_name(taint.key, f"{index_path}.key")
        messages = validate_label_value(taint.value or "")
        if messages:
            errs.append(invalid(f"{index_path}.value", taint.value or "", ";".join(messages)))
        errs += _validate_taint_effect(taint.effect, False, f"{index_path}.effect")
        if taint.key in seen.get(taint.effect, set()):
            errs.append(
                FieldError(
                    index_path,
                    "FieldValueDuplicate",
                    "taints must be unique by key and effect pair",
                    _dump(taint),
                )
            )
            continue
        seen.setdefault(taint.effect, set()).add(taint.key)
    return errs


def _validate_event(event: Event, old: Event | None) -> Errors:
    """legacyValidateEvent (core/v1 events), then the generic registry's object-meta checks."""
    errs: Errors = []
    namespace = event.metadata.namespace or ""
    involved_namespace = event.involved_object.namespace or ""
    mismatch = invalid("involvedObject.namespace", involved_namespace, "does not match event.namespace")
    if not event.event_time:
        if not involved_namespace:
            if namespace not in ("", "default"):
                errs.append(mismatch)
        elif namespace != involved_namespace:
            errs.append(mismatch)
    else:
        if not involved_namespace and namespace not in ("default", "kube-system"):
            errs.append(mismatch)
        controller = event.reporting_component or ""
        if not controller:
            errs.append(required("reportingController"))
        errs += [invalid("reportingController", controller, msg) for msg in validate_label_key(controller)]
        for field_name, value, limit in (
            ("reportingInstance", event.reporting_instance, 128),
            ("action", event.action, 128),
            ("reason", event.reason, 128),
        ):
            if not value:
                errs.append(required(field_name))
            if len(value or "") > limit:
                errs.append(invalid(field_name, "", f"can have at most {limit} characters"))
        if len(event.message or "") > 1024:
            errs.append(invalid("message", "", "can have at most 1024 characters"))
    errs += [invalid("namespace", namespace, msg) for msg in validate_dns1123_subdomain(namespace)]
    errs += _validate_object_meta(event.metadata, True, _path_segment_name)
    if old is not None:
        errs += _validate_object_meta_update(event.metadata, old.metadata)
    return errs


def _validate_lease(lease: Lease, old: Lease | None) -> Errors:
    errs: Errors = []
    if old is not None:
        errs += _validate_object_meta_update(lease.metadata, old.metadata)
    else:
        errs += _validate_object_meta(lease.metadata, True, _name_is_dns_subdomain)
    spec = lease.spec
    if spec.lease_duration_seconds is not None and spec.lease_duration_seconds <= 0:
        errs.append(
            invalid("spec.leaseDurationSeconds", spec.lease_duration_seconds, "must be greater than 0")
        )
    if spec.lease_transitions is not None and spec.lease_transitions < 0:
        errs.append(invalid("spec.leaseTransitions", spec.lease_transitions, IS_NEGATIVE))
    return errs


# --- configmap (ValidateConfigMap, ValidateConfigMapUpdate) ---------------------------------

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
MAX_CONFIG_MAP_BYTES = 1024 * 1024


def _config_key_errors(key: str) -> list[str]:
    """IsConfigMapKey: a file name (keys become files when a ConfigMap is mounted)."""
    errs: list[str] = []
    if len(key) > 253:
        errs.append("must be no more than 253 characters")
    if not _CONFIG_KEY.match(key):
        errs.append("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
                    f"'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '{_CONFIG_KEY_FMT}')")
    if key == ".":
        errs.append("must not be '.'")
    elif key == "..":
        errs.append("must not be '..'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _validate_config_map(cm: ConfigMap, old: ConfigMap | None) -> Errors:
    errs: Errors = []
    if old is not None:
        errs += _validate_object_meta_update(cm.metadata, old.metadata)
        if old.immutable:
            if not cm.immutable:
                errs.append(forbidden("immutable", "field is immutable when `immutable` is set"))
            if cm.data != old.data:
                errs.append(forbidden("data", "field is immutable when `immutable` is set"))
            if cm.binary_data != old.binary_data:
                errs.append(forbidden("binaryData", "field is immutable when `immutable` is set"))
    errs += _validate_object_meta(cm.metadata, True, _name_is_dns_subdomain)
    size = 0
    for key, value in (cm.data or {}).items():
        errs += [invalid("data", key, msg) for msg in _config_key_errors(key)]
        size += len(key) + len(value.encode())
    for key, value in (cm.binary_data or {}).items():
        errs += [invalid("binaryData", key, msg) for msg in _config_key_errors(key)]
        if key in (cm.data or {}):
            errs.append(invalid("data", key, "duplicate of key present in binaryData"))
        size += len(key) + len(value) * 3 // 4
    if size > MAX_CONFIG_MAP_BYTES:
        errs.append(_too_long("", MAX_CONFIG_MAP_BYTES))
    return errs
