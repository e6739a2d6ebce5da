"""The proxy's rules on the real kernel: applied inside a node namespace, exercised by real TCP.

A node namespace with a bridge (the CNI plugin) and pod namespaces; servers are Python sockets
inside the pod namespaces answering with their name. The proxy's iptables commands all run in the
node namespace (`IPTables(netns)`), so the host's tables are never touched.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from netlab import Lab, Node, Pod, Server, fetch

from minik.cni import masq
from minik.proxy.cleanup import cleanup
from minik.proxy.iptables import IPTables
from minik.proxy.proxier import Proxier
from minik.proxy.rules import JUMPS, ProxyConfig, owned_chain
from minik.proxy.serviceport import ProxyState

pytestmark = pytest.mark.root

CLUSTER_IP = "10.96.0.10"
PORT = 80
TARGET = 8080


def service(name: str, cluster_ip: str = CLUSTER_IP, node_port: int = 0, affinity: bool = False) -> dict[str, Any]:
    port: dict[str, Any] = {"name": "http", "port": PORT, "protocol": "TCP", "targetPort": TARGET}
    spec: dict[str, Any] = {"type": "NodePort" if node_port else "ClusterIP", "clusterIP": cluster_ip,
                            "ports": [port]}
    if node_port:
        port["nodePort"] = node_port
    if affinity:
        spec["sessionAffinity"] = "ClientIP"
    return {"metadata": {"namespace": "default", "name": name}, "spec": spec}


def endpoints(name: str, pods: list[Pod]) -> dict[str, Any]:
    subsets = [{"addresses": [{"ip": p.ip} for p in pods], "ports": [{"name": "http", "port": TARGET}]}] if pods else []
    return {"metadata": {"namespace": "default", "name": name}, "subsets": subsets}


class World:
    """Services and Endpoints the proxier reads, editable by the test; the servers behind them."""

    def __init__(self, servers: list[Server]) -> None:
        self.services: list[dict[str, Any]] = []
        self.endpoints: list[dict[str, Any]] = []
        self.servers = servers

    def sources(self) -> set[str]:
        """Client addresses the endpoints have seen (after any SNAT)."""
        return {peer for s in self.servers for peer in s.peers}

    def proxier(self, node: Node) -> Proxier:
        return Proxier(IPTables(node.netns), ProxyConfig(cluster_cidr="10.244.0.0/16"),
                       services=lambda: self.services, endpoints=lambda: self.endpoints)


@pytest.fixture
def cluster(lab: Lab) -> Any:
    node = lab.node("10.244.40.0/24")
    backends = [node.add_pod("web") for _ in range(3)]
    client = node.add_pod("client")
    servers = [Server(p.netns, TARGET, f"web-{i}") for i, p in enumerate(backends)]
    try:
        yield node, backends, client, World(servers)
    finally:
        for s in servers:
            s.close()


def test_cluster_ip_reaches_an_endpoint_and_load_balances_over_all(cluster: Any) -> None:
    node, backends, client, world = cluster
    world.services = [service("web")]
    world.endpoints = [endpoints("web", backends)]
    world.proxier(node).sync_proxy_rules()

    replies = Counter(fetch(client.netns, CLUSTER_IP, PORT) for _ in range(60))

    assert set(replies) == {"web-0", "web-1", "web-2"}, f"not every endpoint got traffic: {replies}"
    # From the node itself (OUTPUT chain) too; that traffic is masqueraded (source outside the pod CIDR).
    assert fetch(node.netns, CLUSTER_IP, PORT).startswith("web-")


def test_service_without_endpoints_is_refused_at_once(cluster: Any) -> None:
    node, _, client, world = cluster
    world.services = [service("empty", "10.96.0.11")]
    world.endpoints = [endpoints("empty", [])]
    world.proxier(node).sync_proxy_rules()

    # A REJECT answers with ICMP port unreachable: ECONNREFUSED, not a timeout (socket timeout is 10 s).
    with pytest.raises(ConnectionRefusedError):
        fetch(client.netns, "10.96.0.11", PORT)
    with pytest.raises(ConnectionRefusedError):
        fetch(node.netns, "10.96.0.11", PORT)


def test_endpoints_appearing_and_leaving_are_followed(cluster: Any) -> None:
    node, backends, client, world = cluster
    proxier = world.proxier(node)
    world.services = [service("web")]
    proxier.sync_proxy_rules()
    with pytest.raises(ConnectionRefusedError):
        fetch(client.netns, CLUSTER_IP, PORT)

    world.endpoints = [endpoints("web", backends[1:2])]
    proxier.sync_proxy_rules(full=False)
    assert {fetch(client.netns, CLUSTER_IP, PORT) for _ in range(10)} == {"web-1"}

    world.services = []
    proxier.sync_proxy_rules(full=False)
    saved = IPTables(node.netns).save()
    assert not [c for c in saved["nat"].chains if c.startswith(("MINIK-SVC-", "MINIK-SEP-"))]


def test_node_port_on_the_node_address(cluster: Any) -> None:
    node, backends, client, world = cluster
    world.services = [service("web", node_port=30080)]
    world.endpoints = [endpoints("web", backends)]
    world.proxier(node).sync_proxy_rules()

    # ClusterIP traffic between pods keeps the client's address ...
    assert fetch(client.netns, CLUSTER_IP, PORT).startswith("web-")
    assert world.sources() == {client.ip}
    # ... NodePort traffic is masqueraded: the endpoint sees the node (its bridge address), not the client.
    assert fetch(client.netns, node.gateway, 30080).startswith("web-")  # the bridge IP is a node address
    assert world.sources() == {client.ip, node.gateway}
    assert fetch(node.netns, node.gateway, 30080).startswith("web-")


def test_session_affinity_pins_a_client_to_one_endpoint(cluster: Any) -> None:
    node, backends, client, world = cluster
    world.services = [service("web", affinity=True)]
    world.endpoints = [endpoints("web", backends)]
    world.proxier(node).sync_proxy_rules()

    replies = {fetch(client.netns, CLUSTER_IP, PORT) for _ in range(20)}
    assert len(replies) == 1, f"ClientIP affinity sent one client to {replies}"


def test_hairpin_a_pod_reaches_itself_through_its_service(cluster: Any) -> None:
    node, backends, _, world = cluster
    world.services = [service("web")]
    world.endpoints = [endpoints("web", backends[:1])]
    world.proxier(node).sync_proxy_rules()

    assert fetch(backends[0].netns, CLUSTER_IP, PORT) == "web-0"


def test_restart_resyncs_without_duplicates_and_removes_stale_chains(cluster: Any) -> None:
    node, backends, client, world = cluster
    ipt = IPTables(node.netns)
    world.services = [service("web"), service("old", "10.96.0.12")]
    world.endpoints = [endpoints("web", backends), endpoints("old", backends[:1])]
    world.proxier(node).sync_proxy_rules()
    first = ipt.save()

    # A new proxier (a restarted process) knows nothing of what the last one wrote.
    world.proxier(node).sync_proxy_rules()
    assert ipt.save() == first, "a restart changed or duplicated rules"
    for jump in JUMPS:
        assert len(first[jump.table].jumps(jump.chain, jump.target)) == 1, jump

    world.services = world.services[:1]
    world.proxier(node).sync_proxy_rules()
    old_chains = {c for c in first["nat"].chains if c.startswith("MINIK-")} - {
        c for c in ipt.save()["nat"].chains if c.startswith("MINIK-")}
    assert len(old_chains) == 2, "the removed service's SVC and SEP chains should be gone"
    assert fetch(client.netns, CLUSTER_IP, PORT).startswith("web-")


def test_rules_of_others_are_left_alone(cluster: Any) -> None:
    node, backends, _, world = cluster
    ipt = IPTables(node.netns)
    ipt.restore("*nat\n:OTHER-CHAIN - [0:0]\n-A OTHER-CHAIN -j RETURN\n-A PREROUTING -j OTHER-CHAIN\nCOMMIT\n")
    world.services = [service("web")]
    world.endpoints = [endpoints("web", backends)]
    world.proxier(node).sync_proxy_rules()
    cleanup(ipt)
    saved = ipt.save()
    assert "OTHER-CHAIN" in saved["nat"].chains
    assert saved["nat"].jumps("PREROUTING", "OTHER-CHAIN") == ["-j OTHER-CHAIN"]


def test_cleanup_leaves_no_minik_chain(cluster: Any) -> None:
    node, backends, _, world = cluster
    ipt = IPTables(node.netns)
    world.services = [service("web", node_port=30080), service("empty", "10.96.0.11")]
    world.endpoints = [endpoints("web", backends)]
    world.proxier(node).sync_proxy_rules()
    assert any(owned_chain(c) for c in ipt.save()["nat"].chains)

    removed = cleanup(ipt)
    masq.cleanup(ipt)  # the CNI plugin's pod egress chains (minik down removes both)

    saved = ipt.save()
    assert removed >= 8
    for table in ("filter", "nat"):
        assert not [c for c in saved[table].chains if c.startswith("MINIK-")], saved[table].chains
        assert not [r for _, r in saved[table].rules if "MINIK-" in r]
    assert cleanup(ipt) == 0  # idempotent


def test_render_matches_what_the_kernel_keeps(cluster: Any) -> None:
    node, backends, _, world = cluster
    world.services = [service("web", node_port=30080, affinity=True)]
    world.endpoints = [endpoints("web", backends)]
    proxier = world.proxier(node)
    proxier.sync_proxy_rules()
    _, ruleset = proxier.render()
    saved = IPTables(node.netns).save()
    for table in ("filter", "nat"):
        ours = [r for c, r in saved[table].rules if owned_chain(c)]
        assert len(ours) == len(ruleset.rules[table])
    assert isinstance(ProxyState.build(world.services, world.endpoints).ports[0].affinity_timeout, int)
