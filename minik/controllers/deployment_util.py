"""Deployment arithmetic and bookkeeping (Kubernetes' deployment/util), shared with `minictl rollout`.

Revisions live in the `deployment.kubernetes.io/revision` annotation of each ReplicaSet; the
"new" ReplicaSet is the one whose template equals the Deployment's (ignoring pod-template-hash);
maxSurge rounds up and maxUnavailable rounds down, and both zero means one may be unavailable.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from minik.controllers.intstr import scaled_value
from minik.controllers.timeutil import now_rfc3339, parse_rfc3339

Obj = dict[str, Any]

DEFAULT_UNIQUE_LABEL_KEY = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO_ANNOTATION = "deprecated.deployment.rollback.to"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
# Annotations a Deployment does not hand down to its ReplicaSets (and rollback does not copy back).
ANNOTATIONS_TO_SKIP = frozenset({LAST_APPLIED_ANNOTATION, REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION,
                                 DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION, ROLLBACK_TO_ANNOTATION})
MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000
MAX_INT32 = 2**31 - 1

# Condition types and reasons.
AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_REPLICA_SET_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
REPLICA_SET_UPDATED_REASON = "ReplicaSetUpdated"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
PAUSED_DEPLOY_REASON = "DeploymentPaused"
RESUMED_DEPLOY_REASON = "DeploymentResumed"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"


def _meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def spec_replicas(obj: Obj | None) -> int:
    if obj is None:
        return 0
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_int(obj: Obj | None, field: str) -> int:
    if obj is None:
        return 0
    return int((obj.get("status") or {}).get(field) or 0)


# --- revisions & annotations -------------------------------------------------------------------


def revision(obj: Obj) -> int:
    """The revision annotation as a number (0 when absent or not a number)."""
    try:
        return int((_meta(obj).get("annotations") or {}).get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def max_revision(rss: list[Obj]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def set_deployment_revision(d: Obj, rev: str) -> bool:
    annotations = d["metadata"].setdefault("annotations", {})
    if annotations.get(REVISION_ANNOTATION) == rev:
        return False
    annotations[REVISION_ANNOTATION] = rev
    return True


def copy_deployment_annotations_to_replica_set(d: Obj, rs: Obj) -> bool:
    changed = False
    rs_ann = rs["metadata"].setdefault("annotations", {})
    for k, v in (_meta(d).get("annotations") or {}).items():
        if k in ANNOTATIONS_TO_SKIP or rs_ann.get(k) == v:
            continue
        rs_ann[k] = v
        changed = True
    return changed


def max_surge(d: Obj) -> int:
    if not is_rolling_update(d):
        return 0
    surge, _ = resolve_fenceposts(d)
    return surge


def max_unavailable(d: Obj) -> int:
    replicas = spec_replicas(d)
    if not is_rolling_update(d) or replicas == 0:
        return 0
    _, unavailable = resolve_fenceposts(d)
    return min(unavailable, replicas)


def resolve_fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in pods: surge rounded up, unavailable down; never both 0."""
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    replicas = spec_replicas(d)
    surge = scaled_value(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = scaled_value(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # otherwise the rollout could never make progress
    return surge, unavailable


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS_ANNOTATION, str(desired)), (MAX_REPLICAS_ANNOTATION, str(max_replicas))):
        if ann.get(key) != value:
            ann[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = _meta(rs).get("annotations") or {}
    return ann.get(DESIRED_REPLICAS_ANNOTATION) != str(desired) or ann.get(MAX_REPLICAS_ANNOTATION) != str(max_replicas)


def set_new_replica_set_annotations(d: Obj, rs: Obj, new_revision: str, exists: bool) -> bool:
    """Copy the Deployment's annotations, raise the revision (keeping the old one in
    revision-history when an old ReplicaSet becomes new again, i.e. a rollback)."""
    changed = copy_deployment_annotations_to_replica_set(d, rs)
    ann = rs["metadata"].setdefault("annotations", {})
    old = ann.get(REVISION_ANNOTATION)
    try:
        old_int = int(old) if old else 0
    except ValueError:
        return False
    new_int = int(new_revision)
    if old_int < new_int:
        ann[REVISION_ANNOTATION] = new_revision
        changed = True
        if old:
            history = ann.get(REVISION_HISTORY_ANNOTATION, "")
            revisions = [r for r in history.split(",") if r] + [old]
            while len(",".join(revisions)) > MAX_REV_HISTORY_LENGTH_IN_CHARS and len(revisions) > 1:
                revisions.pop(0)
            ann[REVISION_HISTORY_ANNOTATION] = ",".join(revisions)
    if not exists and set_replicas_annotations(rs, spec_replicas(d), spec_replicas(d) + max_surge(d)):
        changed = True
    return changed


def desired_replicas_annotation(rs: Obj) -> int | None:
    return _int_annotation(rs, DESIRED_REPLICAS_ANNOTATION)


def max_replicas_annotation(rs: Obj) -> int | None:
    return _int_annotation(rs, MAX_REPLICAS_ANNOTATION)


def _int_annotation(obj: Obj, key: str) -> int | None:
    value = (_meta(obj).get("annotations") or {}).get(key)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# --- templates & replica sets ------------------------------------------------------------------


def template_without_hash(template: Obj | None) -> Obj:
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(DEFAULT_UNIQUE_LABEL_KEY, None)
    return t


def equal_ignore_hash(a: Obj | None, b: Obj | None) -> bool:
    return template_without_hash(a) == template_without_hash(b)


def creation_key(obj: Obj) -> tuple[float, str]:
    return (parse_rfc3339(_meta(obj).get("creationTimestamp")) or 0.0, str(_meta(obj).get("name") or ""))


def find_new_replica_set(d: Obj, rss: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template equals the Deployment's (ignoring the hash label)."""
    template = (d.get("spec") or {}).get("template")
    for rs in sorted(rss, key=creation_key):
        if equal_ignore_hash((rs.get("spec") or {}).get("template"), template):
            return rs
    return None


def find_old_replica_sets(d: Obj, rss: list[Obj], new_rs: Obj | None) -> tuple[list[Obj], list[Obj]]:
    """(old ones that still have pods, all old ones)."""
    new_uid = _meta(new_rs).get("uid") if new_rs else None
    all_old = [rs for rs in rss if _meta(rs).get("uid") != new_uid]
    return [rs for rs in all_old if spec_replicas(rs) > 0], all_old


def filter_active(rss: list[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and spec_replicas(rs) > 0]


def replica_count(rss: list[Obj | None]) -> int:
    return sum(spec_replicas(rs) for rs in rss if rs is not None)


def actual_replica_count(rss: list[Obj | None]) -> int:
    return sum(status_int(rs, "replicas") for rs in rss if rs is not None)


def ready_replica_count(rss: list[Obj | None]) -> int:
    return sum(status_int(rs, "readyReplicas") for rs in rss if rs is not None)


def available_replica_count(rss: list[Obj | None]) -> int:
    return sum(status_int(rs, "availableReplicas") for rs in rss if rs is not None)


def pods_upper_bound(rss: list[Obj | None]) -> int:
    """Pods the ReplicaSets may have right now: a shrunk one keeps its pods until its controller
    deleted them, so count max(spec, status) to never surge past maxSurge meanwhile."""
    return sum(max(spec_replicas(rs), status_int(rs, "replicas")) for rs in rss if rs is not None)


def available_lower_bound(rss: list[Obj | None]) -> int:
    """Available pods that will remain: a shrunk ReplicaSet's surplus pods are about to go."""
    return sum(min(spec_replicas(rs), status_int(rs, "availableReplicas")) for rs in rss if rs is not None)


def is_rolling_update(d: Obj) -> bool:
    return (((d.get("spec") or {}).get("strategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"


def new_rs_new_replicas(d: Obj, all_rss: list[Obj | None], new_rs: Obj) -> int:
    """How big the new ReplicaSet may be now: up to replicas+maxSurge pods in total."""
    if not is_rolling_update(d):
        return spec_replicas(d)
    current = pods_upper_bound(all_rss)
    max_total = spec_replicas(d) + max_surge(d)
    if current >= max_total:
        return spec_replicas(new_rs)
    scale_up = min(max_total - current, spec_replicas(d) - spec_replicas(new_rs))
    return spec_replicas(new_rs) + max(scale_up, 0)


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    desired = desired_replicas_annotation(rs)
    return (spec_replicas(rs) == spec_replicas(d) and desired == spec_replicas(d)
            and status_int(rs, "availableReplicas") == spec_replicas(d))


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """The one ReplicaSet with pods, or the newest one when none has pods; None if several have."""
    if new_rs is None and not old_rss:
        return None
    ordered = sorted(old_rss, key=creation_key, reverse=True)
    all_rss = [rs for rs in [new_rs, *ordered] if rs is not None]
    active = filter_active(list(all_rss))
    if not active:
        return new_rs if new_rs is not None else ordered[0]
    if len(active) == 1:
        return active[0]
    return None


def get_proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    if spec_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _replica_set_fraction(rs: Obj, d: Obj) -> int:
    if spec_replicas(d) == 0:
        return -spec_replicas(rs)
    deployment_replicas = spec_replicas(d) + max_surge(d)
    annotated = max_replicas_annotation(rs)
    if annotated is None:
        annotated = status_int(d, "replicas")
    if not annotated:
        return 0
    new_size = spec_replicas(rs) * deployment_replicas / annotated
    return int(new_size + 0.5) - spec_replicas(rs)  # round half up, like integer.RoundToInt32


# --- conditions --------------------------------------------------------------------------------


def new_condition(type_: str, status: str, reason: str, message: str) -> Obj:
    now = now_rfc3339()
    return {"type": type_, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def get_condition(status: Obj, type_: str) -> Obj | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def set_condition(status: Obj, cond: Obj) -> None:
    """SetDeploymentCondition: same status+reason is a no-op; same status keeps lastTransitionTime."""
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    status["conditions"] = [*(c for c in status.get("conditions") or [] if c.get("type") != cond["type"]), cond]


def remove_condition(status: Obj, type_: str) -> None:
    kept = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def has_progress_deadline(d: Obj) -> bool:
    value = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return value is not None and value != MAX_INT32


def deployment_complete(d: Obj, status: Obj) -> bool:
    replicas = spec_replicas(d)
    return (int(status.get("updatedReplicas") or 0) == replicas and int(status.get("replicas") or 0) == replicas
            and int(status.get("availableReplicas") or 0) == replicas
            and int(status.get("observedGeneration") or 0) >= int(_meta(d).get("generation") or 0))


def deployment_progressing(d: Obj, new_status: Obj) -> bool:
    old = d.get("status") or {}

    def get(s: Obj, f: str) -> int:
        return int(s.get(f) or 0)

    old_old = get(old, "replicas") - get(old, "updatedReplicas")
    new_old = get(new_status, "replicas") - get(new_status, "updatedReplicas")
    return (get(new_status, "updatedReplicas") > get(old, "updatedReplicas") or new_old < old_old
            or get(new_status, "readyReplicas") > get(old, "readyReplicas")
            or get(new_status, "availableReplicas") > get(old, "availableReplicas"))


def deployment_timed_out(d: Obj, new_status: Obj, now: float | None = None) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(new_status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE_REASON:
        return False
    if cond.get("reason") == TIMED_OUT_REASON:
        return True
    since = parse_rfc3339(cond.get("lastUpdateTime"))
    if since is None:
        return False
    deadline = int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0)
    return since + deadline < (time.time() if now is None else now)
