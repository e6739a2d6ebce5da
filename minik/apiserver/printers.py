"""Server-side Table printers: the columns `kubectl get` shows, computed like Kubernetes does.

kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints whatever columns
the server sends, so the exact column logic (pod status, restarts, node roles, service ports, ...)
lives here, next to the API, and minictl reuses it. Pure functions over wire dicts: no I/O.
Reference: k8s.io/kubernetes/pkg/printers/internalversion/printers.go.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from minik.api.labels import SelectorError, from_label_selector
from minik.api.resources import Resource

Obj = dict[str, Any]
Cell = str | int | bool | None

_NAME_DOC = ("Name must be unique within a namespace. Is required when creating resources, although some "
             "resources may allow a client to request the generation of an appropriate name automatically.")
_AGE_DOC = ("CreationTimestamp is a timestamp representing the server time when this object was created.")
_CONTAINERS_DOC = "Names of each container in the template."
_IMAGES_DOC = "Images referenced by each container in the template."

NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_ROLE_LABEL = "kubernetes.io/role"
NODE_UNREACHABLE_POD_REASON = "NodeLost"


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    description: str = ""
    priority: int = 0
    format: str = ""

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


NAME = Column("Name", format="name", description=_NAME_DOC)
AGE = Column("Age", description=_AGE_DOC)


# --- formatting helpers (shared with minictl describe) --------------------------------------


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration: ~2-3 significant figures (`5s`, `3m2s`, `2d3h`)."""
    secs = int(seconds)  # Go's int() truncates toward zero
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        rest = secs % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 timestamp from the wire (None when absent or unparsable, like Go's zero time)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def since(value: Any, now: datetime | None = None) -> str:
    """translateTimestampSince: age of a timestamp, `<unknown>` when it is missing."""
    ts = parse_time(value)
    if ts is None:
        return "<unknown>"
    return human_duration(((now or datetime.now(UTC)) - ts).total_seconds())


def format_labels(labels: dict[str, str] | None) -> str:
    """labels.FormatLabels: sorted `k=v,k2=v2`, `<none>` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def selector_string(selector: dict[str, Any] | None, invalid: str = "<invalid>") -> str:
    """metav1.LabelSelectorAsSelector(...).String(): requirements sorted by key, `""` for everything."""
    try:
        return str(from_label_selector(selector))
    except SelectorError:
        return invalid


def format_label_selector(selector: dict[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: like selector_string but `<none>` when empty, `<error>` if invalid."""
    return selector_string(selector, "<error>") or "<none>"


def node_roles(node: Obj) -> list[str]:
    """Roles from `node-role.kubernetes.io/<role>` keys and a non-empty `kubernetes.io/role`, sorted."""
    roles: set[str] = set()
    for key, value in (_meta(node).get("labels") or {}).items():
        if key.startswith(NODE_ROLE_PREFIX):
            role = key[len(NODE_ROLE_PREFIX):]
            if role:
                roles.add(role)
        elif key == NODE_ROLE_LABEL and value:
            roles.add(value)
    return sorted(roles)


def _meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _containers(template: dict[str, Any] | None) -> tuple[str, str]:
    """layoutContainerCells: comma-joined container names and images of a pod template."""
    containers = ((template or {}).get("spec") or {}).get("containers") or []
    return (",".join(str(c.get("name", "")) for c in containers),
            ",".join(str(c.get("image", "")) for c in containers))


# --- pods -------------------------------------------------------------------------------------

POD_COLUMNS = (
    NAME,
    Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", description="The aggregate status of the containers in this pod."),
    Column("Restarts", description="The number of times the containers in this pod have been restarted "
                                   "and when the last container in this pod has restarted."),
    AGE,
    Column("IP", priority=1, description="podIP address allocated to the pod."),
    Column("Node", priority=1, description="NodeName is a request to schedule this pod onto a node."),
    Column("Nominated Node", priority=1, description="nominatedNodeName is set only when this pod preempts "
                                                     "other pods on the node."),
    Column("Readiness Gates", priority=1, description="If specified, all readiness gates will be evaluated "
                                                      "for pod readiness."),
)


def _is_restartable_init(container: dict[str, Any] | None) -> bool:
    return bool(container) and (container or {}).get("restartPolicy") == "Always"


def _condition_true(status: dict[str, Any], ctype: str) -> bool:
    for cond in status.get("conditions") or []:
        if cond.get("type") == ctype:
            return cond.get("status") == "True"
    return False


def _later(current: datetime | None, candidate: Any) -> datetime | None:
    ts = parse_time(candidate)
    if ts is not None and (current is None or ts > current):
        return ts
    return current


def pod_status_reason(pod: Obj) -> str:
    """The STATUS column alone (also what describe-like views call the pod's state)."""
    return _pod_cells(pod, None)[2]


def _pod_cells(pod: Obj, now: datetime | None) -> tuple[str, str, str]:
    """printPod's READY, STATUS-deciding walk over init and app container statuses."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    restarts = restartable_restarts = 0
    total = len(spec.get("containers") or [])
    ready = 0
    last_restart: datetime | None = None
    last_restartable_restart: datetime | None = None
    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or "") or phase
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    total += sum(1 for c in init_specs.values() if _is_restartable_init(c))
    init_count = len(spec.get("initContainers") or [])

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        last_term = (cs.get("lastState") or {}).get("terminated")
        if last_term:
            last_restart = _later(last_restart, last_term.get("finishedAt"))
        sidecar = _is_restartable_init(init_specs.get(cs.get("name")))
        if sidecar:
            restartable_restarts += int(cs.get("restartCount") or 0)
            if last_term:
                last_restartable_restart = _later(last_restartable_restart, last_term.get("finishedAt"))
        state = cs.get("state") or {}
        term, waiting = state.get("terminated"), state.get("waiting")
        if term and int(term.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if term:
            if not term.get("reason"):
                if term.get("signal"):
                    reason = f"Init:Signal:{term['signal']}"
                else:
                    reason = f"Init:ExitCode:{int(term.get('exitCode') or 0)}"
            else:
                reason = f"Init:{term['reason']}"
        elif waiting and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{i}/{init_count}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts = restartable_restarts
        last_restart = last_restartable_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            last_term = (cs.get("lastState") or {}).get("terminated")
            if last_term:
                last_restart = _later(last_restart, last_term.get("finishedAt"))
            state = cs.get("state") or {}
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif term and term.get("reason"):
                reason = str(term["reason"])
            elif term:
                if term.get("signal"):
                    reason = f"Signal:{term['signal']}"
                else:
                    reason = f"ExitCode:{int(term.get('exitCode') or 0)}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    deleting = bool(_meta(pod).get("deletionTimestamp"))
    if deleting and status.get("reason") == NODE_UNREACHABLE_POD_REASON:
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        ago = human_duration(((now or datetime.now(UTC)) - last_restart).total_seconds())
        restarts_text = f"{restarts} ({ago} ago)"
    return f"{ready}/{total}", restarts_text, reason


def _pod_row(pod: Obj, now: datetime) -> tuple[list[Cell], list[dict[str, str]]]:
    ready, restarts, reason = _pod_cells(pod, now)
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    pod_ips = status.get("podIPs") or []
    pod_ip = (pod_ips[0].get("ip") if pod_ips else "") or status.get("podIP") or "<none>"
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        true_count = 0
        for gate in gates:
            for cond in status.get("conditions") or []:
                if cond.get("type") == gate.get("conditionType"):
                    true_count += cond.get("status") == "True"
                    break
        gates_text = f"{true_count}/{len(gates)}"
    conditions: list[dict[str, str]] = []
    if status.get("phase") == "Succeeded":
        conditions = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                       "message": "The pod has completed successfully."}]
    elif status.get("phase") == "Failed":
        conditions = [{"type": "Completed", "status": "True", "reason": "Failed",
                       "message": "The pod failed."}]
    cells: list[Cell] = [_meta(pod).get("name", ""), ready, reason, restarts,
                         since(_meta(pod).get("creationTimestamp"), now),
                         pod_ip, spec.get("nodeName") or "<none>",
                         status.get("nominatedNodeName") or "<none>", gates_text]
    return cells, conditions


# --- nodes ------------------------------------------------------------------------------------

NODE_COLUMNS = (
    NAME,
    Column("Status", description="The status of the node"),
    Column("Roles", description="The roles of the node"),
    AGE,
    Column("Version", description="Kubelet Version reported by the node."),
    Column("Internal-IP", priority=1, description="List of addresses reachable to the node."),
    Column("External-IP", priority=1, description="List of addresses reachable to the node."),
    Column("OS-Image", priority=1, description="OS Image reported by the node from /etc/os-release."),
    Column("Kernel-Version", priority=1, description="Kernel Version reported by the node from "
                                                     "'uname -r'."),
    Column("Container-Runtime", priority=1, description="ContainerRuntime Version reported by the node "
                                                        "through runtime remote API."),
)


def node_status(node: Obj) -> str:
    """Ready / NotReady / Unknown, plus `,SchedulingDisabled` for cordoned nodes."""
    parts: list[str] = []
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            parts = ["Ready" if cond.get("status") == "True" else "NotReady"]
    if not parts:
        parts = ["Unknown"]
    if (node.get("spec") or {}).get("unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def _node_address(node: Obj, kind: str) -> str:
    for addr in (node.get("status") or {}).get("addresses") or []:
        if addr.get("type") == kind:
            return str(addr.get("address", ""))
    return "<none>"


def _node_row(node: Obj, now: datetime) -> list[Cell]:
    info = (node.get("status") or {}).get("nodeInfo") or {}
    return [_meta(node).get("name", ""), node_status(node), ",".join(node_roles(node)) or "<none>",
            since(_meta(node).get("creationTimestamp"), now), info.get("kubeletVersion", ""),
            _node_address(node, "InternalIP"), _node_address(node, "ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


# --- namespaces, leases -----------------------------------------------------------------------

NAMESPACE_COLUMNS = (NAME, Column("Status", description="The status of the namespace"), AGE)


def _namespace_row(ns: Obj, now: datetime) -> list[Cell]:
    return [_meta(ns).get("name", ""), (ns.get("status") or {}).get("phase", ""),
            since(_meta(ns).get("creationTimestamp"), now)]


LEASE_COLUMNS = (NAME, Column("Holder", description="holderIdentity contains the identity of the holder "
                                                    "of a current lease."), AGE)


def _lease_row(lease: Obj, now: datetime) -> list[Cell]:
    return [_meta(lease).get("name", ""), (lease.get("spec") or {}).get("holderIdentity") or "",
            since(_meta(lease).get("creationTimestamp"), now)]


# --- services, endpoints ----------------------------------------------------------------------

SERVICE_COLUMNS = (
    NAME,
    Column("Type", description="type determines how the Service is exposed."),
    Column("Cluster-IP", description="clusterIP is the IP address of the service."),
    Column("External-IP", description="externalIPs is a list of IP addresses for which nodes in the "
                                      "cluster will also accept traffic for this service."),
    Column("Port(s)", description="The list of ports that are exposed by this service."),
    AGE,
    Column("Selector", priority=1, description="Route service traffic to pods with label keys and values "
                                               "matching this selector."),
)


def service_ports(ports: list[dict[str, Any]] | None) -> str:
    """makePortString: `80/TCP`, `80:30080/TCP` for node ports, comma separated."""
    pieces = []
    for port in ports or []:
        proto = port.get("protocol") or "TCP"
        if int(port.get("nodePort") or 0) > 0:
            pieces.append(f"{port.get('port')}:{port['nodePort']}/{proto}")
        else:
            pieces.append(f"{port.get('port')}/{proto}")
    return ",".join(pieces)


def service_external_ip(svc: Obj) -> str:
    """getServiceExternalIP (wide form: load balancer addresses unclipped)."""
    spec = svc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    external = [str(ip) for ip in spec.get("externalIPs") or []]
    if stype in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if stype == "LoadBalancer":
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        addresses = (str(i.get("ip") or i.get("hostname") or "") for i in ingress)
        results = list(dict.fromkeys(a for a in addresses if a)) + external
        return ",".join(results) if results else "<pending>"
    if stype == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def _service_row(svc: Obj, now: datetime) -> list[Cell]:
    spec = svc.get("spec") or {}
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [_meta(svc).get("name", ""), spec.get("type") or "ClusterIP",
            cluster_ips[0] if cluster_ips else "<none>", service_external_ip(svc),
            service_ports(spec.get("ports")) or "<none>", since(_meta(svc).get("creationTimestamp"), now),
            format_labels(spec.get("selector"))]


ENDPOINTS_COLUMNS = (NAME, Column("Endpoints", description="The set of all endpoints is the union of all "
                                                           "subsets."), AGE)


def format_endpoints(endpoints: Obj, port_names: set[str] | None = None) -> str:
    """formatEndpoints: first three `ip:port`, then `+ N more...`; `<none>` without subsets."""
    subsets = endpoints.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for subset in subsets:
        addresses = subset.get("addresses") or []
        ports = subset.get("ports") or []
        if not ports:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(str(addr.get("ip", "")))
            continue
        for port in ports:
            if port_names is None or (port.get("name") or "") in port_names:
                count += len(addresses)
                for addr in addresses:
                    if len(shown) == limit:
                        more = True
                        break
                    ip = str(addr.get("ip", ""))
                    host = f"[{ip}]" if ":" in ip else ip
                    shown.append(f"{host}:{port.get('port')}")
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


def _endpoints_row(ep: Obj, now: datetime) -> list[Cell]:
    return [_meta(ep).get("name", ""), format_endpoints(ep), since(_meta(ep).get("creationTimestamp"), now)]


# --- events -----------------------------------------------------------------------------------

EVENT_COLUMNS = (
    Column("Last Seen", description="The time at which the most recent occurrence of this event was "
                                    "recorded."),
    Column("Type", description="Type of this event (Normal, Warning), new types could be added in the "
                               "future"),
    Column("Reason", description="This should be a short, machine understandable string that gives the "
                                 "reason for the transition into the object's current status."),
    Column("Object", description="The object that this event is about."),
    Column("Subobject", priority=1, description="If referring to a piece of an object instead of an entire "
                                                "object, this string should contain a valid JSON/Go "
                                                "field access statement."),
    Column("Source", priority=1, description="The component reporting this event."),
    Column("Message", description="A human-readable description of the status of this operation."),
    Column("First Seen", priority=1, description="The time at which the event was first recorded."),
    Column("Count", priority=1, description="The number of times this event has occurred."),
    Column("Name", priority=1, format="name", description=_NAME_DOC),
)


def event_source(event: Obj) -> str:
    """formatEventSource: `component, host` falling back to reportingController/Instance."""
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingController") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    return f"{component}, {host}" if host else str(component)


def _event_row(event: Obj, now: datetime) -> list[Cell]:
    first = since(event.get("firstTimestamp"), now)
    if not parse_time(event.get("firstTimestamp")):
        first = since(event.get("eventTime"), now)
    last = since(event.get("lastTimestamp"), now) if parse_time(event.get("lastTimestamp")) else first
    count = int(event.get("count") or 0)
    series = event.get("series")
    if series:
        last = since(series.get("lastObservedTime"), now)
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1
    involved = event.get("involvedObject") or {}
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return [last, event.get("type", ""), event.get("reason", ""), target, involved.get("fieldPath", ""),
            event_source(event), str(event.get("message") or "").strip(), first, count,
            _meta(event).get("name", "")]


# --- apps -------------------------------------------------------------------------------------

REPLICASET_COLUMNS = (
    NAME,
    Column("Desired", type="integer", description="Replicas is the number of desired pods."),
    Column("Current", type="integer", description="Replicas is the most recently observed number of "
                                                  "replicas."),
    Column("Ready", type="integer", description="readyReplicas is the number of pods targeted by this "
                                                "ReplicaSet with a Ready Condition."),
    AGE,
    Column("Containers", priority=1, description=_CONTAINERS_DOC),
    Column("Images", priority=1, description=_IMAGES_DOC),
    Column("Selector", priority=1, description="Selector is a label query over pods that should match the "
                                               "replica count."),
)


def _replicaset_row(rs: Obj, now: datetime) -> list[Cell]:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    names, images = _containers(spec.get("template"))
    return [_meta(rs).get("name", ""), int(spec.get("replicas") or 0), int(status.get("replicas") or 0),
            int(status.get("readyReplicas") or 0), since(_meta(rs).get("creationTimestamp"), now),
            names, images, format_label_selector(spec.get("selector"))]


DEPLOYMENT_COLUMNS = (
    NAME,
    Column("Ready", description="Number of the pod with ready state"),
    Column("Up-to-date", description="Total number of non-terminated pods targeted by this deployment "
                                     "that have the desired template spec."),
    Column("Available", description="Total number of available pods (ready for at least minReadySeconds) "
                                    "targeted by this deployment."),
    AGE,
    Column("Containers", priority=1, description=_CONTAINERS_DOC),
    Column("Images", priority=1, description=_IMAGES_DOC),
    Column("Selector", priority=1, description="Label selector for pods."),
)


def _deployment_row(deploy: Obj, now: datetime) -> list[Cell]:
    spec, status = deploy.get("spec") or {}, deploy.get("status") or {}
    names, images = _containers(spec.get("template"))
    ready = f"{int(status.get('readyReplicas') or 0)}/{int(spec.get('replicas') or 0)}"
    return [_meta(deploy).get("name", ""), ready, int(status.get("updatedReplicas") or 0),
            int(status.get("availableReplicas") or 0), since(_meta(deploy).get("creationTimestamp"), now),
            names, images, selector_string(spec.get("selector"))]


DAEMONSET_COLUMNS = (
    NAME,
    Column("Desired", type="integer", description="The total number of nodes that should be running the "
                                                  "daemon pod."),
    Column("Current", type="integer", description="The number of nodes that are running at least 1 daemon "
                                                  "pod and are supposed to run the daemon pod."),
    Column("Ready", type="integer", description="numberReady is the number of nodes that should be "
                                                "running the daemon pod and have one or more of the "
                                                "daemon pod running with a Ready Condition."),
    Column("Up-to-date", type="integer", description="The total number of nodes that are running updated "
                                                     "daemon pod"),
    Column("Available", type="integer", description="The number of nodes that should be running the "
                                                    "daemon pod and have one or more of the daemon pod "
                                                    "running and available."),
    Column("Node Selector", description="NodeSelector is a selector which must be true for the pod to "
                                        "fit on a node."),
    AGE,
    Column("Containers", priority=1, description=_CONTAINERS_DOC),
    Column("Images", priority=1, description=_IMAGES_DOC),
    Column("Selector", priority=1, description="A label query over pods that are managed by the daemon "
                                               "set."),
)


def _daemonset_row(ds: Obj, now: datetime) -> list[Cell]:
    spec, status = ds.get("spec") or {}, ds.get("status") or {}
    template = spec.get("template") or {}
    names, images = _containers(template)
    return [_meta(ds).get("name", ""), int(status.get("desiredNumberScheduled") or 0),
            int(status.get("currentNumberScheduled") or 0), int(status.get("numberReady") or 0),
            int(status.get("updatedNumberScheduled") or 0), int(status.get("numberAvailable") or 0),
            format_labels((template.get("spec") or {}).get("nodeSelector")),
            since(_meta(ds).get("creationTimestamp"), now), names, images,
            format_label_selector(spec.get("selector"))]


CONTROLLER_REVISION_COLUMNS = (
    NAME,
    Column("Controller", description="Controller of the object"),
    Column("Revision", description="Revision indicates the revision of the state represented by Data."),
    AGE,
)


def _controller_revision_row(cr: Obj, now: datetime) -> list[Cell]:
    """printControllerRevision: the controller as `daemonset.apps/name`, `<none>` without one."""
    controller = "<none>"
    for ref in _meta(cr).get("ownerReferences") or []:
        if ref.get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = str(ref.get("kind", "")).lower()
            controller = f"{kind}.{group}/{ref.get('name')}" if group else f"{kind}/{ref.get('name')}"
            break
    return [_meta(cr).get("name", ""), controller, int(cr.get("revision") or 0),
            since(_meta(cr).get("creationTimestamp"), now)]


CONFIG_MAP_COLUMNS = (NAME, Column("Data", description="Data contains the configuration data."), AGE)


def _config_map_row(cm: Obj, now: datetime) -> list[Cell]:
    """printConfigMap: how many keys, data and binaryData together."""
    keys = len(cm.get("data") or {}) + len(cm.get("binaryData") or {})
    return [_meta(cm).get("name", ""), keys, since(_meta(cm).get("creationTimestamp"), now)]


# --- fallback ---------------------------------------------------------------------------------

DEFAULT_COLUMNS = (NAME, AGE)


def _default_row(obj: Obj, now: datetime) -> list[Cell]:
    return [_meta(obj).get("name", ""), since(_meta(obj).get("creationTimestamp"), now)]


# --- table ------------------------------------------------------------------------------------

RowFn = Callable[[Obj, datetime], list[Cell]]

_PRINTERS: dict[str, tuple[tuple[Column, ...], RowFn]] = {
    "nodes": (NODE_COLUMNS, _node_row),
    "namespaces": (NAMESPACE_COLUMNS, _namespace_row),
    "leases": (LEASE_COLUMNS, _lease_row),
    "services": (SERVICE_COLUMNS, _service_row),
    "endpoints": (ENDPOINTS_COLUMNS, _endpoints_row),
    "events": (EVENT_COLUMNS, _event_row),
    "replicasets": (REPLICASET_COLUMNS, _replicaset_row),
    "deployments": (DEPLOYMENT_COLUMNS, _deployment_row),
    "daemonsets": (DAEMONSET_COLUMNS, _daemonset_row),
    "controllerrevisions": (CONTROLLER_REVISION_COLUMNS, _controller_revision_row),
    "configmaps": (CONFIG_MAP_COLUMNS, _config_map_row),
}


def columns_for(r: Resource) -> tuple[Column, ...]:
    if r.plural == "pods":
        return POD_COLUMNS
    return _PRINTERS.get(r.plural, (DEFAULT_COLUMNS, _default_row))[0]


def _row_object(obj: Obj, include_object: str) -> dict[str, Any] | None:
    if include_object == "Object":
        return obj
    if include_object == "Metadata":
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": _meta(obj)}
    return None


def to_table(r: Resource, items: list[Obj], *, now: datetime | None = None,
             include_object: str = "Metadata", resource_version: str | None = None) -> Obj:
    """A meta.k8s.io/v1 Table for `items` of resource `r`, as kube-apiserver renders it.

    `include_object` is the request's includeObject (None, Object, Metadata; Metadata is the
    Kubernetes default and lets kubectl add NAMESPACE and LABELS columns).
    """
    moment = now or datetime.now(UTC)
    rows: list[Obj] = []
    for obj in items:
        conditions: list[dict[str, str]] = []
        if r.plural == "pods":
            cells, conditions = _pod_row(obj, moment)
        else:
            cells = _PRINTERS.get(r.plural, (DEFAULT_COLUMNS, _default_row))[1](obj, moment)
        row: Obj = {"cells": cells}
        if conditions:
            row["conditions"] = conditions
        row_obj = _row_object(obj, include_object)
        if row_obj is not None:
            row["object"] = row_obj
        rows.append(row)
    metadata: Obj = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": [c.definition() for c in columns_for(r)], "rows": rows}
