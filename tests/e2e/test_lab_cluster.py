"""The course's labs on a 3-node cluster built by `minik up --nodes 2` (master + worker1 + worker2,
the course's three VMs): real containers, real iptables, real netns nodes, real node failure.

Tests share one cluster (bringing one up is the expensive part) and each cleans up its own objects;
the last test takes the cluster down and checks the host is clean.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from labcluster import DEPLOYMENTS, NODES, LabCluster, node_ready, running
from util import wait_for

from minik.api.resources import require

pytestmark = [pytest.mark.root, pytest.mark.etcd]

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
WORKERS = {"worker1", "worker2"}


@pytest.fixture(scope="module")
def lab() -> Iterator[LabCluster]:
    cluster = LabCluster(nodes=2)
    try:
        result = cluster.up()
        assert "waiting for 3 node(s) to be Ready" in result.stdout, result.stdout
        yield cluster
    finally:
        cluster.remove()


def apply(lab: LabCluster, text: str) -> None:
    path = lab.root / f"manifest-{abs(hash(text))}.yaml"
    path.write_text(text)
    lab.minictl("apply", "-f", str(path))


def deployment(name: str, replicas: int, image: str = "minik/app:v1", extra_spec: str = "",
               container_extra: str = "") -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
{extra_spec}
      containers:
      - name: app
        image: {image}
        ports: [{{containerPort: 8080}}]
{container_extra}
"""


def wait_ready_pods(lab: LabCluster, selector: str, count: int, timeout: float = 120) -> list[dict]:
    def ready() -> list[dict] | None:
        pods = lab.pods(selector=selector)
        return pods if len(pods) == count and all(running(p) for p in pods) else None

    return wait_for(ready, timeout=timeout, interval=0.5, message=f"{count} ready pods for {selector}")


def test_nodes_are_the_course_vms(lab: LabCluster) -> None:
    out = lab.minictl("get", "nodes", "-o", "wide").stdout
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["master", "worker1", "worker2"], out
    master = lab.client.get(NODES, "master")
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in [
        {k: t[k] for k in ("key", "effect")} for t in master["spec"].get("taints") or []]
    addresses = {n: lab.client.get(NODES, n)["status"]["addresses"][0]["address"] for n in ("worker1", "worker2")}
    assert addresses == {"worker1": "10.79.0.11", "worker2": "10.79.0.12"}
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "minik-worker1" in netns and "minik-worker2" in netns


def test_label_deployments_keep_their_own_pods(lab: LabCluster) -> None:
    files = ["label-app01.yaml", "label-app02.yaml", "label-app03.yaml", "label-app04.yaml", "annotation-nodejs.yaml"]
    for name in files:
        lab.minictl("apply", "-f", str(MANIFESTS / name))
    try:
        wait_ready_pods(lab, "app=nodejs", 5)
        out = lab.minictl("get", "pods", "-l", "environment=production,release=stable", "-o", "name").stdout
        assert len(out.split()) == 1 and out.startswith("pod/label-app04-"), out
        shown = lab.minictl("get", "pods", "--show-labels").stdout
        assert "pod-template-hash=" in shown
    finally:
        for name in files:
            lab.minictl("delete", "-f", str(MANIFESTS / name), "--wait=false", check=False)


def test_deployment_spreads_over_workers_and_service_answers_everywhere(lab: LabCluster) -> None:
    apply(lab, deployment("web", 6) + """
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeSelector: {kubernetes.io/hostname: worker1}
  containers: [{name: client, image: busybox, command: [sleep, "3600"]}]
""")
    try:
        pods = wait_ready_pods(lab, "app=web", 6)
        nodes = {p["spec"]["nodeName"] for p in pods}
        assert nodes == WORKERS, f"the 6 replicas ran on {nodes}; the tainted master must get none"
        lab.wait_pod("client", running, "client pod running on worker1")
        crictl = ["crictl", "--node", "worker1", "--state-dir", str(lab.state)]
        pod_id = next(line.split()[0] for line in lab.minik(*crictl, "pods").stdout.splitlines() if " client " in line)
        veth = json.loads(lab.minik(*crictl, "inspect", pod_id).stdout)["info"]["veth"]
        bridge_ports = subprocess.run(["ip", "netns", "exec", "minik-worker1", "ip", "-o", "link", "show", "master",
                                       "minik0"], capture_output=True, text=True).stdout
        assert veth and f" {veth}@" in bridge_ports, f"crictl inspect shows veth {veth!r}; minik0 ports: {bridge_ports}"
        service = lab.client.get(require("services"), "web", "default")
        cluster_ip, node_port = service["spec"]["clusterIP"], service["spec"]["ports"][0]["nodePort"]
        hostnames = {p["metadata"]["name"] for p in pods}
        on_worker2 = {p["metadata"]["name"] for p in pods if p["spec"]["nodeName"] == "worker2"}

        def hits(url: str) -> set[str]:
            script = f"for i in $(seq 1 30); do timeout 5 wget -qO- {url}; echo; done"
            out = lab.minictl("exec", "client", "--", "sh", "-c", script, timeout=120).stdout
            return set(re.findall(r"You've hit (\S+) \(v1\)", out))

        by_ip = hits(f"http://{cluster_ip}")
        assert by_ip <= hostnames and by_ip & on_worker2, f"ClusterIP from worker1 reached {by_ip}"
        by_name = hits("http://web.default.svc.cluster.local")
        assert by_name <= hostnames and len(by_name) >= 2, f"the DNS name reached {by_name}"
        for node_ip in ("10.79.0.11", "10.79.0.12"):
            answer = httpx.get(f"http://{node_ip}:{node_port}", timeout=5, trust_env=False)
            assert answer.status_code == 200 and "You've hit web-" in answer.text
    finally:
        lab.minictl("delete", "deployment/web", "service/web", "pod/client", "--wait=false", check=False)


def test_daemonset_runs_one_pod_per_worker_only(lab: LabCluster) -> None:
    apply(lab, """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-agent}
spec:
  selector: {matchLabels: {app: node-agent}}
  template:
    metadata: {labels: {app: node-agent}}
    spec:
      containers: [{name: agent, image: busybox, command: [sleep, "3600"]}]
""")
    try:
        pods = wait_ready_pods(lab, "app=node-agent", 2)
        assert sorted(p["spec"]["nodeName"] for p in pods) == ["worker1", "worker2"]
    finally:
        lab.minictl("delete", "daemonset/node-agent", "--wait=false", check=False)


def test_cpu_request_too_big_stays_pending_with_the_kubernetes_message(lab: LabCluster) -> None:
    lab.minictl("apply", "-f", str(MANIFESTS / "cpu-request-limit.yaml"))
    try:
        lab.wait_pod("cpu-demo", running, "cpu-demo runs", namespace="cpu-example")
        expected = ("0/3 nodes are available: 1 node(s) had untolerated taint "
                    "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.")

        def failed_scheduling() -> bool:
            events = lab.events_for("cpu-demo-2", "cpu-example")
            return any(e.get("reason") == "FailedScheduling" and expected in e.get("message", "") for e in events)

        wait_for(failed_scheduling, timeout=30, interval=0.5, message=f"FailedScheduling: {expected}")
        pod = lab.pod("cpu-demo-2", "cpu-example")
        assert pod is not None and pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")
        assert expected in lab.minictl("describe", "pod", "cpu-demo-2", "-n", "cpu-example").stdout
    finally:
        lab.minictl("delete", "namespace", "cpu-example", "--wait=false", check=False)


def test_node_selector_waits_for_the_label(lab: LabCluster) -> None:
    lab.minictl("apply", "-f", str(MANIFESTS / "nodeselector-pod.yaml"))
    try:
        wait_for(lambda: lab.events_for("nodeselector-pod"), timeout=30, message="a FailedScheduling event")
        pod = lab.pod("nodeselector-pod")
        assert pod is not None and not pod["spec"].get("nodeName")
        lab.minictl("label", "nodes", "worker1", "disk=ssd")
        placed = lab.wait_pod("nodeselector-pod", running, "nodeselector-pod runs once worker1 has disk=ssd")
        assert placed["spec"]["nodeName"] == "worker1"
    finally:
        lab.minictl("label", "node", "worker1", "disk-", check=False)
        lab.minictl("delete", "pod", "nodeselector-pod", "--wait=false", check=False)
    assert "disk" not in lab.client.get(NODES, "worker1")["metadata"]["labels"]


def test_memory_limit_pod_is_oom_killed(lab: LabCluster) -> None:
    lab.minictl("apply", "-f", str(MANIFESTS / "memory-request-limit.yaml"))
    try:
        def oom_killed(pod: dict) -> bool:
            for status in pod["status"].get("containerStatuses") or []:
                for state in (status.get("state") or {}, status.get("lastState") or {}):
                    if (state.get("terminated") or {}).get("reason") == "OOMKilled":
                        return True
            return False

        pod = lab.wait_pod("memory-demo-2", oom_killed, "OOMKilled in the container status", namespace="mem-example")
        assert pod["spec"]["nodeName"] in WORKERS
    finally:
        lab.minictl("delete", "namespace", "mem-example", "--wait=false", check=False)


class ServiceLoop:
    """Requests the Service's ClusterIP from the host in a loop and counts answers and failures."""

    def __init__(self, url: str) -> None:
        self.url, self.answers, self.failures = url, [], []  # type: ignore[var-annotated]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self) -> None:
        with httpx.Client(timeout=5, trust_env=False) as http:
            while not self.stop.is_set():
                try:
                    response = http.get(self.url, headers={"Connection": "close"})
                    self.answers.append(response.text) if response.status_code == 200 else self.failures.append(
                        f"HTTP {response.status_code}")
                except httpx.HTTPError as error:
                    self.failures.append(repr(error))

    def __enter__(self) -> ServiceLoop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def test_rolling_update_and_undo_without_failed_requests(lab: LabCluster) -> None:
    # a cpu request, as a real rollout would have: a BestEffort pod gets cpu.shares 2 and can stall for
    # seconds behind the node's own busy processes on this 2-core machine
    probe = """        resources:
          requests: {cpu: 100m}
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
        lifecycle:
          preStop:
            exec: {command: [sleep, "3"]}"""
    apply(lab, deployment("rollme", 3, container_extra=probe) + """
---
apiVersion: v1
kind: Service
metadata: {name: rollme}
spec:
  selector: {app: rollme}
  ports: [{port: 80, targetPort: 8080}]
""")
    try:
        wait_ready_pods(lab, "app=rollme", 3)
        cluster_ip = lab.client.get(require("services"), "rollme", "default")["spec"]["clusterIP"]
        wait_for(lambda: httpx.get(f"http://{cluster_ip}", timeout=3, trust_env=False).status_code == 200,
                 timeout=30, message="the Service answers")
        with ServiceLoop(f"http://{cluster_ip}") as loop:
            lab.minictl("set", "image", "deployment/rollme", "app=minik/app:v2")
            lab.minictl("rollout", "status", "deployment/rollme", "--timeout=180s", timeout=200)
            # old pods leave the endpoints as they terminate: at the end, only v2 answers
            wait_for(lambda: len(loop.answers) > 20 and all("(v2)" in a for a in loop.answers[-20:]),
                     timeout=60, interval=0.2, message="20 answers in a row from v2")
        assert loop.failures == [], f"{len(loop.failures)} failed requests during the rollout: {loop.failures[:5]}"
        assert any("(v1)" in answer for answer in loop.answers)

        lab.minictl("rollout", "undo", "deployment/rollme")
        lab.minictl("rollout", "status", "deployment/rollme", "--timeout=180s", timeout=200)
        image = lab.client.get(DEPLOYMENTS, "rollme", "default")["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image == "minik/app:v1"

        def ten_v1_answers() -> bool:
            return all("(v1)" in httpx.get(f"http://{cluster_ip}", timeout=5, trust_env=False).text
                       for _ in range(10))

        wait_for(ten_v1_answers, timeout=60, interval=0.5, message="10 answers in a row from v1 after the undo")
    finally:
        lab.minictl("delete", "deployment/rollme", "service/rollme", "--wait=false", check=False)


def test_node_failure_moves_pods_and_the_node_comes_back(lab: LabCluster) -> None:
    tolerations = """      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}"""
    apply(lab, deployment("survivor", 4, extra_spec=tolerations))
    try:
        pods = wait_ready_pods(lab, "app=survivor", 4)
        assert "worker1" in {p["spec"]["nodeName"] for p in pods}
        lab.minik("node", "stop", "worker1", "--state-dir", str(lab.state))
        wait_for(lambda: node_ready(lab.client.get(NODES, "worker1")) != "True", timeout=120, interval=1,
                 message="worker1 NotReady after its power cut")

        def replaced() -> bool:
            current = lab.pods(selector="app=survivor")
            return len(current) == 4 and all(running(p) and p["spec"]["nodeName"] == "worker2" for p in current)

        wait_for(replaced, timeout=120, interval=1, message="4 survivor pods running on worker2")
        assert "worker1" in lab.minictl("get", "nodes").stdout
        lab.minik("node", "start", "worker1", "--state-dir", str(lab.state))
        wait_for(lambda: node_ready(lab.client.get(NODES, "worker1")) == "True", timeout=120, interval=1,
                 message="worker1 Ready again")
    finally:
        lab.minictl("delete", "deployment/survivor", "--wait=false", check=False)


def test_down_leaves_the_host_clean(lab: LabCluster) -> None:
    state = str(lab.state)
    result = lab.down()
    assert result.returncode == 0, result.stdout + result.stderr
    assert not lab.state.exists()
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "minik-worker" not in netns, netns
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    ours = re.findall(r"^\d+: (minik-lab|minik-worker\d+|minik0|minikv\w+)[@:]", links, re.M)
    assert ours == [], f"links left behind: {ours}"
    chains = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    assert "MINIK" not in chains, chains
    routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    assert "10.244." not in routes and "10.79.0." not in routes, routes
    mounts = Path("/proc/self/mounts").read_text()
    assert state not in mounts
    node_cgroups = {"minik-master", "minik-worker1", "minik-worker2"}
    for hierarchy in [p for p in Path("/sys/fs/cgroup").iterdir() if p.is_dir()] + [Path("/sys/fs/cgroup")]:
        left = node_cgroups & {p.name for p in hierarchy.iterdir() if p.is_dir()}
        assert not left, f"cgroups left in {hierarchy}: {left}"
    leftovers = subprocess.run(["pgrep", "-af", state], capture_output=True, text=True).stdout
    assert leftovers.strip() == "", leftovers
