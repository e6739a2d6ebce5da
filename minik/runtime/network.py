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
