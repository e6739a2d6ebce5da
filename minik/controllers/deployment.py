"""Deployment controller: roll a pod template out through ReplicaSets.

Each template gets its own ReplicaSet `<deployment>-<pod-template-hash>` whose selector adds the
hash label, so the ReplicaSets of one Deployment (and of Deployments sharing a selector) never
claim each other's pods. sync_deployment decides what to do:

- deleting: only status; paused: only scaling (proportionally) and clean-up;
- a scaling event (replicas changed): scale the ReplicaSets proportionally;
- RollingUpdate: grow the new ReplicaSet while pods <= replicas+maxSurge, shrink old ones while
  available >= replicas-maxUnavailable (rollout_rolling);
- Recreate: scale old ReplicaSets to 0, wait until their pods are gone, then scale up the new one.

Status carries the counts and the Available / Progressing conditions (progressDeadlineSeconds);
revisions and revisionHistoryLimit are kept through ReplicaSet annotations.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from typing import Any, Protocol

from minik.api.errors import AlreadyExistsError, NotFoundError, StatusError
from minik.api.labels import SelectorError, from_label_selector
from minik.api.resources import Resource
from minik.client.informer import NAMESPACE_INDEX, Informer
from minik.controllers import deployment_util as du
from minik.controllers.controller import Controller
from minik.controllers.controller_ref import ControllerRefManager, get_controller_of, recheck_deletion_timestamp
from minik.controllers.hashing import compute_hash
from minik.controllers.informers import CONTROLLER_UID_INDEX, InformerFactory, controller_uid_index, resource
from minik.controllers.pod_control import Recorder, namespace_terminating
from minik.controllers.timeutil import parse_rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DEPLOYMENTS: Resource = resource("deployments")
REPLICA_SETS: Resource = resource("replicasets")


class Client(Protocol):
    def get(self, r: Resource, name: str, namespace: str | None = None) -> Obj: ...

    def create(self, r: Resource, obj: Obj, namespace: str | None = None) -> Obj: ...

    def update(self, r: Resource, obj: Obj, subresource: str | None = None) -> Obj: ...

    def update_status(self, r: Resource, obj: Obj) -> Obj: ...

    def patch(self, r: Resource, name: str, body: Any, namespace: str | None = None, *,
              patch_type: Any = "merge", subresource: str | None = None) -> Obj: ...

    def delete(self, r: Resource, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None,
               preconditions: Any = None) -> Obj: ...


def _meta(obj: Obj | None) -> Obj:
    m = (obj or {}).get("metadata")
    return m if isinstance(m, dict) else {}


def _selector_is_empty(d: Obj) -> bool:
    sel = (d.get("spec") or {}).get("selector") or {}
    return not sel.get("matchLabels") and not sel.get("matchExpressions")


class DeploymentController(Controller):
    name = "deployment"

    def __init__(self, client: Client, factory: InformerFactory, recorder: Recorder, workers: int = 5) -> None:
        super().__init__(workers)
        self.client = client
        self.recorder = recorder
        self.d_informer: Informer = factory.informer("deployments")
        self.rs_informer: Informer = factory.add_index("replicasets", CONTROLLER_UID_INDEX, controller_uid_index)
        self.pod_informer: Informer = factory.add_index("pods", CONTROLLER_UID_INDEX, controller_uid_index)
        self.d_informer.add_event_handler(self.enqueue, lambda old, cur: self.enqueue(cur), self.enqueue)
        self.rs_informer.add_event_handler(self.add_replica_set, self.update_replica_set, self.delete_replica_set)
        self.pod_informer.add_event_handler(on_delete=self.delete_pod)

    def informers(self) -> list[Informer]:
        return [self.d_informer, self.rs_informer, self.pod_informer]

    # --- handlers -------------------------------------------------------------------------

    def resolve_controller_ref(self, namespace: str, ref: Obj) -> Obj | None:
        if ref.get("kind") != "Deployment":
            return None
        d = self.d_informer.store.get_by_key(f"{namespace}/{ref.get('name')}")
        if d is None or _meta(d).get("uid") != ref.get("uid"):
            return None
        return d

    def deployments_for_replica_set(self, rs: Obj) -> list[Obj]:
        m = _meta(rs)
        labels = m.get("labels") or {}
        out = []
        for d in self.d_informer.store.by_index(NAMESPACE_INDEX, str(m.get("namespace"))):
            if _selector_is_empty(d):
                continue
            try:
                if from_label_selector((d.get("spec") or {}).get("selector")).matches(labels):
                    out.append(d)
            except SelectorError:
                continue
        return out

    def add_replica_set(self, rs: Obj) -> None:
        if _meta(rs).get("deletionTimestamp"):
            self.delete_replica_set(rs)
            return
        ref = get_controller_of(rs)
        if ref is not None:
            d = self.resolve_controller_ref(str(_meta(rs).get("namespace")), ref)
            if d is not None:
                self.enqueue(d)
            return
        for d in self.deployments_for_replica_set(rs):
            self.enqueue(d)

    def update_replica_set(self, old: Obj, cur: Obj) -> None:
        if _meta(old).get("resourceVersion") == _meta(cur).get("resourceVersion"):
            return
        cur_ref, old_ref = get_controller_of(cur), get_controller_of(old)
        ns = str(_meta(cur).get("namespace"))
        if cur_ref != old_ref and old_ref is not None:
            d = self.resolve_controller_ref(ns, old_ref)
            if d is not None:
                self.enqueue(d)
        if cur_ref is not None:
            d = self.resolve_controller_ref(ns, cur_ref)
            if d is not None:
                self.enqueue(d)
            return
        if _meta(old).get("labels") != _meta(cur).get("labels") or cur_ref != old_ref:
            for d in self.deployments_for_replica_set(cur):
                self.enqueue(d)

    def delete_replica_set(self, rs: Obj) -> None:
        ref = get_controller_of(rs)
        if ref is None:
            return
        d = self.resolve_controller_ref(str(_meta(rs).get("namespace")), ref)
        if d is not None:
            self.enqueue(d)

    def delete_pod(self, pod: Obj) -> None:
        """Recreate waits for the old pods to be gone: look again when the last one went."""
        ref = get_controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        ns = str(_meta(pod).get("namespace"))
        rs = self.rs_informer.store.get_by_key(f"{ns}/{ref.get('name')}")
        if rs is None or _meta(rs).get("uid") != ref.get("uid"):
            return
        rs_ref = get_controller_of(rs)
        d = self.resolve_controller_ref(ns, rs_ref) if rs_ref else None
        if d is not None and ((d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
            self.enqueue(d)

    # --- sync -----------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        self.sync_deployment(key)

    def sync_deployment(self, key: str) -> None:
        started = time.monotonic()
        cached = self.d_informer.store.get_by_key(key)
        if cached is None:
            return
        d = copy.deepcopy(cached)
        if _selector_is_empty(d):
            self.recorder.event(d, "Warning", "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            status = d.get("status") or {}
            if int(status.get("observedGeneration") or 0) < int(_meta(d).get("generation") or 0):
                self._update_status(d, {**status, "observedGeneration": _meta(d).get("generation")})
            return
        rs_list = self.get_replica_sets_for_deployment(d)
        if _meta(d).get("deletionTimestamp"):
            self.sync_status_only(d, rs_list)
            return
        self.check_paused_conditions(d)
        if (d.get("spec") or {}).get("paused"):
            self.sync_scale(d, rs_list)
            return
        if self.is_scaling_event(d, rs_list):
            self.sync_scale(d, rs_list)
            return
        if ((d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
            self.rollout_recreate(d, rs_list)
        else:
            self.rollout_rolling(d, rs_list)
        log.debug("synced deployment %s in %.3fs", key, time.monotonic() - started)

    # --- reading ReplicaSets ------------------------------------------------------------------

    def get_replica_sets_for_deployment(self, d: Obj) -> list[Obj]:
        """ReplicaSets of the namespace claimed by d (adopting orphans its selector matches)."""
        m = d["metadata"]
        selector = from_label_selector((d.get("spec") or {}).get("selector"))

        def fresh() -> Obj:
            return self.client.get(DEPLOYMENTS, m["name"], m["namespace"])

        manager = ControllerRefManager(self.client, d, selector, "apps/v1", "Deployment",
                                       recheck_deletion_timestamp(fresh, str(m.get("uid"))))
        candidates = self.rs_informer.store.by_index(NAMESPACE_INDEX, m["namespace"])
        return [copy.deepcopy(rs) for rs in manager.claim(candidates, REPLICA_SETS)]

    def old_pods_running(self, new_rs: Obj | None, old_rss: list[Obj]) -> bool:
        if du.actual_replica_count(list(old_rss)) > 0:
            return True
        for rs in old_rss:
            for pod in self.pod_informer.store.by_index(CONTROLLER_UID_INDEX, str(_meta(rs).get("uid"))):
                if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                    return True
        return False

    def get_all_replica_sets_and_sync_revision(self, d: Obj, rs_list: list[Obj],
                                               create_if_not_existed: bool) -> tuple[Obj | None, list[Obj]]:
        _, all_old = du.find_old_replica_sets(d, rs_list, du.find_new_replica_set(d, rs_list))
        new_rs = self.get_new_replica_set(d, rs_list, all_old, create_if_not_existed)
        return new_rs, all_old

    def get_new_replica_set(self, d: Obj, rs_list: list[Obj], old_rss: list[Obj],
                            create_if_not_existed: bool) -> Obj | None:
        existing = du.find_new_replica_set(d, rs_list)
        new_revision = str(du.max_revision(old_rss) + 1)
        if existing is not None:
            rs_copy = copy.deepcopy(existing)
            annotations_updated = du.set_new_replica_set_annotations(d, rs_copy, new_revision, True)
            min_ready = (d.get("spec") or {}).get("minReadySeconds") or 0
            if annotations_updated or ((rs_copy.get("spec") or {}).get("minReadySeconds") or 0) != min_ready:
                rs_copy["spec"]["minReadySeconds"] = min_ready
                return self.client.update(REPLICA_SETS, rs_copy)
            rev = (_meta(rs_copy).get("annotations") or {}).get(du.REVISION_ANNOTATION, "")
            self._set_deployment_revision(d, rev)
            status = copy.deepcopy(d.get("status") or {})
            if du.has_progress_deadline(d) and du.get_condition(status, du.PROGRESSING) is None:
                du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.FOUND_NEW_RS_REASON,
                                                          f'Found new replica set "{_meta(rs_copy)["name"]}"'))
                self._update_status(d, status)
            return rs_copy
        if not create_if_not_existed:
            return None
        spec = d.get("spec") or {}
        collision = (d.get("status") or {}).get("collisionCount")
        template = copy.deepcopy(spec.get("template") or {})
        pod_hash = compute_hash(template, collision)
        template.setdefault("metadata", {})
        template["metadata"]["labels"] = {**(template["metadata"].get("labels") or {}),
                                          du.DEFAULT_UNIQUE_LABEL_KEY: pod_hash}
        selector = copy.deepcopy(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), du.DEFAULT_UNIQUE_LABEL_KEY: pod_hash}
        m = d["metadata"]
        new_rs: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{m['name']}-{pod_hash}", "namespace": m["namespace"],
                         "labels": dict(template["metadata"]["labels"]),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": m["name"],
                                              "uid": m["uid"], "controller": True, "blockOwnerDeletion": True}]},
            "spec": {"replicas": 0, "minReadySeconds": spec.get("minReadySeconds") or 0,
                     "selector": selector, "template": template},
        }
        replicas = du.new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        new_rs["spec"]["replicas"] = replicas
        du.set_new_replica_set_annotations(d, new_rs, new_revision, False)
        already_exists = False
        try:
            created = self.client.create(REPLICA_SETS, new_rs, m["namespace"])
        except AlreadyExistsError:
            already_exists = True
            found = self.rs_informer.store.get_by_key(f"{m['namespace']}/{new_rs['metadata']['name']}")
            if found is None:
                raise
            ref = get_controller_of(found)
            if ref is not None and ref.get("uid") == m["uid"] and du.equal_ignore_hash(
                    spec.get("template"), (found.get("spec") or {}).get("template")):
                created = copy.deepcopy(found)
            else:
                # a hash collision: bump collisionCount so the next sync picks another name
                status = copy.deepcopy(d.get("status") or {})
                status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                self._update_status(d, status)
                raise
        except StatusError as e:
            if namespace_terminating(e):
                raise
            msg = f'Failed to create new replica set "{new_rs["metadata"]["name"]}": {e.message}'
            if du.has_progress_deadline(d):
                status = copy.deepcopy(d.get("status") or {})
                du.set_condition(status, du.new_condition(du.PROGRESSING, "False", du.FAILED_RS_CREATE_REASON, msg))
                with contextlib.suppress(StatusError):
                    self._update_status(d, status)
            self.recorder.event(d, "Warning", du.FAILED_RS_CREATE_REASON, msg)
            raise
        if not already_exists and replicas > 0:
            self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled up replica set {_meta(created)['name']} to {replicas}")
        self._set_deployment_revision(d, new_revision)
        if not already_exists and du.has_progress_deadline(d):
            status = copy.deepcopy(d.get("status") or {})
            du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_REPLICA_SET_REASON,
                                                      f'Created new replica set "{_meta(created)["name"]}"'))
            self._update_status(d, status)
        return created

    # --- writes to the Deployment ---------------------------------------------------------

    def _set_deployment_revision(self, d: Obj, rev: str) -> None:
        """The revision annotation lives in metadata, which a status write cannot change here."""
        if not rev or (_meta(d).get("annotations") or {}).get(du.REVISION_ANNOTATION) == rev:
            return
        m = d["metadata"]
        updated = self.client.patch(DEPLOYMENTS, m["name"],
                                    {"metadata": {"annotations": {du.REVISION_ANNOTATION: rev},
                                                  "resourceVersion": m.get("resourceVersion")}},
                                    m["namespace"])
        du.set_deployment_revision(d, rev)
        m["resourceVersion"] = _meta(updated).get("resourceVersion")

    def _update_status(self, d: Obj, status: Obj) -> None:
        attempt = {**d, "status": status}
        updated = self.client.update_status(DEPLOYMENTS, attempt)
        d["status"] = status
        d["metadata"]["resourceVersion"] = _meta(updated).get("resourceVersion")

    def check_paused_conditions(self, d: Obj) -> None:
        if not du.has_progress_deadline(d):
            return
        status = copy.deepcopy(d.get("status") or {})
        cond = du.get_condition(status, du.PROGRESSING)
        if cond is not None and cond.get("reason") == du.TIMED_OUT_REASON:
            return  # a reported lack of progress is not overwritten by "paused"
        paused = bool((d.get("spec") or {}).get("paused"))
        paused_cond = cond is not None and cond.get("reason") == du.PAUSED_DEPLOY_REASON
        if paused and not paused_cond:
            du.set_condition(status, du.new_condition(du.PROGRESSING, "Unknown", du.PAUSED_DEPLOY_REASON,
                                                      "Deployment is paused"))
        elif not paused and paused_cond:
            du.set_condition(status, du.new_condition(du.PROGRESSING, "Unknown", du.RESUMED_DEPLOY_REASON,
                                                      "Deployment is resumed"))
        else:
            return
        self._update_status(d, status)

    # --- scaling --------------------------------------------------------------------------

    def is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        for rs in du.filter_active([*old_rss, new_rs]):
            desired = du.desired_replicas_annotation(rs)
            if desired is not None and desired != du.spec_replicas(d):
                return True
        return False

    def sync_scale(self, d: Obj, rs_list: list[Obj]) -> None:
        """`sync`: scaling events and paused deployments; no rollout progress is made here."""
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        self.scale(d, new_rs, old_rss)
        if (d.get("spec") or {}).get("paused"):
            self.cleanup_deployment(old_rss, d)
        self.sync_deployment_status([*old_rss, new_rs], new_rs, d)

    def sync_status_only(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        self.sync_deployment_status([*old_rss, new_rs], new_rs, d)

    def scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        replicas = du.spec_replicas(d)
        active_or_latest = du.find_active_or_latest(new_rs, old_rss)
        if active_or_latest is not None:
            if du.spec_replicas(active_or_latest) != replicas:
                self.scale_replica_set_and_record_event(active_or_latest, replicas, d)
            return
        if du.is_saturated(d, new_rs):
            for old in du.filter_active(list(old_rss)):
                self.scale_replica_set_and_record_event(old, 0, d)
            return
        if not du.is_rolling_update(d):
            return
        all_rss = du.filter_active([*old_rss, new_rs])
        allowed = replicas + du.max_surge(d) if replicas > 0 else 0
        to_add = allowed - du.replica_count(list(all_rss))
        if to_add > 0:
            # larger first; among equals the newer one grows first
            all_rss.sort(key=lambda rs: (-du.spec_replicas(rs), -du.creation_key(rs)[0], du.creation_key(rs)[1]))
            operation = "up"
        elif to_add < 0:
            # larger first; among equals the older one shrinks first
            all_rss.sort(key=lambda rs: (-du.spec_replicas(rs), du.creation_key(rs)))
            operation = "down"
        else:
            operation = ""
        added = 0
        sizes: dict[str, int] = {}
        for rs in all_rss:
            name = _meta(rs)["name"]
            if to_add != 0:
                proportion = du.get_proportion(rs, d, to_add, added)
                sizes[name] = du.spec_replicas(rs) + proportion
                added += proportion
            else:
                sizes[name] = du.spec_replicas(rs)
        for i, rs in enumerate(all_rss):
            name = _meta(rs)["name"]
            if i == 0 and to_add != 0:
                sizes[name] = max(sizes[name] + to_add - added, 0)  # leftovers go to the largest
            self.scale_replica_set(rs, sizes[name], d, operation)

    def scale_replica_set_and_record_event(self, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
        if du.spec_replicas(rs) == new_scale:
            return False, rs
        operation = "up" if du.spec_replicas(rs) < new_scale else "down"
        return self.scale_replica_set(rs, new_scale, d, operation)

    def scale_replica_set(self, rs: Obj, new_scale: int, d: Obj, operation: str) -> tuple[bool, Obj]:
        size_changed = du.spec_replicas(rs) != new_scale
        desired, max_replicas = du.spec_replicas(d), du.spec_replicas(d) + du.max_surge(d)
        if not size_changed and not du.replicas_annotations_need_update(rs, desired, max_replicas):
            return False, rs
        old_scale = du.spec_replicas(rs)
        rs_copy = copy.deepcopy(rs)
        rs_copy["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(rs_copy, desired, max_replicas)
        updated = self.client.update(REPLICA_SETS, rs_copy)
        if size_changed:
            self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled {operation} replica set {_meta(rs)['name']} to {new_scale} from {old_scale}")
        return size_changed, updated

    # --- rollouts -------------------------------------------------------------------------

    def rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, True)
        assert new_rs is not None
        all_rss: list[Obj | None] = [*old_rss, new_rs]
        if self.reconcile_new_replica_set(all_rss, new_rs, d):
            self.sync_rollout_status(all_rss, new_rs, d)
            return
        if self.reconcile_old_replica_sets(all_rss, du.filter_active(list(old_rss)), new_rs, d):
            self.sync_rollout_status(all_rss, new_rs, d)
            return
        if du.deployment_complete(d, d.get("status") or {}):
            self.cleanup_deployment(old_rss, d)
        self.sync_rollout_status(all_rss, new_rs, d)

    def reconcile_new_replica_set(self, all_rss: list[Obj | None], new_rs: Obj, d: Obj) -> bool:
        replicas = du.spec_replicas(d)
        if du.spec_replicas(new_rs) == replicas:
            return False
        if du.spec_replicas(new_rs) > replicas:
            scaled, _ = self.scale_replica_set_and_record_event(new_rs, replicas, d)
            return scaled
        scaled, _ = self.scale_replica_set_and_record_event(new_rs, du.new_rs_new_replicas(d, all_rss, new_rs), d)
        return scaled

    def reconcile_old_replica_sets(self, all_rss: list[Obj | None], old_rss: list[Obj], new_rs: Obj,
                                   d: Obj) -> bool:
        if du.replica_count(list(old_rss)) == 0:
            return False
        min_available = du.spec_replicas(d) - du.max_unavailable(d)
        new_unavailable = du.spec_replicas(new_rs) - du.available_lower_bound([new_rs])
        max_scaled_down = du.replica_count(all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old_rss, cleaned = self.cleanup_unhealthy_replicas(old_rss, d, max_scaled_down)
        scaled_down = self.scale_down_old_replica_sets_for_rolling_update([*old_rss, new_rs], old_rss, d)
        return cleaned + scaled_down > 0

    def cleanup_unhealthy_replicas(self, old_rss: list[Obj], d: Obj, max_cleanup: int) -> tuple[list[Obj], int]:
        """Shrink old ReplicaSets by their unavailable pods first: those serve nothing anyway."""
        old_rss = sorted(old_rss, key=du.creation_key)
        total = 0
        for i, rs in enumerate(old_rss):
            if total >= max_cleanup:
                break
            replicas = du.spec_replicas(rs)
            available = min(replicas, du.status_int(rs, "availableReplicas"))
            if replicas == 0 or replicas == available:
                continue
            count = min(max_cleanup - total, replicas - available)
            _, updated = self.scale_replica_set_and_record_event(rs, replicas - count, d)
            old_rss[i] = updated
            total += count
        return old_rss, total

    def scale_down_old_replica_sets_for_rolling_update(self, all_rss: list[Obj | None], old_rss: list[Obj],
                                                       d: Obj) -> int:
        min_available = du.spec_replicas(d) - du.max_unavailable(d)
        available = du.available_lower_bound(all_rss)
        if available <= min_available:
            return 0
        total_to_scale = available - min_available
        total = 0
        for rs in sorted(old_rss, key=du.creation_key):
            if total >= total_to_scale:
                break
            replicas = du.spec_replicas(rs)
            if replicas == 0:
                continue
            count = min(replicas, total_to_scale - total)
            self.scale_replica_set_and_record_event(rs, replicas - count, d)
            total += count
        return total

    def rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        all_rss: list[Obj | None] = [*old_rss, new_rs]
        scaled_down = False
        for rs in du.filter_active(list(old_rss)):
            scaled, _ = self.scale_replica_set_and_record_event(rs, 0, d)
            scaled_down = scaled_down or scaled
        if scaled_down:
            self.sync_rollout_status(all_rss, new_rs, d)
            return
        if self.old_pods_running(new_rs, old_rss):
            self.sync_rollout_status(all_rss, new_rs, d)
            return
        if new_rs is None:
            new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, True)
            all_rss = [*old_rss, new_rs]
        assert new_rs is not None
        if du.spec_replicas(new_rs) != du.spec_replicas(d):
            self.scale_replica_set_and_record_event(new_rs, du.spec_replicas(d), d)
        if du.deployment_complete(d, d.get("status") or {}):
            self.cleanup_deployment(old_rss, d)
        self.sync_rollout_status(all_rss, new_rs, d)

    def cleanup_deployment(self, old_rss: list[Obj], d: Obj) -> None:
        """Delete the oldest zero-sized ReplicaSets beyond revisionHistoryLimit."""
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old_rss if not _meta(rs).get("deletionTimestamp")]
        diff = len(alive) - int(limit)
        if diff <= 0:
            return
        for rs in sorted(alive, key=lambda r: (du.revision(r), du.creation_key(r)))[:diff]:
            m = _meta(rs)
            if (du.status_int(rs, "replicas") != 0 or du.spec_replicas(rs) != 0
                    or int(m.get("generation") or 0) > du.status_int(rs, "observedGeneration")):
                continue
            log.info("deployment %s/%s: deleting old replica set %s (revisionHistoryLimit %s)",
                     m.get("namespace"), _meta(d).get("name"), m.get("name"), limit)
            with contextlib.suppress(NotFoundError):
                self.client.delete(REPLICA_SETS, m["name"], m["namespace"])

    # --- status ---------------------------------------------------------------------------

    def calculate_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> Obj:
        available = du.available_replica_count(all_rss)
        total = du.replica_count(all_rss)
        status = copy.deepcopy(d.get("status") or {})
        status.update({
            "observedGeneration": _meta(d).get("generation"),
            "replicas": du.actual_replica_count(all_rss),
            "updatedReplicas": du.actual_replica_count([new_rs]),
            "readyReplicas": du.ready_replica_count(all_rss),
            "availableReplicas": available,
            "unavailableReplicas": max(total - available, 0),
        })
        for field in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"):
            if not status[field]:
                del status[field]  # omitempty, like Kubernetes
        if available >= du.spec_replicas(d) - du.max_unavailable(d):
            du.set_condition(status, du.new_condition(du.AVAILABLE, "True", du.MINIMUM_REPLICAS_AVAILABLE,
                                                      "Deployment has minimum availability."))
        else:
            du.set_condition(status, du.new_condition(du.AVAILABLE, "False", du.MINIMUM_REPLICAS_UNAVAILABLE,
                                                      "Deployment does not have minimum availability."))
        return status

    def sync_deployment_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
        status = self.calculate_status(all_rss, new_rs, d)
        if status != (d.get("status") or {}):
            self._update_status(d, status)

    def sync_rollout_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
        status = self.calculate_status(all_rss, new_rs, d)
        if not du.has_progress_deadline(d):
            du.remove_condition(status, du.PROGRESSING)
        current = du.get_condition(d.get("status") or {}, du.PROGRESSING)
        complete_before = (int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0)
                           and current is not None and current.get("reason") == du.NEW_RS_AVAILABLE_REASON)
        rs_name = _meta(new_rs).get("name") if new_rs is not None else None
        if du.has_progress_deadline(d) and not complete_before:
            if du.deployment_complete(d, status):
                msg = (f'ReplicaSet "{rs_name}" has successfully progressed.' if rs_name
                       else f'Deployment "{_meta(d)["name"]}" has successfully progressed.')
                du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_AVAILABLE_REASON, msg))
            elif du.deployment_progressing(d, status):
                msg = (f'ReplicaSet "{rs_name}" is progressing.' if rs_name
                       else f'Deployment "{_meta(d)["name"]}" is progressing.')
                cond = du.new_condition(du.PROGRESSING, "True", du.REPLICA_SET_UPDATED_REASON, msg)
                if current is not None:
                    if current.get("status") == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime")
                    du.remove_condition(status, du.PROGRESSING)
                du.set_condition(status, cond)
            elif du.deployment_timed_out(d, status):
                msg = (f'ReplicaSet "{rs_name}" has timed out progressing.' if rs_name
                       else f'Deployment "{_meta(d)["name"]}" has timed out progressing.')
                du.set_condition(status, du.new_condition(du.PROGRESSING, "False", du.TIMED_OUT_REASON, msg))
        failure = self.get_replica_failure(all_rss, new_rs)
        if failure is not None:
            du.set_condition(status, failure)
        else:
            du.remove_condition(status, du.REPLICA_FAILURE)
        if status == (d.get("status") or {}):
            self.requeue_stuck_deployment(d, status)
            return
        self._update_status(d, status)

    @staticmethod
    def get_replica_failure(all_rss: list[Obj | None], new_rs: Obj | None) -> Obj | None:
        ordered = [new_rs, *(rs for rs in all_rss if rs is not new_rs)]
        for rs in ordered:
            if rs is None:
                continue
            for cond in (rs.get("status") or {}).get("conditions") or []:
                if cond.get("type") == du.REPLICA_FAILURE:
                    return {"type": du.REPLICA_FAILURE, "status": cond.get("status"), "reason": cond.get("reason"),
                            "message": cond.get("message"),
                            "lastUpdateTime": cond.get("lastTransitionTime"),
                            "lastTransitionTime": cond.get("lastTransitionTime")}
        return None

    def requeue_stuck_deployment(self, d: Obj, status: Obj) -> None:
        """No progress now: look again when the progress deadline would pass."""
        current = du.get_condition(d.get("status") or {}, du.PROGRESSING)
        if not du.has_progress_deadline(d) or current is None:
            return
        if du.deployment_complete(d, status) or current.get("reason") == du.TIMED_OUT_REASON:
            return
        since = parse_rfc3339(current.get("lastUpdateTime"))
        if since is None:
            return
        after = since + int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0) - time.time()
        key = f"{_meta(d)['namespace']}/{_meta(d)['name']}"
        if after < 1:
            self.queue.add_rate_limited(key)
        else:
            self.queue.add_after(key, after + 1)
