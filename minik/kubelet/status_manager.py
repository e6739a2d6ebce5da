"""The status manager: remembers each pod's latest generated status and writes what changed to the API.

Writes are merge PATCHes of pods/status carrying only the fields that differ from what the API holds
(a removed field is sent as null), so an unchanged pod costs no write at all and a write never
clobbers fields the kubelet does not own (nominatedNodeName, conditions of other writers). Static
pods' statuses go to their mirror pods. Called from pod workers, so one pod's writes are serial.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from minik.api.errors import NotFoundError, StatusError
from minik.api.resources import Resource, lookup
from minik.client.rest import ConnectionFailed
from minik.kubelet import podutil
from minik.kubelet.types import Obj

log = logging.getLogger(__name__)

KUBELET_STATUS_KEYS = ("phase", "conditions", "message", "reason", "hostIP", "hostIPs", "podIP", "podIPs",
                       "startTime", "initContainerStatuses", "containerStatuses", "qosClass")


class PatchClient(Protocol):
    def patch(self, r: Resource, name: str, body: Any, namespace: str | None = None, *,
              patch_type: Any = "merge", subresource: str | None = None) -> Obj: ...


def status_diff(new: Obj, old: Obj) -> Obj:
    """The merge patch taking `old` to `new` over the kubelet-owned keys ({} when nothing changed)."""
    diff: Obj = {}
    for key in KUBELET_STATUS_KEYS:
        if key in new:
            if old.get(key) != new[key]:
                diff[key] = new[key]
        elif old.get(key) is not None:
            diff[key] = None
    return diff


class StatusManager:
    def __init__(self, client: PatchClient, api_pod_for: Callable[[Obj], Obj | None]) -> None:
        """`api_pod_for(pod)` finds the API object to write to: the pod itself, or a static pod's mirror."""
        pods = lookup("pods")
        assert pods is not None
        self.pods = pods
        self.client = client
        self.api_pod_for = api_pod_for
        self._statuses: dict[str, Obj] = {}
        self._written: dict[str, tuple[str, Obj]] = {}  # uid -> (API resourceVersion seen, patch sent)
        self._lock = threading.Lock()

    def get_pod_status(self, uid: str) -> Obj | None:
        with self._lock:
            status = self._statuses.get(uid)
            return copy.deepcopy(status) if status is not None else None

    def old_status(self, pod: Obj) -> Obj:
        """What the next status is generated from: ours if we have one, else what the API holds."""
        cached = self.get_pod_status(podutil.uid(pod))
        if cached is not None:
            return cached
        api = self.api_pod_for(pod)
        source = api if api is not None else pod
        return copy.deepcopy(podutil.status(source))

    def set_pod_status(self, pod: Obj, status: Obj) -> bool:
        """Remember `status` and write the difference to the API; True when a write happened."""
        uid = podutil.uid(pod)
        with self._lock:
            self._statuses[uid] = copy.deepcopy(status)
        return self.sync_pod(pod)

    def sync_pod(self, pod: Obj) -> bool:
        status = self.get_pod_status(podutil.uid(pod))
        api = self.api_pod_for(pod)
        if status is None or api is None:
            return False
        diff = status_diff(status, podutil.status(api))
        if not diff:
            return False
        seen_rv = str(podutil.meta(api).get("resourceVersion") or "")
        with self._lock:
            if self._written.get(podutil.uid(pod)) == (seen_rv, diff):
                return False  # sent already; the informer has not caught up yet
        try:
            updated = self.client.patch(self.pods, podutil.name(api), {"status": diff}, podutil.namespace(api),
                                        patch_type="merge", subresource="status")
        except NotFoundError:
            return False
        except (StatusError, ConnectionFailed) as error:  # kept in the cache: the next sync writes it
            log.warning("updating status of pod %s failed: %s", podutil.key(api), error)
            return False
        with self._lock:
            self._written[podutil.uid(pod)] = (seen_rv, diff)
        if isinstance(updated, dict) and podutil.uid(updated) and podutil.uid(updated) != podutil.uid(api):
            log.warning("pod %s was recreated while its status was written", podutil.key(api))
        return True

    def forget(self, uid: str) -> None:
        with self._lock:
            self._statuses.pop(uid, None)
            self._written.pop(uid, None)

    def known_uids(self) -> list[str]:
        with self._lock:
            return list(self._statuses)
