"""`minik proxy` as a process against a real apiserver, its iptables inside a test node namespace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netlab import Lab, Server, fetch
from util import wait_for

from minik.api.resources import lookup
from minik.proxy.iptables import IPTables, SavedTable
from minik.proxy.rules import JUMPS, owned_chain

pytestmark = pytest.mark.root

SERVICES, ENDPOINTS = lookup("services"), lookup("endpoints")
REPO = Path(__file__).resolve().parents[3]


def mine(saved: dict[str, SavedTable], ns: str) -> dict[str, list[tuple[str, str]]]:
    """The rules about this test's Service, per table."""
    return {name: [r for r in table.rules if f"{ns}/web" in r[1]] for name, table in saved.items()}


class ProxyProcess:
    def __init__(self, kubeconfig: Path, netns: str, log: Path) -> None:
        self.argv = [sys.executable, "-m", "minik", "proxy", "--kubeconfig", str(kubeconfig),
                     "--iptables-netns", netns, "--hostname-override", f"{netns}-node",
                     "--cluster-cidr", "10.244.0.0/16", "--min-sync-period", "0.2", "--sync-period", "5"]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, env=env)

    def syncs(self) -> int:
        return self.log.read_text().count("sync of iptables rules took")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)


@pytest.fixture
def proxy_process(lab: Lab, apiserver: Any) -> Iterator[tuple[ProxyProcess, Any]]:
    node = lab.node("10.244.50.0/24")
    proc = ProxyProcess(apiserver.kubeconfig, node.netns, lab.tmpdir("proxy") / "proxy.log")
    try:
        yield proc, node
    finally:
        proc.stop()


def test_proxy_follows_services_and_endpoints_and_restarts_cleanly(
        proxy_process: tuple[ProxyProcess, Any], client: Any, ns: str) -> None:
    proc, node = proxy_process
    backend, pod = node.add_pod("web"), node.add_pod("client")
    server = Server(backend.netns, 8080, "web")
    try:
        svc = client.create(SERVICES, {"metadata": {"name": "web", "namespace": ns},
                                       "spec": {"ports": [{"port": 80, "targetPort": 8080}]}})
        cluster_ip = svc["spec"]["clusterIP"]
        client.create(ENDPOINTS, {"metadata": {"name": "web", "namespace": ns},
                                  "subsets": [{"addresses": [{"ip": backend.ip}], "ports": [{"port": 8080}]}]})
        proc.start()

        assert wait_for(lambda: fetch(pod.netns, cluster_ip, 80, timeout=2), message="ClusterIP answers") == "web"

        ep = client.get(ENDPOINTS, "web", ns)
        ep["subsets"] = []
        client.update(ENDPOINTS, ep)

        def refused() -> bool:
            try:
                fetch(pod.netns, cluster_ip, 80, timeout=2)
            except ConnectionRefusedError:
                return True
            return False

        wait_for(refused, message="service without endpoints refuses")
        assert proc.syncs() >= 2, proc.log.read_text()

        # Restart: the new process re-syncs to the same rules, without duplicates.
        ipt = IPTables(node.netns)
        before = ipt.save()
        proc.stop()
        assert refused(), "rules must survive a proxy restart"
        count = proc.syncs()
        proc.start()
        wait_for(lambda: proc.syncs() > count, message="restarted proxy synced")
        after = ipt.save()
        assert mine(after, ns) == mine(before, ns)
        for jump in JUMPS:
            assert len(after[jump.table].jumps(jump.chain, jump.target)) == 1, jump
        for table in after.values():  # (other tests' Services may come and go meanwhile: no full equality)
            assert len(table.rules) == len(set(table.rules)), "duplicate rules after a restart"

        # `minik proxy --cleanup` removes every chain it owns.
        proc.stop()
        subprocess.run([*proc.argv[:4], "--cleanup", "--iptables-netns", node.netns], check=True,
                       capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        saved = ipt.save()
        assert not [c for t in saved.values() for c in t.chains if owned_chain(c)]
    finally:
        server.close()
