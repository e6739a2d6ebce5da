"""Pods on two "nodes" (namespaces with their own bridge) reach each other through the agent's routes.

The nodes are joined by a veth "lab link" (one L2 segment, 10.250.0.0/24): host-gw routes each pod
CIDR via the other node's address; vxlan tunnels over the same link with static FDB/neighbour
entries. The last test runs the real agent against the apiserver and watches routes follow Nodes.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netlab import Lab, Node, ping, run_in
from util import wait_for

from minik.api.resources import lookup
from minik.cni.agent import NetworkAgent
from minik.cni.backend import RTPROT_MINIK, peers_from_nodes
from minik.cni.cleanup import cleanup
from minik.cni.hostgw import HostGW
from minik.cni.vxlan import VXLAN

pytestmark = pytest.mark.root

NODES = lookup("nodes")


def node_obj(name: str, pod_cidr: str, ip: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": annotations or {}},
            "spec": {"podCIDR": pod_cidr},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}


def our_routes(netns: str) -> list[str]:
    out = run_in(netns, "ip", "route", "show", "proto", str(RTPROT_MINIK)).stdout
    return [line.strip() for line in out.splitlines()]


@pytest.fixture
def two_nodes(lab: Lab) -> tuple[Node, Node]:
    a = lab.node("10.244.21.0/24", default_route=False)
    b = lab.node("10.244.22.0/24", default_route=False)
    lab.connect(a, "10.250.0.1/24", b, "10.250.0.2/24")
    return a, b


def test_host_gw_routes_connect_pods_across_nodes_and_follow_node_removal(two_nodes: tuple[Node, Node]) -> None:
    a, b = two_nodes
    pod_a, pod_b = a.add_pod(), b.add_pod()
    nodes = [node_obj("a", a.pod_cidr, "10.250.0.1"), node_obj("b", b.pod_cidr, "10.250.0.2")]
    assert not ping(pod_a.netns, pod_b.ip), "pods reach each other before any route exists"

    HostGW(a.netns).sync(peers_from_nodes(nodes, "a"))
    HostGW(b.netns).sync(peers_from_nodes(nodes, "b"))

    assert our_routes(a.netns) == ["10.244.22.0/24 via 10.250.0.2 dev " + our_routes(a.netns)[0].split()[-1]]
    assert ping(pod_a.netns, pod_b.ip), "pod on node a cannot reach pod on node b"
    assert ping(pod_b.netns, pod_a.ip)
    # Pod-to-pod traffic keeps its source address (masquerade stops at the cluster CIDR).
    assert "MINIK-CNI-POSTRTG" in run_in(a.netns, "iptables-save", "-t", "nat").stdout

    # Idempotent: a second sync changes nothing; node b leaving removes exactly our route.
    HostGW(a.netns).sync(peers_from_nodes(nodes, "a"))
    assert len(our_routes(a.netns)) == 1
    HostGW(a.netns).sync(peers_from_nodes(nodes[:1], "a"))
    assert our_routes(a.netns) == []
    assert "10.250.0.0/24" in run_in(a.netns, "ip", "route").stdout, "a route we do not own was removed"


def test_host_gw_moves_the_route_when_a_node_changes_address(two_nodes: tuple[Node, Node]) -> None:
    a, b = two_nodes
    HostGW(a.netns).sync(peers_from_nodes([node_obj("b", b.pod_cidr, "10.250.0.2")], "a"))
    run_in(b.netns, "ip", "addr", "add", "10.250.0.3/24", "dev",
           run_in(b.netns, "ip", "-o", "-4", "addr", "show", "to", "10.250.0.2").stdout.split()[1], check=True)
    HostGW(a.netns).sync(peers_from_nodes([node_obj("b", b.pod_cidr, "10.250.0.3")], "a"))
    assert [r.split(" dev ")[0] for r in our_routes(a.netns)] == ["10.244.22.0/24 via 10.250.0.3"]


def test_vxlan_tunnels_pod_traffic_between_nodes(two_nodes: tuple[Node, Node]) -> None:
    a, b = two_nodes
    pod_a, pod_b = a.add_pod(), b.add_pod()
    vx_a, vx_b = VXLAN(a.netns, device="miniktvx0"), VXLAN(b.netns, device="miniktvx0")
    ann_a = vx_a.setup(ipaddress.IPv4Network(a.pod_cidr), ipaddress.IPv4Address("10.250.0.1"))
    ann_b = vx_b.setup(ipaddress.IPv4Network(b.pod_cidr), ipaddress.IPv4Address("10.250.0.2"))
    nodes = [node_obj("a", a.pod_cidr, "10.250.0.1", ann_a), node_obj("b", b.pod_cidr, "10.250.0.2", ann_b)]
    assert ann_a["minik.io/public-ip"] == "10.250.0.1" and ann_a["minik.io/vtep-mac"]

    vx_a.sync(peers_from_nodes(nodes, "a"))
    vx_b.sync(peers_from_nodes(nodes, "b"))

    assert our_routes(a.netns) == ["10.244.22.0/24 via 10.244.22.0 dev miniktvx0 onlink"]
    fdb = run_in(a.netns, "bridge", "fdb", "show", "dev", "miniktvx0").stdout
    assert f"{ann_b['minik.io/vtep-mac']} dst 10.250.0.2 self permanent" in fdb
    assert ping(pod_a.netns, pod_b.ip), "no pod traffic through the VXLAN tunnel"
    assert ping(pod_b.netns, pod_a.ip)

    vx_a.sync([])
    assert our_routes(a.netns) == []
    assert ann_b["minik.io/vtep-mac"] not in run_in(a.netns, "bridge", "fdb", "show", "dev", "miniktvx0").stdout
    vx_a.cleanup()
    assert "miniktvx0" not in run_in(a.netns, "ip", "link").stdout


@pytest.fixture
def api_nodes(client: Any) -> Iterator[list[str]]:
    """Node objects created by the test (cluster-scoped), deleted afterwards."""
    names: list[str] = []
    try:
        yield names
    finally:
        for name in names:
            with contextlib.suppress(Exception):  # already gone is fine
                client.delete(NODES, name)


def test_agent_routes_follow_nodes_joining_and_leaving(
        client: Any, api_nodes: list[str], two_nodes: tuple[Node, Node], lab: Lab) -> None:
    a, b = two_nodes
    tag = secrets.token_hex(3)
    name_a, name_b = f"minik-test-{tag}-a", f"minik-test-{tag}-b"
    conf_file = lab.tmpdir("conf") / "minik.conf"
    for name, node, ip in ((name_a, a, "10.250.0.1"), (name_b, b, "10.250.0.2")):
        api_nodes.append(name)
        client.create(NODES, node_obj(name, node.pod_cidr, ip))
    pod_a, pod_b = a.add_pod(), b.add_pod()
    agents = [NetworkAgent(client, name, HostGW(node.netns), conf_file=file, resync_period=30.0,
                           data_dir=Path(node.conf["ipam"]["dataDir"]))
              for name, node, file in ((name_a, a, conf_file), (name_b, b, None))]
    try:
        for agent in agents:
            agent.start()
        wait_for(lambda: "10.244.22.0/24 via 10.250.0.2" in " ".join(our_routes(a.netns)),
                 message="agent a routes to node b's pods")
        wait_for(lambda: "10.244.21.0/24 via 10.250.0.1" in " ".join(our_routes(b.netns)),
                 message="agent b routes to node a's pods")
        assert ping(pod_a.netns, pod_b.ip)
        written = json.loads(conf_file.read_text())
        assert written["ipam"]["subnet"] == "10.244.21.0/24" and written["type"] == "minik-bridge"

        # A node joins: its route appears; it leaves: the route goes.
        name_c = f"minik-test-{tag}-c"
        api_nodes.append(name_c)
        client.create(NODES, node_obj(name_c, "10.244.23.0/24", "10.250.0.3"))
        wait_for(lambda: "10.244.23.0/24 via 10.250.0.3" in " ".join(our_routes(a.netns)),
                 message="route to the joining node")
        client.delete(NODES, name_c)
        wait_for(lambda: "10.244.23.0/24" not in " ".join(our_routes(a.netns)),
                 message="route to the leaving node removed")
        assert "10.244.22.0/24 via 10.250.0.2" in " ".join(our_routes(a.netns))
    finally:
        for agent in agents:
            agent.stop()


def test_cleanup_removes_the_whole_pod_network_of_a_node(two_nodes: tuple[Node, Node], lab: Lab) -> None:
    a, b = two_nodes
    a.add_pod()
    HostGW(a.netns).sync(peers_from_nodes([node_obj("b", b.pod_cidr, "10.250.0.2")], "a"))
    vx = VXLAN(a.netns, device="miniktvx1")
    vx.setup(ipaddress.IPv4Network(a.pod_cidr), ipaddress.IPv4Address("10.250.0.1"))
    conf_file = lab.tmpdir("conf") / "minik.conf"
    conf_file.write_text("{}")
    data_dir = Path(a.conf["ipam"]["dataDir"])

    removed = cleanup(bridge=a.bridge, data_dir=data_dir, conf_file=conf_file, vxlan_device="miniktvx1",
                      netns=a.netns)

    assert a.bridge in removed and str(data_dir) in removed
    remaining = run_in(a.netns, "ip", "-o", "link").stdout
    assert a.bridge not in remaining and "minikv" not in remaining and "miniktvx1" not in remaining
    assert our_routes(a.netns) == []
    assert "MINIK-" not in run_in(a.netns, "iptables-save").stdout
    assert not data_dir.exists() and not conf_file.exists()
    assert cleanup(bridge=a.bridge, data_dir=data_dir, conf_file=conf_file, vxlan_device="miniktvx1",
                   netns=a.netns) == []
