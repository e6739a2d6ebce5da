"""Pure kubelet values: back-off, admission, resources, container config, flags, node status."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kubelet_fakes import make_pod  # noqa: E402

from minik.kubelet.admission import can_admit_pod  # noqa: E402
from minik.kubelet.backoff import Backoff  # noqa: E402
from minik.kubelet.config import ConfigError, KubeletConfig, parse_key_values, parse_reserved, parse_taints  # noqa: E402
from minik.kubelet.container import (  # noqa: E402
    ContainerConfigError,
    PodContext,
    expand,
    generate_container_config,
    hash_container,
    make_environment,
)
from minik.kubelet.machine import MachineInfo  # noqa: E402
from minik.kubelet.nodestatus import Pressure, merge_node_conditions, node_conditions, node_resources, resources_text  # noqa: E402  # noqa: E402
from minik.kubelet.resources import linux_container_resources, linux_pod_resources, pod_requests  # noqa: E402
from minik.kubelet.runtime_manager import go_duration  # noqa: E402
from minik.kubelet.sandbox import generate_pod_sandbox_config, pod_cgroup  # noqa: E402

GI = 1024**3


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_to_the_cap_and_resets_after_twice_the_cap() -> None:
    clock = Clock()
    backoff = Backoff(10, 40, clock=clock)
    assert not backoff.is_in_backoff_since("k", clock.now)
    delays = []
    for _ in range(5):
        backoff.next("k", clock.now)
        delays.append(backoff.get("k"))
    assert delays == [10, 20, 40, 40, 40]
    assert backoff.is_in_backoff_since("k", clock.now)
    clock.now += 39
    assert backoff.is_in_backoff_since("k", 1000.0) and backoff.remaining("k", 1000.0) == pytest.approx(1)
    clock.now += 2
    assert not backoff.is_in_backoff_since("k", 1000.0)
    clock.now += 100  # quiet for more than 2 x 40 s: the next failure starts at 10 s again
    backoff.next("k", clock.now)
    assert backoff.get("k") == 10
    assert go_duration(10) == "10s" and go_duration(80) == "1m20s" and go_duration(300) == "5m0s"


def _pod(cpu: str | None = None, memory: str | None = None, init_cpu: str | None = None) -> dict:
    pod = make_pod(["app"], ["init"] if init_cpu else None)
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    pod["spec"]["containers"][0]["resources"] = {"requests": requests}
    if init_cpu:
        pod["spec"]["initContainers"][0]["resources"] = {"requests": {"cpu": init_cpu}}
    return pod


def test_admission_rejects_what_does_not_fit_with_kubernetes_words() -> None:
    allocatable = {"cpu": 2000, "memory": 4 * GI, "pods": 3}
    assert can_admit_pod(_pod("500m"), [_pod("1")], allocatable).admit
    result = can_admit_pod(_pod("100"), [_pod("500m")], allocatable)
    assert (result.admit, result.reason) == (False, "OutOfcpu")
    assert result.message == ("Pod was rejected: Node didn't have enough resource: cpu, requested: 100000, used: 500, "
                              "capacity: 2000")
    memory = can_admit_pod(_pod(memory="5Gi"), [], allocatable)
    assert memory.reason == "OutOfmemory" and "requested: 5368709120" in memory.message
    pods = can_admit_pod(_pod(), [_pod(), _pod(), _pod()], allocatable)
    assert pods.reason == "OutOfpods"
    assert pod_requests(_pod("100m", init_cpu="1")) == {"cpu": 1000}  # the biggest init container counts


def test_resources_map_to_shares_quota_and_memory() -> None:
    container = {"name": "c", "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "64Mi"}}}
    assert linux_container_resources(container) == {"cpu_shares": 256, "cpu_quota": 50000, "cpu_period": 100000,
                                                    "memory_limit_in_bytes": 64 * 1024 * 1024}
    assert linux_container_resources({"name": "c"}) == {"cpu_shares": 2}
    limits_only = {"name": "c", "resources": {"limits": {"cpu": "1"}}}
    assert linux_container_resources(limits_only)["cpu_shares"] == 1024  # requests default to limits
    pod = make_pod(["a", "b"])
    for c in pod["spec"]["containers"]:
        c["resources"] = {"limits": {"memory": "100Mi", "cpu": "100m"}}
    assert linux_pod_resources(pod)["memory_limit_in_bytes"] == 200 * 1024 * 1024
    assert linux_pod_resources(pod)["cpu_quota"] == 20000
    pod["spec"]["containers"][1]["resources"] = {}
    assert "memory_limit_in_bytes" not in linux_pod_resources(pod)


def test_env_expansion_and_downward_api() -> None:
    pod = make_pod()
    pod["metadata"]["labels"] = {"app": "web"}
    container = {"name": "app", "resources": {"limits": {"memory": "64Mi", "cpu": "1500m"}}, "env": [
        {"name": "A", "value": "x"},
        {"name": "B", "value": "$(A)-$(MISSING)-$$(A)"},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
    ]}
    ctx = PodContext(pod, "worker1", "10.0.0.5", [])
    env = make_environment(container, ctx)
    assert env == {"A": "x", "B": "x-$(MISSING)-$(A)", "POD": "web", "NODE": "worker1", "HOST": "10.0.0.5",
                   "APP": "web", "MEM": "64", "CPU": "2"}
    with pytest.raises(ContainerConfigError, match="configMapKeyRef is not supported"):
        make_environment({"name": "c", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm"}}}]},
                         ctx)
    assert expand("echo $(A) $$(A)", {"A": "1"}) == "echo 1 $(A)"


def test_container_config_carries_labels_restart_count_and_hash() -> None:
    pod = make_pod()
    container = {"name": "app", "image": "busybox", "command": ["sh", "-c", "echo $(GREETING)"],
                 "env": [{"name": "GREETING", "value": "hi"}], "tty": True,
                 "securityContext": {"runAsUser": 1000, "readOnlyRootFilesystem": True}}
    config = generate_container_config(container, pod, PodContext(pod, "n1", "10.0.0.5"), 3, "busybox",
                                       [{"container_path": "/d", "host_path": "/tmp/d", "readonly": True}],
                                       "app/3.log")
    assert config["command"] == ["sh", "-c", "echo hi"] and config["metadata"] == {"name": "app", "attempt": 3}
    assert config["labels"]["io.kubernetes.pod.uid"] == "uid-1" and config["labels"]["io.kubernetes.kubelet"] == "n1"
    assert config["annotations"]["io.kubernetes.container.restartCount"] == "3"
    assert config["annotations"]["io.kubernetes.container.hash"] == hash_container(container)
    assert config["linux"]["security_context"] == {"run_as_user": {"value": 1000}, "readonly_rootfs": True}
    assert config["tty"] is True and config["log_path"] == "app/3.log"
    assert hash_container(container) != hash_container({**container, "image": "busybox:1"})


def test_sandbox_config_puts_the_pod_cgroup_in_its_qos_tier(tmp_path: Path) -> None:
    pod = make_pod(hostNetwork=True)
    config = generate_pod_sandbox_config(pod, 2, "n1", tmp_path)
    assert config["metadata"] == {"name": "web", "namespace": "ns", "uid": "uid-1", "attempt": 2}
    assert config["linux"]["security_context"]["namespace_options"]["network"] == 2
    assert pod_cgroup(pod) == "kubepods/besteffort/poduid-1"
    guaranteed = make_pod()
    guaranteed["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1", "memory": "1Gi"},
                                                        "requests": {"cpu": "1", "memory": "1Gi"}}
    assert pod_cgroup(guaranteed) == "kubepods/poduid-1"


def test_flag_values() -> None:
    assert parse_key_values("disk=ssd, role=", "--node-labels") == {"disk": "ssd", "role": ""}
    assert parse_taints("dedicated=gpu:NoSchedule,node-role.kubernetes.io/control-plane:NoSchedule") == [
        {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    assert parse_reserved("cpu=100m,memory=256Mi") == {"cpu": 100, "memory": 256 * 1024 * 1024}
    with pytest.raises(ConfigError, match="effect must be one of"):
        parse_taints("a=b:Sometimes")
    with pytest.raises(ConfigError, match="is not key=value"):
        parse_key_values("novalue", "--node-labels")


def test_node_capacity_allocatable_and_conditions(tmp_path: Path) -> None:
    machine = MachineInfo(4, 8 * GI, "m", "u", "b", "6.1", "Debian", "amd64")
    cfg = KubeletConfig(root_dir=tmp_path, cpu="2", system_reserved={"cpu": 500, "memory": GI}, max_pods=20)
    resources = node_resources(cfg, machine)
    assert resources.capacity["cpu"] == 2000 and resources.allocatable["cpu"] == 1500
    assert resources.allocatable["memory"] == 7 * GI - 100 * 1024 * 1024  # minus the 100Mi eviction threshold
    text = resources_text(resources.allocatable)
    assert text["cpu"] == "1500m" and text["pods"] == "20" and text["memory"].endswith("Ki")
    now = "2024-01-01T00:00:00Z"
    fresh = node_conditions(Pressure(False, True, False), True, "", now)
    assert [(c["type"], c["status"], c["reason"]) for c in fresh] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"), ("DiskPressure", "True", "KubeletHasDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"), ("Ready", "True", "KubeletReady")]
    later = merge_node_conditions(node_conditions(Pressure(False, False, False), True, "", "2024-01-02T00:00:00Z"),
                                  fresh)
    assert later[3]["lastTransitionTime"] == now and later[3]["lastHeartbeatTime"] == "2024-01-02T00:00:00Z"
    assert later[1]["lastTransitionTime"] == "2024-01-02T00:00:00Z"  # DiskPressure changed


def test_dns_policy_decides_the_pods_resolv_conf() -> None:
    from minik.kubelet.sandbox import dns_config

    pod = make_pod()
    assert dns_config(pod, [], "cluster.local") == {}  # no cluster DNS: the node's resolv.conf
    assert dns_config(pod, ["10.96.0.10"], "cluster.local") == {
        "servers": ["10.96.0.10"], "searches": ["ns.svc.cluster.local", "svc.cluster.local", "cluster.local"],
        "options": ["ndots:5"]}
    assert dns_config(make_pod(hostNetwork=True), ["10.96.0.10"], "cluster.local") == {}
    assert dns_config(make_pod(dnsPolicy="Default"), ["10.96.0.10"], "cluster.local") == {}
    custom = make_pod(dnsPolicy="None", dnsConfig={"nameservers": ["1.1.1.1"], "searches": ["lab"],
                                                   "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]})
    assert dns_config(custom, ["10.96.0.10"], "cluster.local") == {
        "servers": ["1.1.1.1"], "searches": ["lab"], "options": ["ndots:2", "edns0"]}
