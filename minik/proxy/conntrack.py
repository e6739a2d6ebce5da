"""Clearing stale UDP conntrack entries, which would otherwise outlive the rules that made them.

A UDP "connection" is conntrack state only: after an endpoint goes away, the client's flow keeps
being NATed to the dead address; after a Service gets its first endpoint, flows that hit the
REJECT before keep failing. kube-proxy deletes those entries with `conntrack -D`; so do we.
Best effort: `conntrack` exits 1 when nothing matched, which is not an error.
"""

from __future__ import annotations

import logging
import subprocess

from minik.proxy.iptables import netns_path

log = logging.getLogger(__name__)


class Conntrack:
    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns

    def _delete(self, *args: str) -> None:
        argv = ["conntrack", "-D", *args]
        if self.netns:
            argv = ["nsenter", f"--net={netns_path(self.netns)}", "--", *argv]
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as error:
            log.debug("conntrack %s: %s", " ".join(args), error)
            return
        if result.returncode not in (0, 1):
            log.warning("conntrack %s failed: %s", " ".join(args), result.stderr.strip())

    def clear_service(self, cluster_ip: str, protocol: str = "udp") -> None:
        """Entries of flows to a service IP (it was rejecting before it got endpoints)."""
        self._delete("--orig-dst", cluster_ip, "-p", protocol)

    def clear_endpoint(self, cluster_ip: str, endpoint_ip: str, protocol: str = "udp") -> None:
        """Entries NATed from a service IP to an endpoint that is gone."""
        self._delete("--orig-dst", cluster_ip, "--dst-nat", endpoint_ip, "-p", protocol)
