"""Helpers for the controller integration tests: a test that plays scheduler and kubelets.

`FakeCluster` owns a few Node objects (names carry the test namespace, so tests sharing the
session apiserver never collide; all are deleted afterwards). A background thread binds pending
pods of the namespace to a live node (honouring a DaemonSet pod's matchFields affinity and a
nodeSelector), reports bound pods Running and Ready with a pod IP, finishes graceful deletions the
way a kubelet does (delete with grace period 0), and renews each live node's Lease. A node that is
`stop()`ped does none of that any more, like a machine that lost power.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from util import wait_for

from minik.api.errors import ConflictError, NotFoundError, StatusError
from minik.api.resources import require
from minik.client.rest import Client, ConnectionFailed
from minik.ctl.cli import Command
from minik.ctl.commands import rollout, set_image
from minik.ctl.errors import CtlError, format_status_error
from minik.ctl.session import Session

Obj = dict[str, Any]




PODS, NODES, LEASES, EVENTS = require("pods"), require("nodes"), require("leases"), require("events")
RS, DEPLOY, DS = require("replicasets"), require("deployments"), require("daemonsets")
SVC, EP, CR = require("services"), require("endpoints"), require("controllerrevisions")


def stamp(micro: bool = False) -> str:
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ"
    return datetime.now(UTC).strftime(fmt)


def is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def active(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]


@dataclass
class FakeNode:
    name: str
    index: int
    alive: bool = True
    reports_ready: bool = True  # what its kubelet says in the Ready condition
    labels: dict[str, str] = field(default_factory=dict)
    next_ip: int = 2


class FakeCluster:
    """Scheduler + kubelets for the pods of one namespace (see the module docstring)."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.nodes: dict[str, FakeNode] = {}
        self.hold_ready: Callable[[Obj], bool] = lambda pod: False  # True: leave this pod not ready
        self.schedule = True
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-cluster", daemon=True)
        self._count = 0
        self._rr = 0
        self._last_beat = 0.0

    # --- nodes --------------------------------------------------------------------------

    def add_node(self, suffix: str, labels: dict[str, str] | None = None, taints: list[Obj] | None = None,
                 ready: bool = True) -> str:
        name = f"{self.namespace}-{suffix}"
        with self._lock:
            self._count += 1
            node = FakeNode(name, self._count, labels=dict(labels or {}), reports_ready=ready)
        body: Obj = {"apiVersion": "v1", "kind": "Node",
                     "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
                     "spec": {"taints": taints} if taints else {}}
        created = self.client.create(NODES, body)
        self._post_status(created, ready)
        self._renew_lease(name)
        with self._lock:
            self.nodes[name] = node
        return name

    def _post_status(self, node: Obj, ready: bool = True) -> None:
        """What a kubelet posts: capacity and a Ready condition (retried when a controller wrote first)."""
        for _ in range(10):
            now = stamp()
            node = dict(node)
            node["status"] = {
                "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "addresses": [{"type": "InternalIP", "address": f"192.0.2.{len(self.nodes) + 1}"}],
                "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                "reason": "KubeletReady" if ready else "KubeletNotReady",
                                "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
                                "lastTransitionTime": now}]}
            try:
                self.client.update_status(NODES, node)
                return
            except ConflictError:
                node = self.client.get(NODES, node["metadata"]["name"])
        raise AssertionError("could not post node status")

    def _renew_lease(self, name: str) -> None:
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": stamp(micro=True)}}
        try:
            self.client.patch(LEASES, name, {"spec": {"renewTime": body["spec"]["renewTime"]}}, "kube-node-lease")
        except NotFoundError:
            self.client.create(LEASES, body, "kube-node-lease")

    def stop_node(self, name: str) -> None:
        """The machine dies: no more heartbeats, no more pod status, no finished deletions."""
        with self._lock:
            self.nodes[name].alive = False

    def report_ready(self, name: str, ready: bool) -> None:
        """The kubelet keeps heartbeating but reports Ready=False (or True again)."""
        with self._lock:
            self.nodes[name].reports_ready = ready
        self._post_status(self.client.get(NODES, name), ready)

    def restart_node(self, name: str) -> None:
        with self._lock:
            self.nodes[name].alive = True
        self._post_status(self.client.get(NODES, name))

    def remove_node(self, name: str) -> None:
        with self._lock:
            self.nodes.pop(name, None)
        with contextlib.suppress(NotFoundError):
            self.client.delete(NODES, name)
        with contextlib.suppress(NotFoundError):
            self.client.delete(LEASES, name, "kube-node-lease")

    # --- the loop -----------------------------------------------------------------------

    def start(self) -> FakeCluster:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for name in list(self.nodes):
            self.remove_node(name)

    def pods(self) -> list[Obj]:
        return list(self.client.list(PODS, self.namespace)["items"])

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.tick()
            except (StatusError, ConnectionFailed):
                continue  # a conflict or a blip: the next tick sees fresh state

    def tick(self) -> None:
        with self._lock:
            nodes = {n: dataclass_copy(v) for n, v in self.nodes.items()}
        if time.monotonic() - self._last_beat > 0.3:
            self._last_beat = time.monotonic()
            for node in nodes.values():
                if node.alive:
                    self._renew_lease(node.name)
                    self._ensure_ready(node.name, node.reports_ready)
        for pod in self.pods():
            with contextlib.suppress(ConflictError, NotFoundError):
                self._handle(pod, nodes)

    def _ensure_ready(self, name: str, reports_ready: bool) -> None:
        node = self.client.get(NODES, name)
        ready = next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"),
                     None)
        if ready is None or ready.get("status") != ("True" if reports_ready else "False"):
            self._post_status(node, reports_ready)

    def _handle(self, pod: Obj, nodes: dict[str, FakeNode]) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        node_name = spec.get("nodeName")
        node = nodes.get(node_name) if node_name else None
        if meta.get("deletionTimestamp"):
            if node is None or node.alive:
                self.client.delete(PODS, meta["name"], self.namespace, grace_period_seconds=0)
            return
        if not node_name:
            if self.schedule:
                target = self._pick(pod, nodes)
                if target is not None:
                    self.client.bind(self.namespace, meta["name"], target)
            return
        if node is None or not node.alive:
            return
        status = pod.get("status") or {}
        if status.get("phase") == "Running" and (is_ready(pod) or self.hold_ready(pod)):
            return
        ready = not self.hold_ready(pod)
        with self._lock:
            live = self.nodes.get(node.name)
            if live is None:
                return
            ip = status.get("podIP") or f"10.250.{live.index}.{live.next_ip}"
            live.next_ip += 1
        now = stamp()
        pod["status"] = {**status, "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                         "hostIP": "192.0.2.1", "startTime": status.get("startTime") or now,
                         "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                         "lastTransitionTime": now},
                                        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}]}
        self.client.update_status(PODS, pod)

    def _pick(self, pod: Obj, nodes: dict[str, FakeNode]) -> str | None:
        spec = pod.get("spec") or {}
        terms = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
                  .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
        for term in terms:
            for req in term.get("matchFields") or []:
                if req.get("key") == "metadata.name" and req.get("values"):
                    target = req["values"][0]
                    return target if target in nodes else None
        selector = spec.get("nodeSelector") or {}
        candidates = [n for n in sorted(nodes.values(), key=lambda n: n.index)
                      if n.alive and all(n.labels.get(k) == v for k, v in selector.items())]
        if not candidates:
            return None
        self._rr += 1
        return candidates[self._rr % len(candidates)].name


def dataclass_copy(node: FakeNode) -> FakeNode:
    return FakeNode(node.name, node.index, node.alive, node.reports_ready, dict(node.labels), node.next_ip)




# --- objects and waits -----------------------------------------------------------------------


def pod_template(labels: dict[str, str], image: str = "minik/app:v1", port: int = 8080) -> Obj:
    return {"metadata": {"labels": dict(labels)},
            "spec": {"containers": [{"name": "app", "image": image,
                                     "ports": [{"name": "http", "containerPort": port}]}]}}


def replica_set(name: str, replicas: int, labels: dict[str, str] | None = None) -> Obj:
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": pod_template(labels)}}


def deployment(name: str, replicas: int, labels: dict[str, str] | None = None, image: str = "minik/app:v1",
               **spec: Any) -> Obj:
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": pod_template(labels, image), **spec}}


def wait_pods(client: Client, ns: str, count: int, *, ready: bool = False, selector: str | None = None,
              timeout: float = 30.0) -> list[Obj]:
    """Exactly `count` active pods (all Ready if asked), and no pod left terminating."""

    def check() -> tuple[bool, list[Obj]] | None:
        pods = client.list(PODS, ns, label_selector=selector)["items"]
        live = active(pods)
        if len(live) != count or len(pods) != count:
            return None
        if ready and not all(is_ready(p) for p in live):
            return None
        return True, live

    return wait_for(check, timeout=timeout, message=f"{count} pods in {ns} (ready={ready}, -l {selector})")[1]


def events_for(client: Client, ns: str, name: str) -> list[Obj]:
    return [e for e in client.list(EVENTS, ns)["items"] if (e.get("involvedObject") or {}).get("name") == name]


# --- minictl in-process ------------------------------------------------------------------------

MINICTL = {c.name: c for c in (*rollout.COMMANDS, set_image.COMMAND)}


def minictl(apiserver: Any, ns: str, *argv: str) -> tuple[int, str, str]:
    """Run one command in-process like minictl's main: (exit code, stdout, stderr)."""
    words = 2
    command: Command = MINICTL[" ".join(argv[:words])]
    out = io.StringIO()
    session = None
    try:
        with contextlib.redirect_stdout(out):
            parsed = command.parser().parse([*argv[words:], "--kubeconfig", str(apiserver.kubeconfig), "-n", ns])
            session = Session.from_args(parsed)
            code = command.run(session, parsed)
        return code, out.getvalue(), ""
    except CtlError as e:
        return e.code, out.getvalue(), e.message
    except StatusError as e:
        return 1, out.getvalue(), format_status_error(e)
    finally:
        if session is not None:
            session.close()


