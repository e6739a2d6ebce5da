"""describe for pods, and the container/volume/pod-template sections workloads reuse."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik.api.quantity import Quantity
from minik.ctl.describe.quantity import add, parse_quantity
from minik.ctl.describe.writer import (
    Obj,
    PrefixWriter,
    annotations_multiline,
    controlled_by,
    describe_events,
    labels_multiline,
    rfc1123z,
    since,
    tolerations_multiline,
)


def _resources_section(w: PrefixWriter, resources: dict[str, Any] | None, level: int) -> None:
    """describeResources: Limits then Requests, resource names sorted, quantities canonical."""
    resources = resources or {}
    for title in ("limits", "requests"):
        values = resources.get(title) or {}
        if values:
            w.write(level, f"{title.capitalize()}:\n")
        for name in sorted(values):
            w.write(level + 1, f"{name}:\t{parse_quantity(values[name])}\n")


def _state(w: PrefixWriter, title: str, state: dict[str, Any] | None) -> None:
    """describeStatus: Running/Waiting/Terminated with their details."""
    state = state or {}
    if state.get("running") is not None:
        w.write(2, f"{title}:\tRunning\n")
        w.write(3, f"Started:\t{rfc1123z((state['running'] or {}).get('startedAt'))}\n")
    elif state.get("waiting") is not None:
        w.write(2, f"{title}:\tWaiting\n")
        reason = (state["waiting"] or {}).get("reason")
        if reason:
            w.write(3, f"Reason:\t{reason}\n")
    elif state.get("terminated") is not None:
        term = state["terminated"] or {}
        w.write(2, f"{title}:\tTerminated\n")
        if term.get("reason"):
            w.write(3, f"Reason:\t{term['reason']}\n")
        if term.get("message"):
            w.write(3, f"Message:\t{term['message']}\n")
        w.write(3, f"Exit Code:\t{int(term.get('exitCode') or 0)}\n")
        if int(term.get("signal") or 0) > 0:
            w.write(3, f"Signal:\t{term['signal']}\n")
        w.write(3, f"Started:\t{rfc1123z(term.get('startedAt'))}\n")
        w.write(3, f"Finished:\t{rfc1123z(term.get('finishedAt'))}\n")
    else:
        w.write(2, f"{title}:\tWaiting\n")


def _probe(probe: dict[str, Any]) -> str:
    """DescribeProbe: `http-get http://:8080/ delay=0s timeout=1s period=10s successThreshold=1 ...`."""
    attrs = (f"delay={int(probe.get('initialDelaySeconds') or 0)}s "
             f"timeout={int(probe.get('timeoutSeconds') or 0)}s "
             f"period={int(probe.get('periodSeconds') or 0)}s "
             f"successThreshold={int(probe.get('successThreshold') or 0)} "
             f"failureThreshold={int(probe.get('failureThreshold') or 0)}")
    if probe.get("exec") is not None:
        command = " ".join(str(c) for c in (probe["exec"] or {}).get("command") or [])
        return f"exec [{command}] {attrs}"
    if probe.get("httpGet") is not None:
        get = probe["httpGet"] or {}
        scheme = str(get.get("scheme") or "").lower()
        host = str(get.get("host") or "")
        port = get.get("port")
        hostport = f"{host}:{port}" if port not in (None, "") else host
        return f"http-get {scheme + '://' if scheme else '//'}{hostport}{get.get('path') or ''} {attrs}"
    if probe.get("tcpSocket") is not None:
        sock = probe["tcpSocket"] or {}
        return f"tcp-socket {sock.get('host') or ''}:{sock.get('port')} {attrs}"
    return f"unknown {attrs}"


def _ports(ports: list[dict[str, Any]] | None, field: str) -> str:
    return ", ".join(f"{int(p.get(field) or 0)}/{p.get('protocol') or 'TCP'}" for p in ports or [])


def describe_containers(w: PrefixWriter, label: str, containers: list[dict[str, Any]] | None,
                        statuses: list[dict[str, Any]] | None, space: str, pod: Obj | None = None) -> None:
    """describeContainers: one block per container, with its status when the pod has one."""
    containers = containers or []
    by_name = {s.get("name"): s for s in statuses or []}
    w.write(0, f"{space}{label}:{'' if containers else ' <none>'}\n")
    name_indent = " " if space else ""
    for c in containers:
        status = by_name.get(c.get("name"))
        w.write(1, f"{name_indent}{c.get('name')}:\n")
        if status is not None:
            w.write(2, f"Container ID:\t{status.get('containerID') or ''}\n")
        w.write(2, f"Image:\t{c.get('image') or ''}\n")
        if status is not None:
            w.write(2, f"Image ID:\t{status.get('imageID') or ''}\n")
        ports = _ports(c.get("ports"), "containerPort")
        if "," in ports:
            w.write(2, f"Ports:\t{ports}\n")
        else:
            w.write(2, f"Port:\t{ports or '<none>'}\n")
        host_ports = _ports(c.get("ports"), "hostPort")
        if "," in host_ports:
            w.write(2, f"Host Ports:\t{host_ports}\n")
        else:
            w.write(2, f"Host Port:\t{host_ports or '<none>'}\n")
        for title, key in (("Command", "command"), ("Args", "args")):
            if c.get(key):
                w.write(2, f"{title}:\n")
                for item in c[key]:
                    for part in str(item).split("\n"):
                        w.write(3, f"{part}\n")
        if status is not None:
            _state(w, "State", status.get("state"))
            last = status.get("lastState") or {}
            if last.get("terminated") is not None:
                _state(w, "Last State", last)
            w.write(2, f"Ready:\t{'True' if status.get('ready') else 'False'}\n")
            w.write(2, f"Restart Count:\t{int(status.get('restartCount') or 0)}\n")
        _resources_section(w, c.get("resources"), 2)
        for title, key in (("Liveness", "livenessProbe"), ("Readiness", "readinessProbe"),
                           ("Startup", "startupProbe")):
            if c.get(key):
                w.write(2, f"{title}:\t{_probe(c[key])}\n")
        _env(w, c.get("env"), pod)
        _mounts(w, c.get("volumeMounts"))


def field_value(pod: Obj | None, path: str) -> str:
    """EnvValueRetriever: the value a downward-API fieldRef resolves to on this pod."""
    if pod is None:
        return ""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName"), "status.hostIP": status.get("hostIP"),
              "status.podIP": status.get("podIP"),
              "status.podIPs": ",".join(str(i.get("ip")) for i in status.get("podIPs") or [])}
    if path in simple:
        return str(simple[path] or "")
    for prefix, source in (("metadata.labels", meta.get("labels")), ("metadata.annotations", meta.get("annotations"))):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return str((source or {}).get(path[len(prefix) + 2:-2], ""))
    return ""


def _env(w: PrefixWriter, env: list[dict[str, Any]] | None, pod: Obj | None) -> None:
    w.write(2, "Environment:" + ("" if env else "\t<none>") + "\n")
    for e in env or []:
        source = e.get("valueFrom")
        if not source:
            for i, part in enumerate(str(e.get("value") or "").split("\n")):
                w.write(3, f"{e.get('name')}:\t{part}\n" if i == 0 else f"\t{part}\n")
        elif source.get("fieldRef"):
            ref = source["fieldRef"]
            value = field_value(pod, str(ref.get("fieldPath", "")))
            w.write(3, f"{e.get('name')}:\t{value} ({ref.get('apiVersion', 'v1')}:{ref.get('fieldPath')})\n")
        elif source.get("resourceFieldRef"):
            w.write(3, f"{e.get('name')}:\t ({source['resourceFieldRef'].get('resource')})\n")
        elif source.get("secretKeyRef"):
            ref = source["secretKeyRef"]
            w.write(3, f"{e.get('name')}:\t<set to the key '{ref.get('key')}' in secret '{ref.get('name')}'>\t"
                       f"Optional: {'true' if ref.get('optional') else 'false'}\n")
        elif source.get("configMapKeyRef"):
            ref = source["configMapKeyRef"]
            w.write(3, f"{e.get('name')}:\t<set to the key '{ref.get('key')}' of config map "
                       f"'{ref.get('name')}'>\tOptional: {'true' if ref.get('optional') else 'false'}\n")


def _mounts(w: PrefixWriter, mounts: list[dict[str, Any]] | None) -> None:
    w.write(2, "Mounts:" + ("" if mounts else "\t<none>") + "\n")
    for m in sorted(mounts or [], key=lambda m: str(m.get("mountPath", ""))):
        flags = ["ro" if m.get("readOnly") else "rw"]
        if m.get("subPath"):
            flags.append(f'path="{m["subPath"]}"')
        w.write(3, f"{m.get('mountPath')} from {m.get('name')} ({','.join(flags)})\n")


def describe_volumes(w: PrefixWriter, volumes: list[dict[str, Any]] | None, space: str) -> None:
    if not volumes:
        w.write(0, f"{space}Volumes:\t<none>\n")
        return
    w.write(0, f"{space}Volumes:\n")
    name_indent = " " if space else ""
    for v in volumes:
        w.write(1, f"{name_indent}{v.get('name')}:\n")
        if v.get("hostPath") is not None:
            hp = v["hostPath"] or {}
            w.write(2, "Type:\tHostPath (bare host directory volume)\n"
                       f"    Path:\t{hp.get('path', '')}\n"
                       f"    HostPathType:\t{hp.get('type') or '<none>'}\n")
        elif v.get("emptyDir") is not None:
            ed = v["emptyDir"] or {}
            limit = ed.get("sizeLimit")
            size = str(parse_quantity(limit)) if limit and parse_quantity(limit).amount > 0 else "<unset>"
            w.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
                       f"    Medium:\t{ed.get('medium') or ''}\n"
                       f"    SizeLimit:\t{size}\n")
        elif v.get("configMap") is not None:
            cm = v["configMap"] or {}
            w.write(2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n"
                       f"    Name:\t{cm.get('name', '')}\n"
                       f"    Optional:\t{'true' if cm.get('optional') else 'false'}\n")
        elif v.get("secret") is not None:
            sec = v["secret"] or {}
            w.write(2, "Type:\tSecret (a volume populated by a Secret)\n"
                       f"    SecretName:\t{sec.get('secretName', '')}\n"
                       f"    Optional:\t{'true' if sec.get('optional') else 'false'}\n")
        elif v.get("persistentVolumeClaim") is not None:
            pvc = v["persistentVolumeClaim"] or {}
            w.write(2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same "
                       "namespace)\n"
                       f"    ClaimName:\t{pvc.get('claimName', '')}\n"
                       f"    ReadOnly:\t{'true' if pvc.get('readOnly') else 'false'}\n")
        else:
            w.write(1, "<unknown>\n")


def qos_class(pod: Obj) -> str:
    """status.qosClass, else computed like qos.GetPodQOS (BestEffort, Burstable, Guaranteed)."""
    given = (pod.get("status") or {}).get("qosClass")
    if given:
        return str(given)
    spec = pod.get("spec") or {}
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    guaranteed = True
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        res = c.get("resources") or {}
        for name, value in (res.get("requests") or {}).items():
            q = parse_quantity(value)
            if name in ("cpu", "memory") and q.amount != 0:
                requests[name] = add(requests[name], q) if name in requests else q
        found = set()
        for name, value in (res.get("limits") or {}).items():
            q = parse_quantity(value)
            if name in ("cpu", "memory") and q.amount != 0:
                found.add(name)
                limits[name] = add(limits[name], q) if name in limits else q
        if found != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(name in limits and limits[name].amount == q.amount for name, q in requests.items()):
        return "Guaranteed"
    return "Burstable"


def describe_pod(pod: Obj, events: list[Obj] | None, now: datetime) -> str:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    w = PrefixWriter()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    if spec.get("priority") is not None:
        w.write(0, f"Priority:\t{spec['priority']}\n")
    if spec.get("priorityClassName"):
        w.write(0, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    if spec.get("runtimeClassName"):
        w.write(0, f"Runtime Class Name:\t{spec['runtimeClassName']}\n")
    if spec.get("serviceAccountName"):
        w.write(0, f"Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("nodeName"):
        w.write(0, f"Node:\t{spec['nodeName']}/{status.get('hostIP') or ''}\n")
    else:
        w.write(0, "Node:\t<none>\n")
    if status.get("startTime"):
        w.write(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    phase = status.get("phase") or ""
    if meta.get("deletionTimestamp") and phase not in ("Failed", "Succeeded"):
        w.write(0, f"Status:\tTerminating (lasts {since(meta['deletionTimestamp'], now)})\n")
        w.write(0, f"Termination Grace Period:\t{int(meta.get('deletionGracePeriodSeconds') or 0)}s\n")
    else:
        w.write(0, f"Status:\t{phase}\n")
    if status.get("reason"):
        w.write(0, f"Reason:\t{status['reason']}\n")
    if status.get("message"):
        w.write(0, f"Message:\t{status['message']}\n")
    w.write(0, f"IP:\t{status.get('podIP') or ''}\n")
    ips = [ip.get("ip") for ip in status.get("podIPs") or [] if ip.get("ip")]
    if ips:
        w.write(0, "IPs:\n")
        for ip in ips:
            w.write(1, f"IP:\t{ip}\n")
    else:
        w.write(0, "IPs:\t<none>\n")
    owner = controlled_by(pod)
    if owner:
        w.write(0, f"Controlled By:\t{owner}\n")
    if status.get("nominatedNodeName"):
        w.write(0, f"NominatedNodeName:\t{status['nominatedNodeName']}\n")
    if spec.get("initContainers"):
        describe_containers(w, "Init Containers", spec["initContainers"], status.get("initContainerStatuses"), "",
                            pod)
    describe_containers(w, "Containers", spec.get("containers"), status.get("containerStatuses"), "", pod)
    conditions = status.get("conditions") or []
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for cond in conditions:
            w.write(1, f"{cond.get('type')} \t{cond.get('status')} \n")
    describe_volumes(w, spec.get("volumes"), "")
    w.write(0, f"QoS Class:\t{qos_class(pod)}\n")
    labels_multiline(w, "Node-Selectors", spec.get("nodeSelector"))
    tolerations_multiline(w, "Tolerations", spec.get("tolerations"))
    describe_events(w, events, now)
    return w.text()


def describe_pod_template(w: PrefixWriter, template: dict[str, Any] | None) -> None:
    """DescribePodTemplate, used by deployments, replica sets and daemon sets."""
    w.write(0, "Pod Template:\n")
    if template is None:
        w.write(1, "<unset>")
        return
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    labels_multiline(w, "  Labels", meta.get("labels"))
    if meta.get("annotations"):
        annotations_multiline(w, "  Annotations", meta["annotations"])
    if spec.get("serviceAccountName"):
        w.write(1, f"Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("initContainers"):
        describe_containers(w, "Init Containers", spec["initContainers"], None, "  ")
    describe_containers(w, "Containers", spec.get("containers"), None, "  ")
    describe_volumes(w, spec.get("volumes"), "  ")
    if spec.get("priorityClassName"):
        w.write(1, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    labels_multiline(w, "  Node-Selectors", spec.get("nodeSelector"))
    tolerations_multiline(w, "  Tolerations", spec.get("tolerations"))
