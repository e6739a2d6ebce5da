"""The scheduler against the real apiserver and etcd: what a user sees with kubectl get/describe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from schedcluster import PODS, Cluster
from util import wait_for

NOT_HELPFUL = "Preemption is not helpful for scheduling"


def test_pod_that_fits_is_bound_with_scheduled_event(cluster: Cluster) -> None:
    n1 = cluster.add_node("n1", cpu="2")
    n2 = cluster.add_node("n2", cpu="2")
    cluster.create_pod("app", cpu="500m", memory="64Mi")
    node = cluster.wait_scheduled("app")
    assert node in (n1, n2)
    condition = cluster.scheduled_condition("app")
    assert condition is not None and condition["status"] == "True"
    events = wait_for(lambda: cluster.events("app", "Scheduled"), message="Scheduled event")
    assert [(e["type"], e["message"]) for e in events] == [
        ("Normal", f"Successfully assigned {cluster.ns}/app to {node}")]
    assert not cluster.events("app", "FailedScheduling")


def test_request_too_big_stays_pending_until_a_node_grows(cluster: Cluster) -> None:
    cluster.add_node("n1", cpu="1")
    n2 = cluster.add_node("n2", cpu="1")
    cluster.create_pod("big", cpu="1500m")
    cluster.wait_unschedulable(
        "big", f"0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 {NOT_HELPFUL}.")
    assert cluster.node_of("big") == ""
    cluster.create_pod("small", cpu="1")
    assert cluster.wait_scheduled("small")
    # The kubelet reports more allocatable (say, after a resize): the pending pod fits now.
    cluster.set_allocatable(n2, cpu="4")
    assert cluster.wait_scheduled("big") == n2


def test_every_insufficient_resource_is_reported(cluster: Cluster) -> None:
    cluster.add_node("n1", cpu="1", memory="1Gi")
    cluster.create_pod("greedy", cpu="2", memory="2Gi")
    cluster.wait_unschedulable(
        "greedy", "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. "
                  f"preemption: 0/1 nodes are available: 1 {NOT_HELPFUL}.")


def test_too_many_pods(cluster: Cluster) -> None:
    n1 = cluster.add_node("n1", pods="1")
    cluster.create_pod("first")
    assert cluster.wait_scheduled("first") == n1
    cluster.create_pod("second")
    cluster.wait_unschedulable(
        "second", "0/1 nodes are available: 1 Too many pods. "
                  "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")


def test_node_selector_waits_for_label_then_schedules_without_restart(cluster: Cluster) -> None:
    n1 = cluster.add_node("n1")
    cluster.add_node("n2")
    cluster.create_pod("nodeselector", node_selector={"disk": "ssd"})
    cluster.wait_unschedulable(
        "nodeselector", "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. "
                        f"preemption: 0/2 nodes are available: 2 {NOT_HELPFUL}.")
    # `kubectl label nodes worker1 disk=ssd` is a merge patch of the labels.
    cluster.patch_node(n1, {"metadata": {"labels": {"disk": "ssd"}}})
    assert cluster.wait_scheduled("nodeselector", timeout=10) == n1


def test_a_new_node_takes_a_pending_pod(cluster: Cluster) -> None:
    cluster.add_node("old", labels={"pool": "old"})
    cluster.create_pod("waiting", node_selector={"pool": "new"})
    cluster.wait_unschedulable("waiting")
    new = cluster.add_node("new", labels={"pool": "new"})
    assert cluster.wait_scheduled("waiting", timeout=10) == new


def test_required_node_affinity_expressions(cluster: Cluster) -> None:
    cluster.add_node("small", labels={"cores": "2", "zone": "a"})
    big = cluster.add_node("big", labels={"cores": "16", "zone": "b"})
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["8"]},
                              {"key": "zone", "operator": "NotIn", "values": ["a"]}]}]}}}
    cluster.create_pod("wants-big", affinity=affinity)
    assert cluster.wait_scheduled("wants-big") == big


def test_taints_repel_pods_without_tolerations(cluster: Cluster) -> None:
    gpu = cluster.add_node("gpu", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    cluster.create_pod("plain")
    cluster.wait_unschedulable(
        "plain", "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}. "
                 f"preemption: 0/1 nodes are available: 1 {NOT_HELPFUL}.")
    cluster.create_pod("tolerant", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                                 "effect": "NoSchedule"}])
    assert cluster.wait_scheduled("tolerant") == gpu
    cluster.create_pod("tolerates-all", tolerations=[{"operator": "Exists"}])
    assert cluster.wait_scheduled("tolerates-all") == gpu
    # Removing the taint lets the plain pod in.
    cluster.patch_node(gpu, {"spec": {"taints": None}})
    assert cluster.wait_scheduled("plain") == gpu


def test_no_execute_taint_filters_and_prefer_no_schedule_does_not(cluster: Cluster) -> None:
    cluster.add_node("evicting", taints=[{"key": "maintenance", "effect": "NoExecute"}])
    preferred_against = cluster.add_node("soft", taints=[{"key": "spot", "value": "true",
                                                           "effect": "PreferNoSchedule"}])
    cluster.create_pod("app")
    assert cluster.wait_scheduled("app") == preferred_against


def test_cordoned_node_takes_no_pods_until_uncordoned(cluster: Cluster) -> None:
    n1 = cluster.add_node("n1", unschedulable=True)
    cluster.create_pod("app")
    cluster.wait_unschedulable(
        "app", f"0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: "
               f"1 {NOT_HELPFUL}.")
    cluster.create_pod("daemon", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                               "effect": "NoSchedule"}])
    assert cluster.wait_scheduled("daemon") == n1
    cluster.patch_node(n1, {"spec": {"unschedulable": False}})  # uncordon
    assert cluster.wait_scheduled("app") == n1


def test_course_message_in_condition_and_event_aggregated(cluster: Cluster) -> None:
    """cpu-request-limit.yaml's cpu-demo-2 on master + 2 workers, with today's wording."""
    cluster.add_node("master", cpu="2", taints=[{"key": "node-role.kubernetes.io/control-plane",
                                                  "effect": "NoSchedule"}])
    cluster.add_node("worker1", cpu="2")
    cluster.add_node("worker2", cpu="2")
    cluster.create_pod("cpu-demo-2", cpu="100")
    expected = ("0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
                f"2 Insufficient cpu. preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}.")
    condition = cluster.wait_unschedulable("cpu-demo-2", expected)
    events = wait_for(lambda: [e for e in cluster.events("cpu-demo-2", "FailedScheduling")
                               if e["message"] == expected], message="FailedScheduling event")
    assert events[0]["type"] == "Warning"
    assert events[0]["source"]["component"] == cluster.scheduler_name
    # A change to the pod (`kubectl label pod`) retries it: the same message is aggregated into the
    # same Event (count 2) and the unchanged condition is not written again.
    labeled = cluster.client.patch(PODS, "cpu-demo-2", {"metadata": {"labels": {"retry": "1"}}}, cluster.ns)
    wait_for(lambda: [e for e in cluster.events("cpu-demo-2", "FailedScheduling")
                      if e["message"] == expected and e.get("count") == 2], message="event count 2")
    assert cluster.pod("cpu-demo-2")["metadata"]["resourceVersion"] == labeled["metadata"]["resourceVersion"]
    assert len([e for e in cluster.events("cpu-demo-2", "FailedScheduling") if e["message"] == expected]) == 1
    assert cluster.scheduled_condition("cpu-demo-2") == condition


def test_deleting_a_bound_pod_makes_room(cluster: Cluster) -> None:
    n1 = cluster.add_node("n1", cpu="1")
    cluster.create_pod("first", cpu="1")
    assert cluster.wait_scheduled("first") == n1
    cluster.create_pod("second", cpu="1")
    cluster.wait_unschedulable("second")
    cluster.client.delete(PODS, "first", cluster.ns, grace_period_seconds=0)
    assert cluster.wait_scheduled("second") == n1


def test_no_double_booking_when_50_pods_race_for_10_slots(cluster: Cluster) -> None:
    nodes = [cluster.add_node(f"n{i}", cpu="1") for i in range(5)]  # 2 slots of 500m each
    names = [f"racer-{i}" for i in range(50)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda n: cluster.create_pod(n, cpu="500m"), names))

    def settled() -> list[dict[str, object]] | None:
        pods = [p for p in cluster.client.list(PODS, cluster.ns)["items"] if p["metadata"]["name"] in names]
        done = [p for p in pods if p["spec"].get("nodeName") or any(
            c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable"
            for c in (p.get("status") or {}).get("conditions") or [])]
        return pods if len(done) == len(names) else None

    pods = wait_for(settled, timeout=60, message="every racer bound or marked Unschedulable")
    bound = [p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName")]
    assert len(bound) == 10
    assert sorted(bound) == sorted(n for n in nodes for _ in range(2))  # exactly two per node


def test_replicas_of_one_owner_spread_across_nodes(cluster: Cluster) -> None:
    nodes = {cluster.add_node(f"n{i}") for i in range(3)}
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": f"{cluster.ns}-web-uid",
             "controller": True}
    for i in range(3):
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"web-{i}", "namespace": cluster.ns, "ownerReferences": [owner]},
                "spec": {"schedulerName": cluster.scheduler_name,
                         "containers": [{"name": "app", "image": "minik/app:v1"}]}}
        cluster.client.create(PODS, body, cluster.ns)
        cluster.wait_scheduled(f"web-{i}")  # one at a time: each sees the previous one placed
    assert {cluster.node_of(f"web-{i}") for i in range(3)} == nodes
