"""describe for deployments, replica sets and daemon sets."""

from __future__ import annotations

from datetime import datetime

from minik.apiserver.printers import format_label_selector, format_labels, selector_string
from minik.ctl.describe.pod import describe_pod_template
from minik.ctl.describe.writer import (
    Obj,
    PrefixWriter,
    annotations_multiline,
    controlled_by,
    describe_events,
    labels_multiline,
    rfc1123z,
)


def pod_phase_counts(pods: list[Obj], owner_uid: str) -> tuple[int, int, int, int]:
    """getPodStatusForController: Running / Waiting (Pending) / Succeeded / Failed among owned pods."""
    counts = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
    for pod in pods:
        refs = (pod.get("metadata") or {}).get("ownerReferences") or []
        if not any(r.get("controller") and r.get("uid") == owner_uid for r in refs):
            continue
        phase = str((pod.get("status") or {}).get("phase") or "")
        if phase in counts:
            counts[phase] += 1
    return counts["Running"], counts["Pending"], counts["Succeeded"], counts["Failed"]


def _pods_status(counts: tuple[int, int, int, int]) -> str:
    return f"{counts[0]} Running / {counts[1]} Waiting / {counts[2]} Succeeded / {counts[3]} Failed"


def _int_or_percent(value: object, default: str) -> str:
    return default if value is None else str(value)


def describe_deployment(d: Obj, old_rs: list[Obj], new_rs: list[Obj], events: list[Obj] | None,
                        now: datetime) -> str:
    meta, spec, status = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
    w = PrefixWriter()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, f"Selector:\t{selector_string(spec.get('selector'))}\n")
    w.write(0, f"Replicas:\t{int(spec.get('replicas') or 0)} desired | {int(status.get('updatedReplicas') or 0)} "
               f"updated | {int(status.get('replicas') or 0)} total | {int(status.get('availableReplicas') or 0)} "
               f"available | {int(status.get('unavailableReplicas') or 0)} unavailable\n")
    strategy = spec.get("strategy") or {}
    w.write(0, f"StrategyType:\t{strategy.get('type') or 'RollingUpdate'}\n")
    w.write(0, f"MinReadySeconds:\t{int(spec.get('minReadySeconds') or 0)}\n")
    rolling = strategy.get("rollingUpdate")
    if rolling is not None or (strategy.get("type") or "RollingUpdate") == "RollingUpdate":
        rolling = rolling or {}
        w.write(0, f"RollingUpdateStrategy:\t{_int_or_percent(rolling.get('maxUnavailable'), '25%')} max "
                   f"unavailable, {_int_or_percent(rolling.get('maxSurge'), '25%')} max surge\n")
    describe_pod_template(w, spec.get("template"))
    conditions = status.get("conditions") or []
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
        w.write(1, "----\t------\t------\n")
        for c in conditions:
            w.write(1, f"{c.get('type', '')} \t{c.get('status', '')}\t{c.get('reason') or ''}\n")
    if old_rs or new_rs:
        w.write(0, f"OldReplicaSets:\t{_replica_sets(old_rs)}\n")
        w.write(0, f"NewReplicaSet:\t{_replica_sets(new_rs)}\n")
    describe_events(w, events, now)
    return w.text()


def _replica_sets(sets: list[Obj]) -> str:
    """printReplicaSetsByLabels: `name (1/1 replicas created)`, or `<none>`."""
    parts = [f"{(rs.get('metadata') or {}).get('name')} ({int((rs.get('status') or {}).get('replicas') or 0)}/"
             f"{int((rs.get('spec') or {}).get('replicas') or 0)} replicas created)" for rs in sets]
    return ", ".join(parts) or "<none>"


def describe_replicaset(rs: Obj, pods: list[Obj], events: list[Obj] | None, now: datetime) -> str:
    meta, spec, status = rs.get("metadata") or {}, rs.get("spec") or {}, rs.get("status") or {}
    w = PrefixWriter()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"Selector:\t{format_label_selector(spec.get('selector'))}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    owner = controlled_by(rs)
    if owner:
        w.write(0, f"Controlled By:\t{owner}\n")
    w.write(0, f"Replicas:\t{int(status.get('replicas') or 0)} current / {int(spec.get('replicas') or 0)} desired\n")
    w.write(0, f"Pods Status:\t{_pods_status(pod_phase_counts(pods, str(meta.get('uid') or '')))}\n")
    describe_pod_template(w, spec.get("template"))
    conditions = status.get("conditions") or []
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
        w.write(1, "----\t------\t------\n")
        for c in conditions:
            w.write(1, f"{c.get('type', '')} \t{c.get('status', '')}\t{c.get('reason') or ''}\n")
    describe_events(w, events, now)
    return w.text()


def describe_daemonset(ds: Obj, pods: list[Obj], events: list[Obj] | None, now: datetime) -> str:
    meta, spec, status = ds.get("metadata") or {}, ds.get("spec") or {}, ds.get("status") or {}
    w = PrefixWriter()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"Selector:\t{selector_string(spec.get('selector'))}\n")
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector")
    w.write(0, f"Node-Selector:\t{format_labels(node_selector)}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, f"Desired Number of Nodes Scheduled: {int(status.get('desiredNumberScheduled') or 0)}\n")
    w.write(0, f"Current Number of Nodes Scheduled: {int(status.get('currentNumberScheduled') or 0)}\n")
    w.write(0, "Number of Nodes Scheduled with Up-to-date Pods: "
               f"{int(status.get('updatedNumberScheduled') or 0)}\n")
    w.write(0, f"Number of Nodes Scheduled with Available Pods: {int(status.get('numberAvailable') or 0)}\n")
    w.write(0, f"Number of Nodes Misscheduled: {int(status.get('numberMisscheduled') or 0)}\n")
    w.write(0, f"Pods Status:\t{_pods_status(pod_phase_counts(pods, str(meta.get('uid') or '')))}\n")
    describe_pod_template(w, spec.get("template"))
    describe_events(w, events, now)
    return w.text()
