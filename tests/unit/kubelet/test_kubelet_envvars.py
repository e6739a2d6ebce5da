"""Service environment variables: the names and values Kubernetes gives a container."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kubelet_fakes import make_pod  # noqa: E402

from minik.kubelet.container import PodContext, generate_container_config, make_environment  # noqa: E402
from minik.kubelet.envvars import from_services, service_env_var_map  # noqa: E402


def service(name: str, namespace: str, cluster_ip: str, *ports: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterIP": cluster_ip, "ports": list(ports)}}


KUBERNETES = service("kubernetes", "default", "10.96.0.1", {"name": "https", "port": 443, "protocol": "TCP"})


def test_one_service_the_docs_example() -> None:
    redis = service("redis-master", "ns", "10.0.0.11", {"port": 6379, "protocol": "TCP", "targetPort": 6379})
    assert from_services([redis]) == [
        ("REDIS_MASTER_SERVICE_HOST", "10.0.0.11"),
        ("REDIS_MASTER_SERVICE_PORT", "6379"),
        ("REDIS_MASTER_PORT", "tcp://10.0.0.11:6379"),
        ("REDIS_MASTER_PORT_6379_TCP", "tcp://10.0.0.11:6379"),
        ("REDIS_MASTER_PORT_6379_TCP_PROTO", "tcp"),
        ("REDIS_MASTER_PORT_6379_TCP_PORT", "6379"),
        ("REDIS_MASTER_PORT_6379_TCP_ADDR", "10.0.0.11"),
    ]


def test_named_ports_udp_and_services_without_a_cluster_ip() -> None:
    dns = service("kube-dns", "ns", "10.96.0.10", {"name": "dns", "port": 53, "protocol": "UDP"},
                  {"name": "dns-tcp", "port": 53, "protocol": "TCP"})
    headless = service("db", "ns", "None", {"port": 5432})
    external = {"metadata": {"name": "ext", "namespace": "ns"}, "spec": {"type": "ExternalName"}}
    env = dict(from_services([dns, headless, external]))
    assert env["KUBE_DNS_SERVICE_PORT"] == "53"
    assert env["KUBE_DNS_SERVICE_PORT_DNS"] == "53" and env["KUBE_DNS_SERVICE_PORT_DNS_TCP"] == "53"
    assert env["KUBE_DNS_PORT"] == "udp://10.96.0.10:53"
    assert env["KUBE_DNS_PORT_53_UDP_PROTO"] == "udp" and env["KUBE_DNS_PORT_53_TCP_PROTO"] == "tcp"
    assert not [k for k in env if k.startswith(("DB_", "EXT_"))]
    ipv6 = dict(from_services([service("v6", "ns", "fd00::10", {"port": 80})]))
    assert ipv6["V6_PORT"] == "tcp://[fd00::10]:80" and ipv6["V6_PORT_80_TCP_ADDR"] == "fd00::10"


def test_the_pods_namespace_and_the_kubernetes_service() -> None:
    web = service("web", "ns", "10.96.5.5", {"port": 80})
    other = service("other", "elsewhere", "10.96.6.6", {"port": 80})
    services = [KUBERNETES, web, other]
    env = service_env_var_map(services, "ns", True)
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1" and env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"
    assert env["KUBERNETES_PORT_443_TCP"] == "tcp://10.96.0.1:443"
    assert env["WEB_SERVICE_HOST"] == "10.96.5.5"
    assert not [k for k in env if k.startswith("OTHER_")]
    without_links = service_env_var_map(services, "ns", False)
    assert {k.split("_")[0] for k in without_links} == {"KUBERNETES"}
    own = service("kubernetes", "ns", "10.96.7.7", {"port": 8443})
    assert service_env_var_map([own, KUBERNETES], "ns", True)["KUBERNETES_SERVICE_HOST"] == "10.96.7.7"
    assert service_env_var_map([KUBERNETES, own], "ns", True)["KUBERNETES_SERVICE_HOST"] == "10.96.7.7"


def test_container_env_expands_service_variables_and_keeps_its_own_values() -> None:
    pod = make_pod()
    container = {"name": "app", "image": "busybox", "args": ["$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)"],
                 "env": [{"name": "URL", "value": "http://$(WEB_SERVICE_HOST)/"},
                         {"name": "WEB_SERVICE_PORT", "value": "8080"}]}
    services = service_env_var_map([KUBERNETES, service("web", "ns", "10.96.5.5", {"port": 80})], "ns", True)
    ctx = PodContext(pod, "node", "127.0.0.1", service_env=services)
    env = make_environment(container, ctx)
    assert list(env)[:2] == ["URL", "WEB_SERVICE_PORT"]  # the container's own first, in order
    assert env["URL"] == "http://10.96.5.5/"
    assert env["WEB_SERVICE_PORT"] == "8080" and env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    config = generate_container_config(container, pod, ctx, 0, "busybox", [], "app/0.log")
    assert config["args"] == ["10.96.5.5:8080"]
    assert {"key": "WEB_PORT", "value": "tcp://10.96.5.5:80"} in config["envs"]
