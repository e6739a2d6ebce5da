"""Golden-ish checks of the rendered iptables-restore text (kube-proxy's iptables layout, MINIK- chains)."""

from __future__ import annotations

from typing import Any

from minik.proxy.iptables import SavedTable, parse_save
from minik.proxy.rules import (
    JUMPS,
    ProxyConfig,
    cleanup_payload,
    missing_jumps,
    owned_chain,
    probability,
    render,
    sep_chain,
    svc_chain,
)
from minik.proxy.serviceport import Endpoint, ProxyState, ServicePortName

CFG = ProxyConfig(cluster_cidr="10.244.0.0/16")
WEB = ServicePortName("default", "web", "http", "TCP")


def svc(name: str = "web", ip: str = "10.96.0.10", **spec: Any) -> dict[str, Any]:
    port = {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}
    if "nodePort" in spec:
        port["nodePort"] = spec.pop("nodePort")
    return {"metadata": {"namespace": "default", "name": name},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "ports": [port], **spec}}


def eps(name: str = "web", ips: tuple[str, ...] = ("10.244.1.2", "10.244.1.3", "10.244.2.4"),
        port_name: str = "http", not_ready: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": name},
            "subsets": [{"addresses": [{"ip": ip} for ip in ips],
                         "notReadyAddresses": [{"ip": ip} for ip in not_ready],
                         "ports": [{"name": port_name, "port": 8080, "protocol": "TCP"}]}]}


def rules(services: list[dict[str, Any]], endpoints: list[dict[str, Any]], config: ProxyConfig = CFG) -> str:
    return render(ProxyState.build(services, endpoints), config).payload()


def chain_rules(text: str, table: str, chain: str) -> list[str]:
    saved = parse_save(text)
    return [r for c, r in saved[table].rules if c == chain]


def test_cluster_ip_dnat_cascade() -> None:
    text = rules([svc()], [eps()])
    svc_name = svc_chain(WEB)
    seps = [sep_chain(WEB, Endpoint(ip, 8080)) for ip in ("10.244.1.2", "10.244.1.3", "10.244.2.4")]

    assert chain_rules(text, "nat", "MINIK-SERVICES") == [
        f'-m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.10/32 --dport 80 -j {svc_name}',
        '-m comment --comment "minik service nodeports; NOTE: this must be the last rule in this chain" '
        "-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j MINIK-NODEPORTS",
    ]
    assert chain_rules(text, "nat", svc_name) == [
        '-m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.10/32 --dport 80 '
        "! -s 10.244.0.0/16 -j MINIK-MARK-MASQ",
        '-m comment --comment "default/web:http -> 10.244.1.2:8080" '
        f"-m statistic --mode random --probability 0.3333333333 -j {seps[0]}",
        '-m comment --comment "default/web:http -> 10.244.1.3:8080" '
        f"-m statistic --mode random --probability 0.5000000000 -j {seps[1]}",
        f'-m comment --comment "default/web:http -> 10.244.2.4:8080" -j {seps[2]}',
    ]
    assert chain_rules(text, "nat", seps[0]) == [
        '-m comment --comment "default/web:http" -s 10.244.1.2/32 -j MINIK-MARK-MASQ',
        '-m comment --comment "default/web:http" -m tcp -p tcp -j DNAT --to-destination 10.244.1.2:8080',
    ]
    assert f":{svc_name} - [0:0]" in text and all(f":{s} - [0:0]" in text for s in seps)
    assert "REJECT" not in text


def test_chain_names_are_stable_and_fit_iptables() -> None:
    assert svc_chain(WEB) == svc_chain(ServicePortName("default", "web", "http", "TCP"))
    assert svc_chain(WEB) != svc_chain(ServicePortName("default", "web", "http", "UDP"))
    assert len(svc_chain(WEB)) <= 28 and len(sep_chain(WEB, Endpoint("10.244.255.255", 65535))) <= 28
    assert probability(3) == "0.3333333333" and probability(1) == "1.0000000000"


def test_masquerade_marking_and_postrouting() -> None:
    text = rules([svc()], [eps()], ProxyConfig(cluster_cidr=None, masquerade_bit=14))
    assert chain_rules(text, "nat", "MINIK-MARK-MASQ") == ["-j MARK --or-mark 0x4000"]
    assert chain_rules(text, "nat", "MINIK-POSTROUTING") == [
        "-m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-j MARK --xor-mark 0x4000",
        '-m comment --comment "minik service traffic requiring SNAT" -j MASQUERADE',
    ]
    # Without a cluster CIDR there is no "from outside the cluster" rule; --masquerade-all marks everything.
    assert "MINIK-MARK-MASQ" not in "".join(chain_rules(text, "nat", svc_chain(WEB)))
    all_text = rules([svc()], [eps()], ProxyConfig(masquerade_all=True))
    assert chain_rules(all_text, "nat", svc_chain(WEB))[0].endswith("--dport 80 -j MINIK-MARK-MASQ")


def test_node_port() -> None:
    text = rules([svc(type="NodePort", nodePort=30080)], [eps()])
    assert chain_rules(text, "nat", "MINIK-NODEPORTS") == [
        '-m comment --comment "default/web:http" -m tcp -p tcp --dport 30080 -j MINIK-MARK-MASQ',
        f'-m comment --comment "default/web:http" -m tcp -p tcp --dport 30080 -j {svc_chain(WEB)}',
    ]
    # A ClusterIP service never gets a node port, even if the object carries one.
    assert chain_rules(rules([svc(nodePort=30080)], [eps()]), "nat", "MINIK-NODEPORTS") == []


def test_service_without_ready_endpoints_rejects() -> None:
    text = rules([svc(type="NodePort", nodePort=30081, externalIPs=["192.0.2.7"])],
                 [eps(ips=(), not_ready=("10.244.1.9",))])
    reject = "-j REJECT --reject-with icmp-port-unreachable"
    assert chain_rules(text, "filter", "MINIK-SERVICES") == [
        f'-m comment --comment "default/web:http has no endpoints" -m tcp -p tcp -d 10.96.0.10/32 --dport 80 {reject}'
    ]
    assert chain_rules(text, "filter", "MINIK-EXTERNAL-SERVICES") == [
        f'-m comment --comment "default/web:http has no endpoints" -m tcp -p tcp -d 192.0.2.7/32 --dport 80 {reject}',
        '-m comment --comment "default/web:http has no endpoints" -m addrtype --dst-type LOCAL '
        f"-m tcp -p tcp --dport 30081 {reject}",
    ]
    assert svc_chain(WEB) not in text and "DNAT" not in text


def test_session_affinity_uses_recent() -> None:
    text = rules([svc(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}})],
                 [eps(ips=("10.244.1.2", "10.244.1.3"))])
    a, b = (sep_chain(WEB, Endpoint(ip, 8080)) for ip in ("10.244.1.2", "10.244.1.3"))
    svc_rules = chain_rules(text, "nat", svc_chain(WEB))
    assert svc_rules[1:3] == [
        f'-m comment --comment "default/web:http -> 10.244.1.2:8080" -m recent --name {a} --mask 255.255.255.255 '
        f"--rsource --rcheck --seconds 600 --reap -j {a}",
        f'-m comment --comment "default/web:http -> 10.244.1.3:8080" -m recent --name {b} --mask 255.255.255.255 '
        f"--rsource --rcheck --seconds 600 --reap -j {b}",
    ]
    assert chain_rules(text, "nat", a)[1] == (
        f'-m comment --comment "default/web:http" -m recent --name {a} --mask 255.255.255.255 --rsource --set '
        "-m tcp -p tcp -j DNAT --to-destination 10.244.1.2:8080")
    default = rules([svc(sessionAffinity="ClientIP")], [eps()])
    assert "--seconds 10800" in default


def test_external_ips() -> None:
    text = rules([svc(externalIPs=["192.0.2.7", "not-an-ip"])], [eps()])
    assert chain_rules(text, "nat", "MINIK-SERVICES")[1:3] == [
        '-m comment --comment "default/web:http external IP" -m tcp -p tcp -d 192.0.2.7/32 --dport 80 '
        "-j MINIK-MARK-MASQ",
        f'-m comment --comment "default/web:http external IP" -m tcp -p tcp -d 192.0.2.7/32 --dport 80 '
        f"-j {svc_chain(WEB)}",
    ]


def test_ports_are_matched_by_name_and_bad_objects_are_skipped() -> None:
    services = [
        svc(),
        svc("headless", "None"),
        {"metadata": {"namespace": "default", "name": "ext"}, "spec": {"type": "ExternalName", "externalName": "x"}},
        {"metadata": {"namespace": "default", "name": "broken"}, "spec": {"clusterIP": "10.96.0.9",
                                                                          "ports": [{"port": "eighty"}]}},
    ]
    state = ProxyState.build(services, [eps(port_name="other")])
    assert [str(p.name) for p in state.ports] == ["default/web:http"]
    assert state.endpoints_of(state.ports[0]) == []  # the endpoints' port has another name


def test_stale_chains_are_flushed_and_deleted_and_only_missing_jumps_added() -> None:
    state = ProxyState.build([svc()], [eps(ips=("10.244.1.2",))])
    ruleset = render(state, CFG)
    stale = {"nat": {"MINIK-SVC-OLDOLDOLDOLDOLDO", svc_chain(WEB)}, "filter": set()}
    saved = {"nat": SavedTable({"PREROUTING"}, [("PREROUTING", '-m comment --comment "x" -j MINIK-SERVICES')]),
             "filter": SavedTable()}
    jumps = missing_jumps(saved)
    text = ruleset.payload(stale=stale, jumps=jumps)

    assert [j for j in JUMPS if j not in jumps] == [JUMPS[0]]  # PREROUTING's jump exists already
    assert ":MINIK-SVC-OLDOLDOLDOLDOLDO - [0:0]" in text and "-X MINIK-SVC-OLDOLDOLDOLDOLDO" in text
    assert f"-X {svc_chain(WEB)}" not in text
    assert "-I PREROUTING" not in text
    assert '-I OUTPUT 1 -m comment --comment "minik service portals" -j MINIK-SERVICES' in text
    nat = text.split("*nat")[1]
    assert nat.index("-X MINIK-SVC-OLD") > nat.index("-A MINIK-SERVICES")  # delete after nothing jumps there


def test_cleanup_payload_touches_only_our_chains() -> None:
    saved = parse_save("\n".join([
        "*nat", ":PREROUTING ACCEPT [0:0]", ":MINIK-SERVICES - [0:0]", ":MINIK-SVC-AAAA - [0:0]",
        ":MINIK-CNI-POSTRTG - [0:0]", ":DOCKER - [0:0]",
        '-A PREROUTING -m comment --comment "minik service portals" -j MINIK-SERVICES',
        "-A PREROUTING -j DOCKER", "-A POSTROUTING -s 10.244.1.0/24 -j MINIK-CNI-POSTRTG",
        "-A MINIK-SERVICES -j MINIK-SVC-AAAA", "COMMIT", ""]))
    text = cleanup_payload(saved)
    assert '-D PREROUTING -m comment --comment "minik service portals" -j MINIK-SERVICES' in text
    assert "-X MINIK-SERVICES" in text and "-X MINIK-SVC-AAAA" in text
    assert "DOCKER" not in text and "MINIK-CNI" not in text
    assert not owned_chain("MINIK-CNI-POSTRTG") and owned_chain("MINIK-SEP-X")
