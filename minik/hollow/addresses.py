"""Fake addresses for hollow nodes and their pods: nothing routes them, they only have to look real.

Node i's InternalIP is 198.18.0.0/15 (RFC 2544, set aside for benchmarks) + i + 1. Its pods get
addresses from the i-th /24 of 100.64.0.0/10 (RFC 6598), so they never collide with the cluster's
real pod CIDR (10.244.0.0/16) or with each other, and 16,384 hollow nodes fit.
"""

from __future__ import annotations

import ipaddress
import threading

NODE_NET = ipaddress.IPv4Network("198.18.0.0/15")
POD_NET = ipaddress.IPv4Network("100.64.0.0/10")
POD_PREFIX_LEN = 24
MAX_NODES = 2 ** (POD_PREFIX_LEN - POD_NET.prefixlen)
MAX_PODS_PER_NODE = 2 ** (32 - POD_PREFIX_LEN) - 2  # .1 to .254


def node_ip(index: int) -> str:
    if not 0 <= index < MAX_NODES:
        raise ValueError(f"hollow node index {index} is outside 0..{MAX_NODES - 1}")
    return str(NODE_NET.network_address + index + 1)


def pod_cidr(index: int) -> ipaddress.IPv4Network:
    if not 0 <= index < MAX_NODES:
        raise ValueError(f"hollow node index {index} is outside 0..{MAX_NODES - 1}")
    size = 2 ** (32 - POD_PREFIX_LEN)
    return ipaddress.IPv4Network((int(POD_NET.network_address) + index * size, POD_PREFIX_LEN))


class PodAddresses:
    """Pod IPs of every hollow node, held per pod (its key and uid) until released; thread-safe.

    A pod that already reports an address from its node's range keeps it, so a restarted
    hollow-nodes process re-adopts its pods without changing their podIP.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: dict[int, set[int]] = {}  # node index -> host numbers in use
        self._held: dict[str, tuple[str, int, int]] = {}  # pod key -> (uid, node index, host number)

    def assign(self, key: str, uid: str, index: int, wanted: object = None) -> str | None:
        """The pod's address on node `index` (None when the node's /24 is full)."""
        cidr = pod_cidr(index)
        with self._lock:
            held = self._held.get(key)
            if held is not None:
                if held[:2] == (uid, index):
                    return str(cidr.network_address + held[2])
                self._release_locked(key)
            used = self._used.setdefault(index, set())
            host = self._wanted_host(cidr, wanted)
            if host is None or host in used:
                host = next((h for h in range(1, MAX_PODS_PER_NODE + 1) if h not in used), None)
                if host is None:
                    return None
            used.add(host)
            self._held[key] = (uid, index, host)
            return str(cidr.network_address + host)

    @staticmethod
    def _wanted_host(cidr: ipaddress.IPv4Network, wanted: object) -> int | None:
        if not isinstance(wanted, str):
            return None
        try:
            address = ipaddress.IPv4Address(wanted)
        except ValueError:
            return None
        host = int(address) - int(cidr.network_address)
        return host if address in cidr and 1 <= host <= MAX_PODS_PER_NODE else None

    def release(self, key: str) -> None:
        with self._lock:
            self._release_locked(key)

    def _release_locked(self, key: str) -> None:
        held = self._held.pop(key, None)
        if held is not None:
            self._used.get(held[1], set()).discard(held[2])

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)
