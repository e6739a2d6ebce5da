"""The network agent's decisions, with a fake backend and client: what it publishes, writes and syncs."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

from minik.cni.agent import NetworkAgent
from minik.cni.backend import Peer, node_ip, peers_from_nodes


class FakeBackend:
    def __init__(self, name: str = "vxlan") -> None:
        self.name = name
        self.setups: list[tuple[str, str]] = []
        self.synced: list[list[Peer]] = []

    def setup(self, own_cidr: ipaddress.IPv4Network, own_ip: ipaddress.IPv4Address) -> dict[str, str]:
        self.setups.append((str(own_cidr), str(own_ip)))
        return {"minik.io/vtep-mac": "aa:bb:cc:dd:ee:ff", "minik.io/public-ip": str(own_ip)}

    def sync(self, peers: list[Peer]) -> None:
        self.synced.append(peers)

    def cleanup(self) -> None:
        pass


class FakeClient:
    def __init__(self) -> None:
        self.patches: list[tuple[str, Any]] = []

    def list_all(self, *a: Any, **k: Any) -> tuple[list[Any], str]:
        return [], "1"

    def watch(self, *a: Any, **k: Any) -> Any:
        raise NotImplementedError

    def patch(self, r: Any, name: str, body: Any, namespace: str | None = None, **k: Any) -> dict[str, Any]:
        self.patches.append((name, body))
        return {}


def node(name: str, cidr: str | None, ip: str | None, **annotations: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "annotations": annotations, "resourceVersion": "1"},
            "spec": {"podCIDR": cidr} if cidr else {},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}] if ip else []}}


def test_peers_need_a_cidr_and_an_address_and_prefer_the_announced_ip() -> None:
    nodes = [node("me", "10.244.1.0/24", "10.0.0.1"), node("b", "10.244.2.0/24", "10.0.0.2"),
             node("c", None, "10.0.0.3"), node("d", "10.244.4.0/24", None),
             node("e", "10.244.5.0/24", "10.0.0.5", **{"minik.io/public-ip": "192.0.2.5",
                                                      "minik.io/vtep-mac": "aa:aa:aa:aa:aa:aa"})]
    peers = peers_from_nodes(nodes, "me")
    assert [(p.name, str(p.pod_cidr), str(p.ip), p.vtep_mac) for p in peers] == [
        ("b", "10.244.2.0/24", "10.0.0.2", ""), ("e", "10.244.5.0/24", "192.0.2.5", "aa:aa:aa:aa:aa:aa")]
    assert node_ip(node("x", None, "not-an-ip")) is None


def test_agent_waits_for_its_pod_cidr_then_publishes_writes_and_syncs(tmp_path: Path) -> None:
    client, backend = FakeClient(), FakeBackend()
    conf_file = tmp_path / "run" / "minik.conf"
    agent = NetworkAgent(client, "me", backend, conf_file=conf_file, mtu=1500)  # type: ignore[arg-type]
    agent.informer.store.add(node("me", None, "10.0.0.1"))
    assert agent.sync() is False and backend.setups == [] and not conf_file.exists()

    agent.informer.store.add(node("me", "10.244.1.0/24", "10.0.0.1"))
    agent.informer.store.add(node("b", "10.244.2.0/24", "10.0.0.2"))
    assert agent.sync() is True

    assert backend.setups == [("10.244.1.0/24", "10.0.0.1")]
    assert client.patches == [("me", {"metadata": {"annotations": {
        "minik.io/vtep-mac": "aa:bb:cc:dd:ee:ff", "minik.io/public-ip": "10.0.0.1"}}})]
    conf = json.loads(conf_file.read_text())
    assert conf["ipam"]["subnet"] == "10.244.1.0/24" and conf["mtu"] == 1450  # vxlan leaves room for headers
    assert [p.name for p in backend.synced[-1]] == ["b"]

    # Level-based and idempotent: nothing is set up or published again while nothing changed.
    agent.sync()
    assert len(backend.setups) == 1 and len(client.patches) == 1 and len(backend.synced) == 2
