"""The pods of hollow nodes: reported Running at once, removed at once on graceful deletion.

Status comes from the kubelet's own generate_api_pod_status fed with a fake runtime view (a ready
sandbox with a fake IP, every container running, every init container exited 0), so phase,
conditions, containerStatuses and qosClass look exactly like a real kubelet's; only the work of
starting anything is skipped (kubemark's fake runtime does the same). Writes are the status
manager's minimal merge patches, so a pod that already reads Running costs nothing.

All hollow nodes share ONE informer on `spec.nodeName!=` (every bound pod) instead of one watch
per node: 1000 watches would cost the apiserver 1000 filtered streams, one costs it one stream
and leaves us a dictionary lookup per event. Events are keys in a work queue drained by a few
workers, as in every minik controller.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import UTC, datetime

from minik.api.errors import ConflictError, NotFoundError
from minik.api.resources import Resource, lookup
from minik.client.informer import Informer, meta_namespace_key
from minik.client.rest import Client
from minik.client.workqueue import ItemExponentialFailureRateLimiter, RateLimitingQueue
from minik.controllers.controller import Controller
from minik.hollow.addresses import PodAddresses, node_ip
from minik.kubelet import podutil
from minik.kubelet.status import generate_api_pod_status, now_rfc3339
from minik.kubelet.status_manager import status_diff
from minik.kubelet.types import CONTAINER_EXITED, CONTAINER_RUNNING, ContainerStatus, Obj, PodStatus, SandboxStatus

log = logging.getLogger(__name__)

_PODS = lookup("pods")
assert _PODS is not None
PODS: Resource = _PODS
BOUND = "spec.nodeName!="
_RFC3339 = "%Y-%m-%dT%H:%M:%SZ"


class MalformedPod(ValueError):
    """A pod the kubelet status code cannot make sense of: logged once, never retried."""


def _seconds(text: object) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        return int(datetime.strptime(text, _RFC3339).replace(tzinfo=UTC).timestamp())
    except ValueError:
        return None


def fake_runtime(pod: Obj, pod_ip: str, now: str) -> PodStatus:
    """What a runtime would report once the pod is up: a ready sandbox, containers running.

    Everything started at the pod's reported startTime (or `now` before it has one), so the status
    generated from it is the same on every sync and a second write never happens.
    """
    uid = podutil.uid(pod)
    seconds = _seconds(podutil.status(pod).get("startTime"))
    if seconds is None:
        seconds = _seconds(now) or int(datetime.now(UTC).timestamp())
    started = seconds * 1_000_000_000
    statuses = []
    for init, containers in ((True, podutil.init_containers(pod)), (False, podutil.containers(pod))):
        for c in containers:
            name = str(c["name"])
            image = str(c.get("image") or "")
            statuses.append(ContainerStatus(
                id=f"hollow-{uid[:8]}-{name}", name=name,
                state=CONTAINER_EXITED if init else CONTAINER_RUNNING,
                created_at=started, started_at=started, finished_at=started if init else 0,
                image=image, image_ref=image, init=init, reason="Completed" if init else ""))
    sandbox = SandboxStatus(id=f"hollow-{uid[:8]}", ready=True, created_at=started, ip=pod_ip)
    return PodStatus(uid=uid, name=podutil.name(pod), namespace=podutil.namespace(pod),
                     sandboxes=[sandbox], containers=statuses)


def running_status(pod: Obj, host_ip: str, pod_ip: str, now: str | None = None) -> Obj:
    """The status a kubelet would report for `pod` running on a node at `host_ip`."""
    now = now or now_rfc3339()
    try:
        return generate_api_pod_status(pod, fake_runtime(pod, pod_ip, now), podutil.status(pod), host_ip, now=now)
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as error:
        raise MalformedPod(f"cannot build a status for pod {podutil.key(pod)}: {error!r}") from error


class HollowPods(Controller):
    """Turn every pod bound to one of `nodes` into a Running pod; delete it when it is being deleted."""

    name = "hollow-pods"

    def __init__(self, client: Client, nodes: list[str], workers: int = 8) -> None:
        super().__init__(workers)
        # Failures back off per pod only: a bucket over all keys would throttle 30k first syncs.
        self.queue = RateLimitingQueue(ItemExponentialFailureRateLimiter(0.05, 60.0))
        self.client = client
        self.nodes = {name: index for index, name in enumerate(nodes)}
        self.addresses = PodAddresses()
        self.informer = Informer(client, PODS, field_selector=BOUND)
        self.informer.add_event_handler(self._on_add, self._on_update, self._on_delete)
        self._written: dict[str, str] = {}  # key -> resourceVersion our last status patch produced
        self._lock = threading.Lock()

    def informers(self) -> list[Informer]:
        return [self.informer]

    # --- events -----------------------------------------------------------------------------

    def node_of(self, pod: Obj) -> int | None:
        """The index of the hollow node the pod is bound to, or None when it is not bound to ours."""
        node = podutil.spec(pod).get("nodeName")
        return self.nodes.get(node) if isinstance(node, str) else None

    def ours(self, pod: Obj) -> bool:
        return self.node_of(pod) is not None

    def _on_add(self, pod: Obj) -> None:
        if self.ours(pod):
            self.enqueue(pod)

    def _on_update(self, old: Obj, pod: Obj) -> None:
        if not self.ours(pod) and not self.ours(old):
            return
        try:
            key = meta_namespace_key(pod)
        except ValueError:
            return
        with self._lock:
            echo = self._written.get(key)
        if echo is not None and echo == podutil.meta(pod).get("resourceVersion"):
            return  # the event of our own write: nothing new to react to
        self.queue.add(key)

    def _on_delete(self, pod: Obj) -> None:
        if self.ours(pod):
            self.enqueue(pod)

    # --- sync -------------------------------------------------------------------------------

    def forget_pod(self, key: str) -> None:
        self.addresses.release(key)
        with self._lock:
            self._written.pop(key, None)

    def sync(self, key: str) -> None:
        pod = self.informer.store.get_by_key(key)
        index = self.node_of(pod) if pod is not None else None
        if pod is None or index is None:
            self.forget_pod(key)
            return
        name, namespace, uid = podutil.name(pod), podutil.namespace(pod), podutil.uid(pod)
        if podutil.deletion_timestamp(pod):
            # Grace 0 already recorded: only finalizers hold the pod now, asking again changes nothing.
            if podutil.meta(pod).get("deletionGracePeriodSeconds") != 0:
                # the uid precondition spares a new pod that took the name meanwhile
                with contextlib.suppress(NotFoundError, ConflictError):
                    self.client.delete(PODS, name, namespace, grace_period_seconds=0, preconditions={"uid": uid})
            self.forget_pod(key)
            return
        if podutil.is_terminal_phase(podutil.phase(pod)):
            self.forget_pod(key)  # a finished pod gives its address back, like the kubelet's sandbox GC
            return
        pod_ip = self.addresses.assign(key, uid, index, podutil.status(pod).get("podIP"))
        if pod_ip is None:
            raise RuntimeError(f"hollow node {podutil.spec(pod)['nodeName']} has no pod address left for {key}")
        try:
            wanted = running_status(pod, node_ip(index), pod_ip)
        except MalformedPod as error:
            log.warning("%s", error)
            return
        diff = status_diff(wanted, podutil.status(pod))
        if not diff:
            return
        try:
            written = self.client.patch(PODS, name, {"status": diff}, namespace, subresource="status")
        except NotFoundError:
            return  # deleted meanwhile: its DELETED event releases the address
        rv = podutil.meta(written).get("resourceVersion")
        if isinstance(rv, str):
            with self._lock:
                self._written[key] = rv
