"""DaemonSet controller: one pod per eligible node, updated node by node.

A node is eligible when the pod template's nodeSelector and required node affinity allow it and
every NoSchedule/NoExecute taint is tolerated; daemon pods get Kubernetes' automatic tolerations
(not-ready and unreachable NoExecute without tolerationSeconds, disk/memory/pid pressure and
unschedulable NoSchedule). Pods are created with a matchFields `metadata.name=<node>` node
affinity, so the scheduler can only bind them there. A node that stops being eligible loses its
pod (for a NoSchedule taint only new pods are kept off, as in Kubernetes).

Template history is kept in ControllerRevisions named `<ds>-<hash>`; pods carry the hash in
`controller-revision-hash`, and RollingUpdate deletes old pods while at most maxUnavailable
nodes lack an available up-to-date pod; manage then creates their replacements.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from typing import Any, Protocol

from minik.api.errors import AlreadyExistsError, ConflictError, NotFoundError, StatusError
from minik.api.labels import Selector, SelectorError
from minik.api.resources import Resource
from minik.client.informer import NAMESPACE_INDEX, Informer
from minik.controllers.controller import Controller
from minik.controllers.controller_ref import ControllerRefManager, get_controller_of, recheck_deletion_timestamp
from minik.controllers.expectations import ControllerExpectations
from minik.controllers.hashing import compute_hash
from minik.controllers.informers import (
    CONTROLLER_UID_INDEX,
    InformerFactory,
    controller_uid_index,
    resource,
)
from minik.controllers.intstr import scaled_value
from minik.controllers.nodeaffinity import matches_node, replace_node_name_affinity, target_node_name
from minik.controllers.pod_control import PODS, PodControl, Recorder, namespace_terminating, slow_start_batch
from minik.controllers.podutil import is_pod_available, is_pod_ready, pod_key
from minik.controllers.replicaset import selector_of, update_status_with_retry
from minik.controllers.taints import (
    NO_EXECUTE,
    NO_SCHEDULE,
    TAINT_NODE_DISK_PRESSURE,
    TAINT_NODE_MEMORY_PRESSURE,
    TAINT_NODE_NETWORK_UNAVAILABLE,
    TAINT_NODE_NOT_READY,
    TAINT_NODE_PID_PRESSURE,
    TAINT_NODE_UNREACHABLE,
    TAINT_NODE_UNSCHEDULABLE,
    find_untolerated_taint,
    node_taints,
)
from minik.controllers.timeutil import parse_rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]

UNIQUE_LABEL_KEY = "controller-revision-hash"
BURST_REPLICAS = 250
DAEMON_SETS: Resource = resource("daemonsets")
REVISIONS: Resource = resource("controllerrevisions")


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


def daemon_pod_tolerations(spec: Obj) -> list[Obj]:
    """AddOrUpdateDaemonPodTolerations: what a daemon must tolerate to run on every node."""
    tolerations = [dict(t) for t in spec.get("tolerations") or []]
    wanted = [(TAINT_NODE_NOT_READY, NO_EXECUTE), (TAINT_NODE_UNREACHABLE, NO_EXECUTE),
              (TAINT_NODE_DISK_PRESSURE, NO_SCHEDULE), (TAINT_NODE_MEMORY_PRESSURE, NO_SCHEDULE),
              (TAINT_NODE_PID_PRESSURE, NO_SCHEDULE), (TAINT_NODE_UNSCHEDULABLE, NO_SCHEDULE)]
    if spec.get("hostNetwork"):
        wanted.append((TAINT_NODE_NETWORK_UNAVAILABLE, NO_SCHEDULE))
    for key, effect in wanted:
        new = {"key": key, "operator": "Exists", "effect": effect}
        # replace a toleration for the same key and effect (e.g. one with tolerationSeconds)
        tolerations = [t for t in tolerations if not (t.get("key") == key and t.get("effect") == effect)]
        tolerations.append(new)
    return tolerations


def new_pod_spec(ds: Obj, node_name: str | None = None) -> Obj:
    spec = copy.deepcopy((((ds.get("spec") or {}).get("template") or {}).get("spec")) or {})
    spec["tolerations"] = daemon_pod_tolerations(spec)
    if node_name:
        spec["nodeName"] = node_name
    return spec


def node_should_run_daemon_pod(node: Obj, ds: Obj) -> tuple[bool, bool]:
    """(should run, should continue running): taints only matter with NoSchedule/NoExecute, and a
    NoSchedule taint only keeps new pods away."""
    spec = new_pod_spec(ds)
    name = _meta(node).get("name")
    template_node = spec.get("nodeName")
    if template_node and template_node != name:
        return False, False
    if not matches_node(spec, node):
        return False, False
    tolerations = spec.get("tolerations") or []
    taints = node_taints(node)
    if find_untolerated_taint(taints, tolerations, lambda t: t.get("effect") in (NO_SCHEDULE, NO_EXECUTE)):
        untolerated_no_execute = find_untolerated_taint(taints, tolerations, lambda t: t.get("effect") == NO_EXECUTE)
        return False, untolerated_no_execute is None
    return True, True


def is_pod_updated(pod: Obj, hash_: str) -> bool:
    return bool(hash_) and (_meta(pod).get("labels") or {}).get(UNIQUE_LABEL_KEY) == hash_


def pod_order_key(pod: Obj) -> tuple[int, float, str]:
    """podByCreationTimestampAndPhase: scheduled pods first, then oldest first."""
    return (0 if (pod.get("spec") or {}).get("nodeName") else 1,
            parse_rfc3339(_meta(pod).get("creationTimestamp")) or 0.0, str(_meta(pod).get("name") or ""))


def revision_patch(ds: Obj) -> Obj:
    """What a ControllerRevision stores: a strategic patch replacing spec.template (kubectl undo applies it)."""
    template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


class DaemonSetController(Controller):
    name = "daemonset"

    def __init__(self, client: Client, factory: InformerFactory, recorder: Recorder, workers: int = 2,
                 burst_replicas: int = BURST_REPLICAS) -> None:
        super().__init__(workers)
        self.client = client
        self.recorder = recorder
        self.burst_replicas = burst_replicas
        self.ds_informer: Informer = factory.informer("daemonsets")
        self.pod_informer: Informer = factory.add_index("pods", CONTROLLER_UID_INDEX, controller_uid_index)
        self.node_informer: Informer = factory.informer("nodes")
        self.history_informer: Informer = factory.add_index("controllerrevisions", CONTROLLER_UID_INDEX,
                                                            controller_uid_index)
        self.expectations = ControllerExpectations()
        self.pod_control = PodControl(client, recorder)
        self.ds_informer.add_event_handler(self.enqueue, lambda old, cur: self.enqueue(cur), self.delete_daemon_set)
        self.pod_informer.add_event_handler(self.add_pod, self.update_pod, self.delete_pod)
        self.node_informer.add_event_handler(self.add_node, self.update_node, self.delete_node)
        self.history_informer.add_event_handler(self.on_history, lambda old, cur: self.on_history(cur),
                                                self.on_history)

    def informers(self) -> list[Informer]:
        return [self.ds_informer, self.pod_informer, self.node_informer, self.history_informer]

    # --- handlers -------------------------------------------------------------------------

    def delete_daemon_set(self, ds: Obj) -> None:
        key = f"{_meta(ds).get('namespace')}/{_meta(ds).get('name')}"
        self.expectations.delete_expectations(key)
        self.queue.add(key)

    def resolve_controller_ref(self, namespace: str, ref: Obj) -> Obj | None:
        if ref.get("kind") != "DaemonSet":
            return None
        ds = self.ds_informer.store.get_by_key(f"{namespace}/{ref.get('name')}")
        if ds is None or _meta(ds).get("uid") != ref.get("uid"):
            return None
        return ds

    def daemon_sets_for_pod(self, pod: Obj) -> list[Obj]:
        m = _meta(pod)
        labels = m.get("labels") or {}
        out = []
        for ds in self.ds_informer.store.by_index(NAMESPACE_INDEX, str(m.get("namespace"))):
            try:
                if selector_of(ds).matches(labels):
                    out.append(ds)
            except SelectorError:
                continue
        return out

    def add_pod(self, pod: Obj) -> None:
        m = _meta(pod)
        if m.get("deletionTimestamp"):
            self.delete_pod(pod)
            return
        ref = get_controller_of(pod)
        if ref is not None:
            ds = self.resolve_controller_ref(str(m.get("namespace")), ref)
            if ds is not None:
                key = f"{m.get('namespace')}/{_meta(ds)['name']}"
                self.expectations.creation_observed(key)
                self.queue.add(key)
            return
        for ds in self.daemon_sets_for_pod(pod):
            self.enqueue(ds)

    def update_pod(self, old: Obj, cur: Obj) -> None:
        om, cm = _meta(old), _meta(cur)
        if om.get("resourceVersion") == cm.get("resourceVersion"):
            return
        if cm.get("deletionTimestamp"):
            self.delete_pod(cur)
            return
        ns = str(cm.get("namespace"))
        cur_ref, old_ref = get_controller_of(cur), get_controller_of(old)
        if cur_ref != old_ref and old_ref is not None:
            ds = self.resolve_controller_ref(ns, old_ref)
            if ds is not None:
                self.enqueue(ds)
        if cur_ref is not None:
            ds = self.resolve_controller_ref(ns, cur_ref)
            if ds is None:
                return
            self.enqueue(ds)
            min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(cur):
                self.enqueue_after(ds, min_ready + 1)
            return
        if om.get("labels") != cm.get("labels") or cur_ref != old_ref:
            for ds in self.daemon_sets_for_pod(cur):
                self.enqueue(ds)

    def delete_pod(self, pod: Obj) -> None:
        ref = get_controller_of(pod)
        if ref is None:
            return
        m = _meta(pod)
        ds = self.resolve_controller_ref(str(m.get("namespace")), ref)
        if ds is None:
            return
        key = f"{m.get('namespace')}/{_meta(ds)['name']}"
        self.expectations.deletion_observed(key, pod_key(pod))
        self.queue.add(key)

    def add_node(self, node: Obj) -> None:
        for ds in self.ds_informer.store.list():
            should_run, _ = node_should_run_daemon_pod(node, ds)
            if should_run:
                self.enqueue(ds)

    def update_node(self, old: Obj, cur: Obj) -> None:
        if (_meta(old).get("labels") == _meta(cur).get("labels") and node_taints(old) == node_taints(cur)):
            return
        for ds in self.ds_informer.store.list():
            if node_should_run_daemon_pod(old, ds) != node_should_run_daemon_pod(cur, ds):
                self.enqueue(ds)

    def delete_node(self, node: Obj) -> None:
        for ds in self.ds_informer.store.list():
            self.enqueue(ds)

    def on_history(self, history: Obj) -> None:
        ref = get_controller_of(history)
        if ref is not None:
            ds = self.resolve_controller_ref(str(_meta(history).get("namespace")), ref)
            if ds is not None:
                self.enqueue(ds)

    # --- sync -----------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        self.sync_daemon_set(key)

    def sync_daemon_set(self, key: str) -> None:
        started = time.monotonic()
        cached = self.ds_informer.store.get_by_key(key)
        if cached is None:
            self.expectations.delete_expectations(key)
            return
        ds = copy.deepcopy(cached)
        try:
            selector = selector_of(ds)
        except SelectorError as e:
            log.error("daemonset %s has an invalid selector: %s", key, e)
            return
        raw = (ds.get("spec") or {}).get("selector") or {}
        if not raw.get("matchLabels") and not raw.get("matchExpressions"):
            self.recorder.event(ds, "Warning", "SelectingAll",
                                "This daemon set is selecting all pods. A non-empty selector is required.")
            return
        if _meta(ds).get("deletionTimestamp"):
            return
        nodes = self.node_informer.store.list()
        cur, old = self.construct_history(ds, selector)
        hash_ = str((_meta(cur).get("labels") or {}).get(UNIQUE_LABEL_KEY) or "")
        if not self.expectations.satisfied_expectations(key):
            self.update_daemon_set_status(ds, nodes, hash_, selector, False)
            return
        self.manage(ds, nodes, hash_, selector)
        if self.expectations.satisfied_expectations(key):
            strategy = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate"
            if strategy == "RollingUpdate":
                self.rolling_update(ds, nodes, hash_, selector)
        self.cleanup_history(ds, old, selector)
        self.update_daemon_set_status(ds, nodes, hash_, selector, True)
        log.debug("synced daemonset %s in %.3fs", key, time.monotonic() - started)

    # --- pods per node --------------------------------------------------------------------

    def get_daemon_pods(self, ds: Obj, selector: Selector) -> list[Obj]:
        m = ds["metadata"]

        def fresh() -> Obj:
            return self.client.get(DAEMON_SETS, m["name"], m["namespace"])

        manager = ControllerRefManager(self.client, ds, selector, "apps/v1", "DaemonSet",
                                       recheck_deletion_timestamp(fresh, str(m.get("uid"))))
        return manager.claim(self.pod_informer.store.by_index(NAMESPACE_INDEX, m["namespace"]), PODS)

    def get_nodes_to_daemon_pods(self, ds: Obj, selector: Selector) -> dict[str, list[Obj]]:
        """node name -> the daemon's pods for it (finished pods already deleted are left out)."""
        out: dict[str, list[Obj]] = {}
        for pod in self.get_daemon_pods(ds, selector):
            if _meta(pod).get("deletionTimestamp") and (pod.get("status") or {}).get("phase") in (
                    "Succeeded", "Failed"):
                continue
            node = target_node_name(pod)
            if node is None:
                continue
            out.setdefault(node, []).append(pod)
        return out

    def pods_should_be_on_node(self, node: Obj, node_to_pods: dict[str, list[Obj]], ds: Obj,
                               nodes_needing: list[str], pods_to_delete: list[str]) -> None:
        name = str(_meta(node).get("name"))
        should_run, should_continue = node_should_run_daemon_pod(node, ds)
        pods = node_to_pods.get(name, [])
        if should_run and not pods:
            nodes_needing.append(name)
        elif should_continue:
            running = []
            for pod in pods:
                if _meta(pod).get("deletionTimestamp"):
                    continue
                phase = (pod.get("status") or {}).get("phase")
                if phase == "Failed":
                    msg = (f"Found failed daemon pod {_meta(pod).get('namespace')}/{_meta(pod).get('name')} on node "
                           f"{name}, will try to kill it")
                    self.recorder.event(ds, "Warning", "FailedDaemonPod", msg)
                    pods_to_delete.append(str(_meta(pod)["name"]))
                elif phase == "Succeeded":
                    pods_to_delete.append(str(_meta(pod)["name"]))
                else:
                    running.append(pod)
            if len(running) > 1:
                # one pod per node: keep the oldest scheduled one
                for extra in sorted(running, key=pod_order_key)[1:]:
                    pods_to_delete.append(str(_meta(extra)["name"]))
        elif pods:
            for pod in pods:
                if not _meta(pod).get("deletionTimestamp"):
                    pods_to_delete.append(str(_meta(pod)["name"]))

    def manage(self, ds: Obj, nodes: list[Obj], hash_: str, selector: Selector) -> None:
        node_to_pods = self.get_nodes_to_daemon_pods(ds, selector)
        nodes_needing: list[str] = []
        pods_to_delete: list[str] = []
        for node in nodes:
            self.pods_should_be_on_node(node, node_to_pods, ds, nodes_needing, pods_to_delete)
        # pods for nodes that no longer exist and never got bound: nothing will ever run them
        names = {str(_meta(n).get("name")) for n in nodes}
        for node_name, pods in node_to_pods.items():
            if node_name in names:
                continue
            for pod in pods:
                if not (pod.get("spec") or {}).get("nodeName") and not _meta(pod).get("deletionTimestamp"):
                    pods_to_delete.append(str(_meta(pod)["name"]))
        self.sync_nodes(ds, pods_to_delete, nodes_needing, hash_)

    def sync_nodes(self, ds: Obj, pods_to_delete: list[str], nodes_needing: list[str], hash_: str) -> None:
        m = ds["metadata"]
        key = f"{m['namespace']}/{m['name']}"
        nodes_needing = nodes_needing[: self.burst_replicas]
        pods_to_delete = pods_to_delete[: self.burst_replicas]
        self.expectations.set_expectations(key, len(nodes_needing), [f"{m['namespace']}/{p}" for p in pods_to_delete])
        template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
        template.setdefault("metadata", {})
        template["metadata"]["labels"] = {**(template["metadata"].get("labels") or {}), UNIQUE_LABEL_KEY: hash_}
        template.setdefault("spec", {})
        template["spec"]["tolerations"] = daemon_pod_tolerations(template["spec"])
        ref = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": m["name"], "uid": m["uid"],
               "controller": True, "blockOwnerDeletion": True}
        pending = iter(nodes_needing)
        errors: list[Exception] = []

        def create() -> None:
            node_name = next(pending)

            def pin(pod: Obj) -> None:
                pod["spec"]["affinity"] = replace_node_name_affinity(pod["spec"].get("affinity"), node_name)

            try:
                self.pod_control.create_pod(m["namespace"], template, ds, ref, mutate=pin)
            except StatusError as e:
                if namespace_terminating(e):
                    return
                raise

        successes, err = slow_start_batch(len(nodes_needing), 1, create)
        for _ in range(len(nodes_needing) - successes):
            self.expectations.creation_observed(key)
        if err is not None:
            errors.append(err)
        for name in pods_to_delete:
            try:
                self.pod_control.delete_pod(m["namespace"], name, ds)
            except Exception as e:
                self.expectations.deletion_observed(key, f"{m['namespace']}/{name}")
                if not isinstance(e, NotFoundError):
                    errors.append(e)
        if errors:
            raise errors[0]

    # --- rolling update -------------------------------------------------------------------

    def rolling_update(self, ds: Obj, nodes: list[Obj], hash_: str, selector: Selector) -> None:
        """maxUnavailable path of Kubernetes' rollingUpdate: delete old pods (unavailable ones
        always, available ones while fewer than maxUnavailable nodes are unavailable); manage
        creates the new pods on the next round."""
        node_to_pods = self.get_nodes_to_daemon_pods(ds, selector)
        desired = 0
        for node in nodes:
            if node_should_run_daemon_pod(node, ds)[0]:
                desired += 1
                node_to_pods.setdefault(str(_meta(node)["name"]), [])
        ru = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
        max_unavailable = scaled_value(ru.get("maxUnavailable", 1), desired, True)
        max_surge = scaled_value(ru.get("maxSurge", 0), desired, True)
        if max_unavailable == 0 and max_surge == 0:
            max_unavailable = 1
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        now = time.time()
        unavailable = 0
        allowed: list[str] = []
        candidates: list[str] = []
        for _node, pods in sorted(node_to_pods.items()):
            new_pod = old_pod = None
            ok = True
            for pod in pods:
                if _meta(pod).get("deletionTimestamp"):
                    continue
                if is_pod_updated(pod, hash_):
                    if new_pod is not None:
                        ok = False
                    new_pod = pod
                else:
                    if old_pod is not None:
                        ok = False
                    old_pod = pod
            if not ok or (new_pod is None) == (old_pod is None):
                unavailable += 1  # manage sorts these nodes out; count them as unavailable
            elif new_pod is not None:
                if not is_pod_available(new_pod, min_ready, now):
                    unavailable += 1
            else:
                assert old_pod is not None
                if not is_pod_available(old_pod, min_ready, now):
                    allowed.append(str(_meta(old_pod)["name"]))  # serves nothing: replace it now
                    unavailable += 1
                elif unavailable < max_unavailable:
                    candidates.append(str(_meta(old_pod)["name"]))
        remaining = max(0, min(max_unavailable - unavailable, len(candidates)))
        to_delete = allowed + candidates[:remaining]
        if to_delete:
            self.sync_nodes(ds, to_delete, [], hash_)

    # --- history --------------------------------------------------------------------------

    def controlled_histories(self, ds: Obj, selector: Selector) -> list[Obj]:
        m = ds["metadata"]

        def fresh() -> Obj:
            return self.client.get(DAEMON_SETS, m["name"], m["namespace"])

        manager = ControllerRefManager(self.client, ds, selector, "apps/v1", "DaemonSet",
                                       recheck_deletion_timestamp(fresh, str(m.get("uid"))))
        candidates = self.history_informer.store.by_index(NAMESPACE_INDEX, m["namespace"])
        return [copy.deepcopy(h) for h in manager.claim(candidates, REVISIONS)]

    def construct_history(self, ds: Obj, selector: Selector) -> tuple[Obj, list[Obj]]:
        """(current revision, old revisions): find or create the ControllerRevision of the template."""
        patch = revision_patch(ds)
        current: list[Obj] = []
        old: list[Obj] = []
        for history in self.controlled_histories(ds, selector):
            labels = _meta(history).setdefault("labels", {})
            if UNIQUE_LABEL_KEY not in labels:
                labels[UNIQUE_LABEL_KEY] = _meta(history)["name"]
                history = self.client.update(REVISIONS, history)
            (current if history.get("data") == patch else old).append(history)
        next_revision = max((int(h.get("revision") or 0) for h in old), default=0) + 1
        if not current:
            return self.snapshot(ds, next_revision), old
        cur = self.dedup_cur_histories(ds, current, selector)
        if int(cur.get("revision") or 0) < next_revision:
            cur = copy.deepcopy(cur)
            cur["revision"] = next_revision
            cur = self.client.update(REVISIONS, cur)
        return cur, old

    def snapshot(self, ds: Obj, revision: int) -> Obj:
        m = ds["metadata"]
        collision = (ds.get("status") or {}).get("collisionCount")
        hash_ = compute_hash((ds.get("spec") or {}).get("template") or {}, collision)
        name = f"{m['name']}-{hash_}"
        labels = dict((((ds.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})
        labels[UNIQUE_LABEL_KEY] = hash_
        history: Obj = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                        "metadata": {"name": name, "namespace": m["namespace"], "labels": labels,
                                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                                          "name": m["name"], "uid": m["uid"], "controller": True,
                                                          "blockOwnerDeletion": True}]},
                        "data": revision_patch(ds), "revision": revision}
        if m.get("annotations"):
            history["metadata"]["annotations"] = dict(m["annotations"])
        try:
            return self.client.create(REVISIONS, history, m["namespace"])
        except AlreadyExistsError:
            existing = self.client.get(REVISIONS, name, m["namespace"])
            if existing.get("data") == history["data"]:
                return existing
            # a hash collision with another template: bump collisionCount and try again
            fresh = self.client.get(DAEMON_SETS, m["name"], m["namespace"])
            if (fresh.get("status") or {}).get("collisionCount") != collision:
                raise ConflictError(f"found a stale collision count of DaemonSet {m['name']}; will retry") from None
            fresh.setdefault("status", {})["collisionCount"] = int(collision or 0) + 1
            self.client.update_status(DAEMON_SETS, fresh)
            raise

    def dedup_cur_histories(self, ds: Obj, current: list[Obj], selector: Selector) -> Obj:
        if len(current) == 1:
            return current[0]
        keep = max(current, key=lambda h: int(h.get("revision") or 0))
        keep_hash = (_meta(keep).get("labels") or {}).get(UNIQUE_LABEL_KEY)
        for dup in current:
            if dup is keep:
                continue
            dup_hash = (_meta(dup).get("labels") or {}).get(UNIQUE_LABEL_KEY)
            for pod in self.get_daemon_pods(ds, selector):
                if (_meta(pod).get("labels") or {}).get(UNIQUE_LABEL_KEY) == dup_hash:
                    self.client.patch(PODS, _meta(pod)["name"], {"metadata": {"labels": {UNIQUE_LABEL_KEY: keep_hash}}},
                                      _meta(pod)["namespace"])
            with contextlib.suppress(NotFoundError):
                self.client.delete(REVISIONS, _meta(dup)["name"], _meta(dup)["namespace"])
        return keep

    def cleanup_history(self, ds: Obj, old: list[Obj], selector: Selector) -> None:
        limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
        to_kill = len(old) - int(10 if limit is None else limit)
        if to_kill <= 0:
            return
        live = {(_meta(p).get("labels") or {}).get(UNIQUE_LABEL_KEY)
                for pods in self.get_nodes_to_daemon_pods(ds, selector).values() for p in pods}
        for history in sorted(old, key=lambda h: int(h.get("revision") or 0)):
            if to_kill <= 0:
                break
            if (_meta(history).get("labels") or {}).get(UNIQUE_LABEL_KEY) in live:
                continue
            with contextlib.suppress(NotFoundError):
                self.client.delete(REVISIONS, _meta(history)["name"], _meta(history)["namespace"])
            to_kill -= 1

    # --- status ---------------------------------------------------------------------------

    def update_daemon_set_status(self, ds: Obj, nodes: list[Obj], hash_: str, selector: Selector,
                                 update_observed_gen: bool) -> None:
        node_to_pods = self.get_nodes_to_daemon_pods(ds, selector)
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        now = time.time()
        desired = current = misscheduled = ready = available = updated = 0
        for node in nodes:
            should_run, _ = node_should_run_daemon_pod(node, ds)
            pods = node_to_pods.get(str(_meta(node).get("name")), [])
            if should_run:
                desired += 1
                if not pods:
                    continue
                current += 1
                pod = sorted(pods, key=pod_order_key)[0]
                if is_pod_ready(pod):
                    ready += 1
                    if is_pod_available(pod, min_ready, now):
                        available += 1
                if is_pod_updated(pod, hash_):
                    updated += 1
            elif pods:
                misscheduled += 1
        status = copy.deepcopy(ds.get("status") or {})
        status.update({"desiredNumberScheduled": desired, "currentNumberScheduled": current,
                       "numberMisscheduled": misscheduled, "numberReady": ready})
        for field, value in (("updatedNumberScheduled", updated), ("numberAvailable", available),
                             ("numberUnavailable", desired - available)):
            if value:
                status[field] = value
            else:
                status.pop(field, None)  # omitempty, like Kubernetes
        generation = _meta(ds).get("generation")
        if update_observed_gen and generation is not None:
            status["observedGeneration"] = generation
        if status != (ds.get("status") or {}):
            update_status_with_retry(self.client, DAEMON_SETS, ds, status)
        if min_ready > 0 and ready != available:
            self.enqueue_after(ds, min_ready)

