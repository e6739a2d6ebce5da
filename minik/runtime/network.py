"""The pod network hook: called with the pause process' network namespace when a sandbox starts/stops.

The pause process already brings `lo` up; a real plugin (minik.cni: bridge + veth + IPAM) plugs in
here and returns the pod IP, which pod_sandbox_status then reports.
"""

from __future__ import annotations

from typing import Any, Protocol


class NetworkPlugin(Protocol):
    def setup(self, sandbox_id: str, netns: str, config: dict[str, Any]) -> str | None:
        """Wire the pod into the node network; returns the pod IP (or None)."""
        ...

    def teardown(self, sandbox_id: str, netns: str | None, config: dict[str, Any]) -> None:
        """Undo setup; must be idempotent (netns may already be gone)."""
        ...


class LoopbackOnly:
    """No pod network yet: the pod has loopback only (brought up by the pause process)."""

    def setup(self, sandbox_id: str, netns: str, config: dict[str, Any]) -> str | None:
        return None

    def teardown(self, sandbox_id: str, netns: str | None, config: dict[str, Any]) -> None:
        return None


def host_veth(netns: str, ifname: str = "eth0") -> str:
    """The node-side name of the pod's veth pair ('' if the pod has none): what `crictl inspect` shows,
    so a learner can find the cable between the pod and the bridge (`ip link show master minik0`)."""
    from pyroute2 import IPRoute, NetNS

    try:
        with NetNS(netns) as pod:
            links = pod.get_links(ifname=ifname)
            peer = links[0].get_attr("IFLA_LINK") if links else None
        if not peer:
            return ""
        with IPRoute() as node:
            return str(node.get_links(peer)[0].get_attr("IFLA_IFNAME") or "")
    except Exception:  # noqa: BLE001 - informational only: a vanished pod or namespace shows nothing
        return ""
