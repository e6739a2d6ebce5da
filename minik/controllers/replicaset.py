"""ReplicaSet controller: keep `spec.replicas` pods matching the selector running.

sync_replica_set claims pods (adopting matching orphans, releasing pods whose labels no longer
match), then manage_replicas creates or deletes the difference, but only once the expectations
recorded by its previous round were met: a slow watch must never make it create twice. Status
(replicas, fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration) is written
through the status subresource.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any, Protocol

from minik.api.errors import ConflictError, NotFoundError, StatusError
from minik.api.labels import Selector, SelectorError, from_label_selector, selector_from_set
from minik.api.resources import Resource
from minik.client.informer import NAMESPACE_INDEX, Informer, split_key
from minik.controllers.controller import Controller
from minik.controllers.controller_ref import ControllerRefManager, get_controller_of, recheck_deletion_timestamp
from minik.controllers.expectations import ControllerExpectations
from minik.controllers.informers import CONTROLLER_UID_INDEX, InformerFactory, controller_uid_index, resource
from minik.controllers.pod_control import PODS, PodControl, Recorder, namespace_terminating, slow_start_batch
from minik.controllers.podutil import (
    filter_active_pods,
    is_pod_available,
    is_pod_ready,
    pod_key,
    pods_to_delete,
)
from minik.controllers.timeutil import now_rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]

BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH_SIZE = 1
STATUS_UPDATE_RETRIES = 1
REPLICA_SETS: Resource = resource("replicasets")


class Client(Protocol):
    def get(self, r: Resource, name: str, namespace: str | None = None) -> Obj: ...

    def create(self, r: Resource, obj: Obj, namespace: str | None = None) -> Obj: ...

    def update_status(self, r: Resource, obj: Obj) -> Obj: ...

    def patch(self, r: Resource, name: str, body: Any, namespace: str | None = None, *,
              patch_type: Any = "merge", subresource: str | None = None) -> Obj: ...

    def delete(self, r: Resource, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None,
               preconditions: Any = None) -> Obj: ...


def replicas_of(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def selector_of(obj: Obj) -> Selector:
    """The workload's label selector; an empty one selects nothing (never "all pods")."""
    sel = from_label_selector((obj.get("spec") or {}).get("selector"))
    return Selector.nothing() if sel.empty() else sel


def set_condition(status: Obj, cond: Obj) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]]
    current = next((c for c in status.get("conditions") or [] if c.get("type") == cond["type"]), None)
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond.get("reason"):
        return
    status["conditions"] = [*conditions, cond]


def remove_condition(status: Obj, type_: str) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


def update_status_with_retry(client: Client, r: Resource, obj: Obj, status: Obj) -> Obj:
    """PUT status; on a conflict re-read once and try again (statusUpdateRetries)."""
    attempt = copy.deepcopy(obj)
    attempt["status"] = status
    m = obj["metadata"]
    for i in range(STATUS_UPDATE_RETRIES + 1):
        try:
            return client.update_status(r, attempt)
        except ConflictError:
            if i == STATUS_UPDATE_RETRIES:
                raise
            attempt = client.get(r, m["name"], m.get("namespace"))
            attempt["status"] = status
    raise AssertionError("unreachable")


class ReplicaSetController(Controller):
    name = "replicaset"

    def __init__(self, client: Client, factory: InformerFactory, recorder: Recorder, workers: int = 5,
                 burst_replicas: int = BURST_REPLICAS) -> None:
        super().__init__(workers)
        self.client = client
        self.burst_replicas = burst_replicas
        self.rs_informer: Informer = factory.informer("replicasets")
        self.pod_informer: Informer = factory.add_index("pods", CONTROLLER_UID_INDEX, controller_uid_index)
        factory.add_index("replicasets", CONTROLLER_UID_INDEX, controller_uid_index)
        self.expectations = ControllerExpectations()
        self.pod_control = PodControl(client, recorder)
        self.rs_informer.add_event_handler(self.add_rs, self.update_rs, self.delete_rs)
        self.pod_informer.add_event_handler(self.add_pod, self.update_pod, self.delete_pod)

    def informers(self) -> list[Informer]:
        return [self.rs_informer, self.pod_informer]

    # --- event handlers -------------------------------------------------------------------

    def add_rs(self, rs: Obj) -> None:
        self.enqueue(rs)

    def update_rs(self, old: Obj, cur: Obj) -> None:
        self.enqueue(cur)

    def delete_rs(self, rs: Obj) -> None:
        m = rs.get("metadata") or {}
        key = f"{m.get('namespace')}/{m.get('name')}"
        self.expectations.delete_expectations(key)
        self.queue.add(key)

    def resolve_controller_ref(self, namespace: str, ref: Obj) -> Obj | None:
        if ref.get("kind") != "ReplicaSet":
            return None
        rs = self.rs_informer.store.get_by_key(f"{namespace}/{ref.get('name')}")
        if rs is None or (rs.get("metadata") or {}).get("uid") != ref.get("uid"):
            return None
        return rs

    def get_pod_replica_sets(self, pod: Obj) -> list[Obj]:
        """ReplicaSets in the pod's namespace whose (non-empty) selector matches its labels."""
        m = pod.get("metadata") or {}
        labels = m.get("labels") or {}
        out = []
        for rs in self.rs_informer.store.by_index(NAMESPACE_INDEX, str(m.get("namespace"))):
            try:
                sel = selector_of(rs)
            except SelectorError:
                continue
            if sel.matches(labels):
                out.append(rs)
        return out

    def add_pod(self, pod: Obj) -> None:
        m = pod.get("metadata") or {}
        if m.get("deletionTimestamp"):
            # on a restart the controller may see a pod already pending deletion
            self.delete_pod(pod)
            return
        ref = get_controller_of(pod)
        if ref is not None:
            rs = self.resolve_controller_ref(str(m.get("namespace")), ref)
            if rs is None:
                return
            key = f"{m.get('namespace')}/{rs['metadata']['name']}"
            self.expectations.creation_observed(key)
            self.queue.add(key)
            return
        for rs in self.get_pod_replica_sets(pod):
            self.enqueue(rs)

    def update_pod(self, old: Obj, cur: Obj) -> None:
        om, cm = old.get("metadata") or {}, cur.get("metadata") or {}
        if om.get("resourceVersion") == cm.get("resourceVersion"):
            return  # a resync: nothing changed
        label_changed = om.get("labels") != cm.get("labels")
        if cm.get("deletionTimestamp"):
            # a pod being deleted is as good as gone for expectations: a replacement starts now
            self.delete_pod(cur)
            if label_changed:
                self.delete_pod(old)
            return
        cur_ref, old_ref = get_controller_of(cur), get_controller_of(old)
        ref_changed = cur_ref != old_ref
        ns = str(cm.get("namespace"))
        if ref_changed and old_ref is not None:
            rs = self.resolve_controller_ref(ns, old_ref)
            if rs is not None:
                self.enqueue(rs)
        if cur_ref is not None:
            rs = self.resolve_controller_ref(ns, cur_ref)
            if rs is None:
                return
            self.enqueue(rs)
            min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(cur):
                # availability flips minReadySeconds after readiness: look again then
                self.enqueue_after(rs, min_ready + 1)
            return
        if label_changed or ref_changed:
            for rs in self.get_pod_replica_sets(cur):
                self.enqueue(rs)

    def delete_pod(self, pod: Obj) -> None:
        ref = get_controller_of(pod)
        if ref is None:
            return
        m = pod.get("metadata") or {}
        rs = self.resolve_controller_ref(str(m.get("namespace")), ref)
        if rs is None:
            return
        key = f"{m.get('namespace')}/{rs['metadata']['name']}"
        self.expectations.deletion_observed(key, pod_key(pod))
        self.queue.add(key)

    # --- sync -----------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        self.sync_replica_set(key)

    def sync_replica_set(self, key: str) -> None:
        started = time.monotonic()
        namespace, name = split_key(key)
        cached = self.rs_informer.store.get_by_key(key)
        if cached is None:
            self.expectations.delete_expectations(key)
            return
        rs = copy.deepcopy(cached)
        needs_sync = self.expectations.satisfied_expectations(key)
        try:
            selector = selector_of(rs)
        except SelectorError as e:
            log.error("replicaset %s has an invalid selector: %s", key, e)
            return  # retrying cannot fix a bad selector; an update will enqueue it again
        all_pods = self.pod_informer.store.by_index(NAMESPACE_INDEX, namespace)
        filtered = self.claim_pods(rs, selector, filter_active_pods(all_pods))
        manage_err: Exception | None = None
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            try:
                self.manage_replicas(filtered, rs, key)
            except Exception as e:
                manage_err = e
        new_status = self.calculate_status(rs, filtered, manage_err)
        updated = self.update_replica_set_status(rs, new_status)
        spec_replicas = replicas_of(updated)
        status = updated.get("status") or {}
        min_ready = int((updated.get("spec") or {}).get("minReadySeconds") or 0)
        if (manage_err is None and min_ready > 0 and (status.get("readyReplicas") or 0) == spec_replicas
                and (status.get("availableReplicas") or 0) != spec_replicas):
            self.queue.add_after(key, min_ready)
        log.debug("synced replicaset %s in %.3fs", key, time.monotonic() - started)
        if manage_err is not None:
            raise manage_err

    def claim_pods(self, rs: Obj, selector: Selector, pods: list[Obj]) -> list[Obj]:
        m = rs["metadata"]

        def fresh() -> Obj:
            return self.client.get(REPLICA_SETS, m["name"], m["namespace"])

        manager = ControllerRefManager(self.client, rs, selector, "apps/v1", "ReplicaSet",
                                       recheck_deletion_timestamp(fresh, m.get("uid", "")))
        return manager.claim(pods, PODS)

    def manage_replicas(self, filtered: list[Obj], rs: Obj, key: str) -> None:
        """Create or delete pods so that len(filtered) == spec.replicas (at most burst per round)."""
        diff = len(filtered) - replicas_of(rs)
        namespace = rs["metadata"]["namespace"]
        if diff < 0:
            want = min(-diff, self.burst_replicas)
            # Expect before creating: the informer may deliver the pods before create() returns.
            self.expectations.expect_creations(key, want)
            ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
                   "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}

            def create() -> None:
                try:
                    self.pod_control.create_pod(namespace, (rs.get("spec") or {}).get("template"), rs, ref)
                except StatusError as e:
                    if namespace_terminating(e):
                        return  # the namespace is going away: nothing to retry
                    raise

            successes, err = slow_start_batch(want, SLOW_START_INITIAL_BATCH_SIZE, create)
            for _ in range(want - successes):
                self.expectations.creation_observed(key)  # never coming: do not wait for them
            if err is not None:
                raise err
        elif diff > 0:
            count = min(diff, self.burst_replicas)
            victims = pods_to_delete(filtered, self.get_indirectly_related_pods(rs), count)
            self.expectations.expect_deletions(key, [pod_key(p) for p in victims])
            errors: list[Exception] = []
            for pod in victims:
                pm = pod["metadata"]
                try:
                    self.pod_control.delete_pod(namespace, pm["name"], rs)
                except Exception as e:
                    self.expectations.deletion_observed(key, pod_key(pod))
                    if not isinstance(e, NotFoundError):
                        errors.append(e)
            if errors:
                raise errors[0]

    def get_indirectly_related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every ReplicaSet that shares rs's controller (a Deployment's other revisions)."""
        ref = get_controller_of(rs)
        siblings = [rs]
        if ref is not None:
            siblings = self.rs_informer.store.by_index(CONTROLLER_UID_INDEX, str(ref.get("uid")))
        pods: list[Obj] = []
        for sibling in siblings:
            pods.extend(self.pod_informer.store.by_index(CONTROLLER_UID_INDEX, str(sibling["metadata"].get("uid"))))
        return pods

    def calculate_status(self, rs: Obj, filtered: list[Obj], manage_err: Exception | None) -> Obj:
        status = copy.deepcopy(rs.get("status") or {})
        template_labels = ((((rs.get("spec") or {}).get("template") or {}).get("metadata") or {})
                           .get("labels") or {})
        template_sel = selector_from_set(template_labels)
        min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
        now = time.time()
        fully_labeled = ready = available = 0
        for pod in filtered:
            if template_sel.matches((pod.get("metadata") or {}).get("labels") or {}):
                fully_labeled += 1
            if is_pod_ready(pod):
                ready += 1
                if is_pod_available(pod, min_ready, now):
                    available += 1
        failure = next((c for c in status.get("conditions") or [] if c.get("type") == "ReplicaFailure"), None)
        if manage_err is not None and failure is None:
            diff = len(filtered) - replicas_of(rs)
            reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
            message = manage_err.message if isinstance(manage_err, StatusError) else str(manage_err)
            set_condition(status, {"type": "ReplicaFailure", "status": "True", "reason": reason,
                                   "message": message, "lastTransitionTime": now_rfc3339()})
        elif manage_err is None and failure is not None:
            remove_condition(status, "ReplicaFailure")
        status["replicas"] = len(filtered)
        for field, value in (("fullyLabeledReplicas", fully_labeled), ("readyReplicas", ready),
                             ("availableReplicas", available)):
            if value:
                status[field] = value
            else:
                status.pop(field, None)  # omitempty, like Kubernetes
        return status

    def update_replica_set_status(self, rs: Obj, new_status: Obj) -> Obj:
        generation = rs["metadata"].get("generation")
        new_status = dict(new_status)
        if generation is not None:
            new_status["observedGeneration"] = generation
        if new_status == (rs.get("status") or {}):
            return rs
        return update_status_with_retry(self.client, REPLICA_SETS, rs, new_status)
