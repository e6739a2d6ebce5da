"""The bridge CNI plugin on the real kernel, driven through the CNI contract (`python -m minik.cni`).

Pods are network namespaces; the plugin runs inside a node namespace, so its bridge, sysctls and
iptables rules land there and the host is never touched.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from netlab import NETNS_DIR, Lab, ping, run_in

from minik.cni.bridge import host_veth_name
from minik.cni.invoke import CNIInvokeError
from minik.cni.masq import FILTER_CHAIN, NAT_CHAIN
from minik.proxy.iptables import IPTables

pytestmark = pytest.mark.root


def ipam_files(conf: dict) -> set[str]:
    """IPs the host-local store holds (one file per IP)."""
    directory = Path(conf["ipam"]["dataDir"]) / conf["name"]
    return {p.name for p in directory.iterdir() if p.name[0].isdigit()} if directory.is_dir() else set()


def links(netns: str) -> set[str]:
    out = run_in(netns, "ip", "-o", "link", "show").stdout
    return {line.split(": ")[1].split("@")[0] for line in out.splitlines()}


def test_two_pods_on_one_bridge_reach_each_other_and_the_bridge(lab: Lab) -> None:
    node = lab.node("10.244.1.0/24")
    a, b = node.add_pod(), node.add_pod()

    assert a.ip != b.ip
    assert {a.ip, b.ip} <= {f"10.244.1.{i}" for i in range(2, 255)}
    assert ping(a.netns, b.ip), "pod a cannot reach pod b over the bridge"
    assert ping(b.netns, a.ip)
    assert ping(a.netns, node.gateway), "pod cannot reach the bridge IP"
    assert ping(node.netns, a.ip), "the node cannot reach its pod"


def test_add_result_and_kernel_state_follow_the_config(lab: Lab) -> None:
    node = lab.node("10.244.2.0/24")
    pod = node.add_pod()
    host_name = host_veth_name(pod.container_id, "eth0")

    assert pod.result["cniVersion"] == "1.1.0"
    assert [i["name"] for i in pod.result["interfaces"]] == [node.bridge, host_name, "eth0"]
    assert pod.result["interfaces"][2]["sandbox"] == str(NETNS_DIR / pod.netns)
    assert pod.result["ips"] == [{"address": f"{pod.ip}/24", "gateway": "10.244.2.1", "interface": 2}]
    assert pod.result["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.244.2.1"}]
    detail = run_in(node.netns, "ip", "-d", "link", "show", host_name).stdout
    assert f"master {node.bridge}" in detail and "hairpin on" in detail and "mtu 1500" in detail
    pod_side = run_in(pod.netns, "ip", "-o", "addr", "show", "eth0").stdout
    assert f"inet {pod.ip}/24" in pod_side
    assert "default via 10.244.2.1 dev eth0" in run_in(pod.netns, "ip", "route").stdout
    assert "LOOPBACK,UP" in run_in(pod.netns, "ip", "link", "show", "lo").stdout
    assert run_in(node.netns, "cat", "/proc/sys/net/ipv4/ip_forward").stdout.strip() == "1"
    assert run_in(node.netns, "cat", "/proc/sys/net/bridge/bridge-nf-call-iptables").stdout.strip() == "1"


def test_mtu_from_config(lab: Lab) -> None:
    node = lab.node("10.244.3.0/24")
    node.conf["mtu"] = 1400
    pod = node.add_pod()
    assert "mtu 1400" in run_in(pod.netns, "ip", "link", "show", "eth0").stdout
    assert "mtu 1400" in run_in(node.netns, "ip", "link", "show", host_veth_name(pod.container_id, "eth0")).stdout


def test_pod_egress_rules_are_written_once(lab: Lab) -> None:
    node = lab.node("10.244.4.0/24")
    node.add_pod()
    node.add_pod()
    saved = IPTables(node.netns).save()
    nat, flt = saved["nat"], saved["filter"]
    assert nat.jumps("POSTROUTING", NAT_CHAIN) == [
        f'-s 10.244.4.0/24 -m comment --comment "minik pod egress" -j {NAT_CHAIN}']
    assert [r for c, r in nat.rules if c == NAT_CHAIN] == [
        '-d 10.244.0.0/16 -m comment --comment "minik pod egress" -j RETURN',
        '-d 224.0.0.0/4 -m comment --comment "minik pod egress" -j RETURN',
        '-m comment --comment "minik pod egress" -j MASQUERADE',
    ]
    assert len(flt.jumps("FORWARD", FILTER_CHAIN)) == 1


def test_del_releases_the_ip_and_removes_the_veth(lab: Lab) -> None:
    node = lab.node("10.244.5.0/24")
    pod, other = node.add_pod(), node.add_pod()
    host_name = host_veth_name(pod.container_id, "eth0")
    assert pod.ip in ipam_files(node.conf) and host_name in links(node.netns)

    assert node.cni("DEL", pod.netns, pod.container_id) is None

    assert pod.ip not in ipam_files(node.conf)
    assert other.ip in ipam_files(node.conf)
    assert host_name not in links(node.netns)
    assert "eth0" not in links(pod.netns)
    assert ping(other.netns, node.gateway), "deleting one pod broke another"
    # DEL is idempotent, also without a namespace (the pod's may be gone already).
    node.cni("DEL", pod.netns, pod.container_id)
    node.cni("DEL", "", pod.container_id)


def test_del_without_netns_after_the_pod_namespace_is_gone(lab: Lab) -> None:
    node = lab.node("10.244.6.0/24")
    pod = node.add_pod()
    subprocess.run(["ip", "netns", "del", pod.netns], check=True)
    node.cni("DEL", "", pod.container_id)
    assert pod.ip not in ipam_files(node.conf)
    assert host_veth_name(pod.container_id, "eth0") not in links(node.netns)


def test_add_twice_for_one_container_keeps_its_ip(lab: Lab) -> None:
    node = lab.node("10.244.7.0/24")
    pod = node.add_pod()
    again = node.cni("ADD", pod.netns, pod.container_id)
    # The retried ADD re-creates the pair, keeps the reservation, and the pod works.
    assert again["ips"][0]["address"] == f"{pod.ip}/24"
    assert ipam_files(node.conf) == {pod.ip}
    assert ping(pod.netns, node.gateway)


def test_exhausted_range_is_a_clear_cni_error_and_leaves_nothing_behind(lab: Lab) -> None:
    node = lab.node("10.244.8.0/30")  # .1 is the bridge, .2 the only pod address
    first = node.add_pod()
    second = lab.netns("pod")
    before = links(node.netns)

    with pytest.raises(CNIInvokeError) as error:
        node.cni("ADD", second, "second")

    assert error.value.code == 100
    assert "no IP addresses available in range 10.244.8.1-10.244.8.2" in error.value.msg
    assert "all 1 addresses" in error.value.details
    assert links(node.netns) == before
    assert "eth0" not in links(second)
    assert ipam_files(node.conf) == {first.ip}


def test_check_passes_on_a_healthy_pod_and_fails_when_its_address_is_gone(lab: Lab) -> None:
    node = lab.node("10.244.9.0/24")
    pod = node.add_pod()
    conf = {**node.conf, "prevResult": pod.result}
    assert node.cni("CHECK", pod.netns, pod.container_id, conf) is None

    run_in(pod.netns, "ip", "addr", "flush", "dev", "eth0", check=True)
    with pytest.raises(CNIInvokeError) as error:
        node.cni("CHECK", pod.netns, pod.container_id, conf)
    assert error.value.code == 102 and pod.ip in error.value.msg


def test_errors_come_back_as_cni_json(lab: Lab) -> None:
    node = lab.node("10.244.10.0/24")
    pod_netns = lab.netns("pod")
    with pytest.raises(CNIInvokeError) as error:
        node.cni("ADD", pod_netns, "c1", {**node.conf, "cniVersion": "9.9.9"})
    assert error.value.code == 1
    with pytest.raises(CNIInvokeError) as error:
        node.cni("ADD", "", "c1")  # no CNI_NETNS
    assert error.value.code == 4 and "CNI_NETNS" in error.value.details
    with pytest.raises(CNIInvokeError) as error:
        node.cni("ADD", pod_netns, "c1", {**node.conf, "ipam": {"subnet": "10.244.10.0/24", "gateway": "10.9.9.9"}})
    assert error.value.code == 7 and "gateway" in error.value.msg
    assert ipam_files(node.conf) == set()
    assert "eth0" not in links(pod_netns)


def test_version_lists_supported_versions(lab: Lab) -> None:
    node = lab.node("10.244.11.0/24")
    result = node.cni("VERSION", "", "", {"cniVersion": "1.0.0"})
    assert result == {"cniVersion": "1.0.0", "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]}


def test_gc_frees_addresses_and_veths_of_dead_attachments(lab: Lab) -> None:
    node = lab.node("10.244.12.0/24")
    keep, stale = node.add_pod(), node.add_pod()
    conf = {**node.conf, "cni.dev/valid-attachments": [{"containerID": keep.container_id, "ifname": "eth0"}]}

    node.cni("GC", "", "", conf)

    assert ipam_files(node.conf) == {keep.ip}
    assert host_veth_name(stale.container_id, "eth0") not in links(node.netns)
    assert ping(keep.netns, node.gateway)


def test_old_spec_version_gets_an_old_result(lab: Lab) -> None:
    node = lab.node("10.244.13.0/24")
    pod_netns = lab.netns("pod")
    result = node.cni("ADD", pod_netns, "old", {**node.conf, "cniVersion": "0.4.0"})
    assert result["cniVersion"] == "0.4.0"
    assert result["ips"][0]["version"] == "4"
    assert json.dumps(result)  # plain JSON all the way
