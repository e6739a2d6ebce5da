"""The node's heartbeat Lease in kube-node-lease (the kubelet's nodelease controller).

Renewed every `renew_interval` (10 s by default, a quarter of the 40 s lease duration); the node
lifecycle controller marks the node Unknown when renewals stop. The Lease is owned by the Node, so it
goes away with it.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any, Protocol

from minik.api.errors import AlreadyExistsError, ConflictError, NotFoundError
from minik.api.resources import Resource, lookup
from minik.kubelet.types import Obj

LEASE_NAMESPACE = "kube-node-lease"


class LeaseClient(Protocol):
    def get(self, r: Resource, name: str, namespace: str | None = None) -> Obj: ...

    def create(self, r: Resource, obj: Obj, namespace: str | None = None) -> Obj: ...

    def update(self, r: Resource, obj: Obj, subresource: str | None = None) -> Obj: ...


def micro_time(now: datetime | None = None) -> str:
    """MicroTime as Kubernetes writes it: 2024-01-02T03:04:05.123456Z."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NodeLease:
    def __init__(self, client: LeaseClient, node_name: str, duration_seconds: int = 40) -> None:
        leases = lookup("leases")
        assert leases is not None
        self.leases = leases
        self.client = client
        self.node_name = node_name
        self.duration = duration_seconds
        self.owner: Obj | None = None
        self._last: Obj | None = None

    def set_owner(self, node: Obj) -> None:
        meta = node.get("metadata") or {}
        if meta.get("uid"):
            self.owner = {"apiVersion": "v1", "kind": "Node", "name": self.node_name, "uid": meta["uid"]}

    def _new(self) -> Obj:
        now = micro_time()
        lease: Obj = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.node_name, "namespace": LEASE_NAMESPACE},
            "spec": {"holderIdentity": self.node_name, "leaseDurationSeconds": self.duration,
                     "renewTime": now},
        }
        if self.owner:
            lease["metadata"]["ownerReferences"] = [self.owner]
        return lease

    def renew(self) -> Obj:
        """Create the Lease or bump its renewTime; a conflict is retried from a fresh read once."""
        for _ in range(2):
            current = self._last
            if current is None:
                try:
                    current = self.client.get(self.leases, self.node_name, LEASE_NAMESPACE)
                except NotFoundError:
                    try:
                        self._last = self.client.create(self.leases, self._new(), LEASE_NAMESPACE)
                        return self._last
                    except AlreadyExistsError:
                        continue
            updated = copy.deepcopy(current)
            spec: dict[str, Any] = updated.setdefault("spec", {})
            spec.update(holderIdentity=self.node_name, leaseDurationSeconds=self.duration, renewTime=micro_time())
            if self.owner and not (updated.get("metadata") or {}).get("ownerReferences"):
                updated["metadata"]["ownerReferences"] = [self.owner]
            try:
                self._last = self.client.update(self.leases, updated)
                return self._last
            except (ConflictError, NotFoundError):
                self._last = None
        raise ConflictError(f'Operation cannot be fulfilled on leases.coordination.k8s.io "{self.node_name}"')
