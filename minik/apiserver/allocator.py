"""ClusterIP and NodePort allocation backed by etcd claim keys.

Each allocated IP or port is a key created in the same transaction as the Service, so two
concurrent creates can never get the same value, even across apiservers, and a delete releases
it in the same transaction that removes the Service.
"""

from __future__ import annotations

import ipaddress
import random

from minik.api import errors
from minik.apiserver.storage import Storage

IP_PREFIX = "/registry/ranges/serviceips/"
PORT_PREFIX = "/registry/ranges/servicenodeports/"


class IPAllocator:
    def __init__(self, storage: Storage, cidr: str) -> None:
        self.storage = storage
        self.net = ipaddress.ip_network(cidr, strict=False)
        # network address and broadcast are never handed out, like kube-apiserver
        self.first = int(self.net.network_address) + 1
        self.last = int(self.net.broadcast_address) - 1

    def key(self, ip: str) -> str:
        return IP_PREFIX + ip

    def contains(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return addr in self.net and self.first <= int(addr) <= self.last

    def first_ip(self) -> str:
        return str(ipaddress.ip_address(self.first))

    async def candidates(self, count: int = 8) -> list[str]:
        """Random free-looking IPs; the create transaction is what really decides."""
        size = self.last - self.first + 1
        if size > 4096:
            # reserve the first addresses (e.g. 10.96.0.1 for `kubernetes`) for static use
            return [str(ipaddress.ip_address(random.randint(self.first + 16, self.last))) for _ in range(count)]
        used = {k[len(IP_PREFIX):] for k in await self.storage.keys(IP_PREFIX)}
        free = [str(ipaddress.ip_address(i)) for i in range(self.first, self.last + 1)]
        free = [ip for ip in free if ip not in used]
        if not free:
            raise errors.InternalError("failed to allocate a serviceIP: range is full")
        random.shuffle(free)
        return free[:count]


class PortAllocator:
    def __init__(self, storage: Storage, port_range: str) -> None:
        self.storage = storage
        lo, _, hi = port_range.partition("-")
        self.lo, self.hi = int(lo), int(hi or lo)

    def key(self, port: int) -> str:
        return f"{PORT_PREFIX}{port}"

    def contains(self, port: int) -> bool:
        return self.lo <= port <= self.hi

    def range_text(self) -> str:
        return f"{self.lo}-{self.hi}"

    async def candidates(self, count: int = 8) -> list[int]:
        used = {int(k[len(PORT_PREFIX):]) for k in await self.storage.keys(PORT_PREFIX)}
        free = [p for p in range(self.lo, self.hi + 1) if p not in used]
        if not free:
            raise errors.InternalError(f"failed to allocate a nodePort: range {self.range_text()} is full")
        random.shuffle(free)
        return free[:count]
