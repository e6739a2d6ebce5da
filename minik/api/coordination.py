"""coordination.k8s.io/v1 Lease: node heartbeats and leader election."""

from __future__ import annotations

from pydantic import Field

from minik.api.base import K8sModel
from minik.api.meta import TypedObject


class LeaseSpec(K8sModel):
    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int | None = None


class Lease(TypedObject):
    spec: LeaseSpec = Field(default_factory=LeaseSpec)
