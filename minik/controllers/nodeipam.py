"""Node IPAM (the range allocator): give each node its own pod CIDR out of --cluster-cidr.

Subnets of --node-cidr-mask-size bits are handed out in order, starting after the last one
given, never twice: at start the CIDRs already on nodes are marked used, a deleted node's CIDR
is released. The CNI plugin of each node allocates pod IPs from its node's spec.podCIDR.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from typing import Any, Protocol

from minik.api.resources import Resource
from minik.client.informer import Informer
from minik.controllers.controller import Controller
from minik.controllers.informers import InformerFactory, resource
from minik.controllers.pod_control import Recorder

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NODES: Resource = resource("nodes")


class Client(Protocol):
    def patch(self, r: Resource, name: str, body: Any, namespace: str | None = None, *,
              patch_type: Any = "merge", subresource: str | None = None) -> Obj: ...


class CIDRSetFull(Exception):
    """cidrset.ErrCIDRRangeNoCIDRsRemaining."""

    def __str__(self) -> str:
        return "CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range"


class CIDRSet:
    """The subnets of one cluster CIDR, as a used/free set with a rotating next candidate."""

    def __init__(self, cluster_cidr: str, mask_size: int) -> None:
        self.network = ipaddress.ip_network(cluster_cidr, strict=False)
        if mask_size < self.network.prefixlen:
            raise ValueError(f"--node-cidr-mask-size {mask_size} is smaller than the cluster CIDR's /"
                             f"{self.network.prefixlen}")
        if mask_size - self.network.prefixlen > 24:
            raise ValueError("--node-cidr-mask-size leaves too many subnets (more than 2^24)")
        self.mask_size = mask_size
        self.max_cidrs = 1 << (mask_size - self.network.prefixlen)
        self._step = 1 << (self.network.max_prefixlen - mask_size)
        self._used: set[int] = set()
        self._next = 0
        self._lock = threading.Lock()

    def _cidr(self, index: int) -> str:
        base = int(self.network.network_address) + index * self._step
        return f"{ipaddress.ip_address(base)}/{self.mask_size}"

    def _index(self, cidr: str) -> int | None:
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            return None
        if net.version != self.network.version or not net.subnet_of(self.network):  # type: ignore[arg-type]
            return None
        if net.prefixlen != self.mask_size:
            return None
        return (int(net.network_address) - int(self.network.network_address)) // self._step

    def allocate_next(self) -> str:
        with self._lock:
            for i in range(self.max_cidrs):
                index = (self._next + i) % self.max_cidrs
                if index not in self._used:
                    self._used.add(index)
                    self._next = (index + 1) % self.max_cidrs
                    return self._cidr(index)
        raise CIDRSetFull()

    def occupy(self, cidr: str) -> bool:
        index = self._index(cidr)
        if index is None:
            return False
        with self._lock:
            self._used.add(index)
        return True

    def release(self, cidr: str) -> None:
        index = self._index(cidr)
        if index is not None:
            with self._lock:
                self._used.discard(index)

    def used(self) -> int:
        with self._lock:
            return len(self._used)


def node_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    return list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))


class NodeIpamController(Controller):
    name = "nodeipam"

    def __init__(self, client: Client, factory: InformerFactory, recorder: Recorder, *,
                 cluster_cidr: str = "10.244.0.0/16", mask_size: int = 24) -> None:
        super().__init__(workers=1)  # one allocator: two workers could hand out the same subnet
        self.client = client
        self.recorder = recorder
        self.cidrs = CIDRSet(cluster_cidr, mask_size)
        self.assigned: dict[str, str] = {}  # node -> the CIDR we gave it (the cache may lag behind)
        self.node_informer: Informer = factory.informer("nodes")
        self.node_informer.add_event_handler(self.enqueue, lambda old, cur: self.enqueue(cur), self.on_delete)

    def informers(self) -> list[Informer]:
        return [self.node_informer]

    def start(self) -> None:
        # occupy what nodes already have before handing anything out
        for node in self.node_informer.store.list():
            for cidr in node_cidrs(node):
                if self.cidrs.occupy(cidr):
                    self.assigned[str((node.get("metadata") or {}).get("name"))] = cidr
        log.info("node-ipam: %d of %d pod CIDRs in use", self.cidrs.used(), self.cidrs.max_cidrs)
        super().start()

    def on_delete(self, node: Obj) -> None:
        name = str((node.get("metadata") or {}).get("name"))
        self.queue.add(f"-{name}")  # releases go through the same single worker as allocations

    def sync(self, key: str) -> None:
        if key.startswith("-"):
            name = key[1:]
            if self.node_informer.store.get_by_key(name) is None:
                cidr = self.assigned.pop(name, None)
                if cidr is not None:
                    self.cidrs.release(cidr)
                    log.info("node-ipam: released %s of deleted node %s", cidr, name)
            return
        node = self.node_informer.store.get_by_key(key)
        if node is None:
            return
        existing = node_cidrs(node)
        if existing:
            for cidr in existing:
                if self.cidrs.occupy(cidr):
                    self.assigned[key] = cidr
            return
        if key in self.assigned:
            return  # we already gave it one; the cache has not caught up
        try:
            cidr = self.cidrs.allocate_next()
        except CIDRSetFull:
            self.recorder.event(node, "Normal", "CIDRNotAvailable", f"Node {key} status is now: CIDRNotAvailable")
            raise
        try:
            self.client.patch(NODES, key, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        except Exception:
            self.cidrs.release(cidr)
            self.recorder.event(node, "Warning", "CIDRAssignmentFailed",
                                f"Node {key} status is now: CIDRAssignmentFailed")
            raise
        self.assigned[key] = cidr
        log.info("node-ipam: node %s gets pod CIDR %s", key, cidr)
