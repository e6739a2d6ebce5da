"""The pod manager: the pods this node should run (from the API and from static manifests) and the
mirror pods that stand for static pods in the API.

Pods are keyed by UID. A static pod's UID is its config hash, and its mirror pod (a different UID in
the API) is found by the shared `namespace/name`.
"""

from __future__ import annotations

import threading

from minik.kubelet import podutil
from minik.kubelet.types import Obj


class PodManager:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._pods: dict[str, Obj] = {}
        self._mirrors: dict[str, Obj] = {}  # namespace/name -> mirror pod

    # ---------------------------------------------------------------- updates

    def set_pod(self, pod: Obj) -> Obj | None:
        """Add or replace a pod (API pod or static pod); returns the previous version."""
        with self._lock:
            previous = self._pods.get(podutil.uid(pod))
            self._pods[podutil.uid(pod)] = pod
            return previous

    def remove_pod(self, uid: str) -> Obj | None:
        with self._lock:
            return self._pods.pop(uid, None)

    def set_mirror(self, mirror: Obj) -> None:
        with self._lock:
            self._mirrors[podutil.key(mirror)] = mirror

    def remove_mirror(self, mirror: Obj) -> None:
        with self._lock:
            current = self._mirrors.get(podutil.key(mirror))
            if current is not None and podutil.uid(current) == podutil.uid(mirror):
                del self._mirrors[podutil.key(mirror)]

    # ---------------------------------------------------------------- queries

    def get(self, uid: str) -> Obj | None:
        with self._lock:
            return self._pods.get(uid)

    def pods(self) -> list[Obj]:
        with self._lock:
            return list(self._pods.values())

    def static_pods(self) -> list[Obj]:
        return [p for p in self.pods() if podutil.is_static_pod(p)]

    def by_name(self, namespace: str, name: str) -> Obj | None:
        with self._lock:
            for pod in self._pods.values():
                if podutil.name(pod) == name and podutil.namespace(pod) == namespace:
                    return pod
        return None

    def mirror_of(self, pod: Obj) -> Obj | None:
        with self._lock:
            return self._mirrors.get(podutil.key(pod))

    def mirrors(self) -> list[Obj]:
        with self._lock:
            return list(self._mirrors.values())

    def api_pod_for(self, pod: Obj) -> Obj | None:
        """The API object that holds a pod's status: itself, or a static pod's mirror."""
        if podutil.is_static_pod(pod):
            return self.mirror_of(pod)
        with self._lock:
            return self._pods.get(podutil.uid(pod))
