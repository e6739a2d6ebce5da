"""Deployment controller against the real apiserver: rolling update bounds, Recreate, pause/resume,
rollback, revision history clean-up, progress deadline, the labs' five nodejs deployments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from ctrltest import DEPLOY, PODS, RS, active, deployment, events_for, is_ready, wait_pods
from util import wait_for

from minik.client.rest import Client
from minik.controllers.deployment_util import REVISION_ANNOTATION

LABS = Path(__file__).resolve().parents[4] / "shared" / "labs"


def rolled_out(client: Client, ns: str, name: str) -> dict[str, Any] | None:
    d = client.get(DEPLOY, name, ns)
    s, want = d.get("status") or {}, d["spec"]["replicas"]
    done = (s.get("observedGeneration", 0) >= d["metadata"]["generation"] and s.get("updatedReplicas", 0) == want
            and s.get("replicas", 0) == want and s.get("availableReplicas", 0) == want)
    return d if done else None


def images(pods: list[dict[str, Any]]) -> list[str]:
    return sorted(p["spec"]["containers"][0]["image"] for p in pods)


def test_rolling_update_stays_within_max_surge_and_max_unavailable(client: Client, ns: str, cluster: Any,
                                                                  start_manager: Any) -> None:
    cluster.add_node("a")
    cluster.add_node("b")
    start_manager(["replicaset", "deployment", "garbagecollector"])
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
    client.create(DEPLOY, deployment("web", 4, strategy=strategy), ns)
    wait_for(lambda: rolled_out(client, ns, "web"), message="first rollout")
    listed = client.list(PODS, ns)
    pods = {p["metadata"]["name"]: p for p in listed["items"]}
    assert len(active(list(pods.values()))) == 4
    first_hash = next(iter(pods.values()))["metadata"]["labels"]["pod-template-hash"]

    seen_available, seen_total = [], []
    with client.watch(PODS, ns, resource_version=listed["metadata"]["resourceVersion"], timeout_seconds=60) as w:
        client.patch(DEPLOY, "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "minik/app:v2"}]}}}}, ns, patch_type="strategic")
        for event in w:
            name = event.object["metadata"]["name"]
            if event.type == "DELETED":
                pods.pop(name, None)
            else:
                pods[name] = event.object
            live = active(list(pods.values()))
            available, total = sum(1 for p in live if is_ready(p)), len(live)
            seen_available.append(available)
            seen_total.append(total)
            assert available >= 4 - 1, f"only {available} pods available during the rollout"
            assert total <= 4 + 1, f"{total} pods during the rollout"
            if images(live) == ["minik/app:v2"] * 4 and available == 4 and len(pods) == 4:
                break
    assert min(seen_available) == 3 and max(seen_total) == 5  # the rollout did use its allowance
    d = wait_for(lambda: rolled_out(client, ns, "web"), message="second rollout")
    assert d["metadata"]["annotations"][REVISION_ANNOTATION] == "2"
    conditions = {c["type"]: c for c in d["status"]["conditions"]}
    assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    rss = {rs["metadata"]["annotations"][REVISION_ANNOTATION]: rs for rs in client.list(RS, ns)["items"]}
    assert rss["1"]["spec"]["replicas"] == 0 and rss["2"]["spec"]["replicas"] == 4
    assert rss["1"]["metadata"]["name"] == f"web-{first_hash}"
    assert rss["2"]["metadata"]["name"] == "web-" + rss["2"]["spec"]["template"]["metadata"]["labels"][
        "pod-template-hash"]
    messages = [e["message"] for e in events_for(client, ns, "web")]
    assert f"Scaled up replica set web-{first_hash} to 4" in messages
    assert any(m.startswith(f"Scaled down replica set web-{first_hash} to ") and m.endswith(" from 4")
               for m in messages)


def test_labs_nodejs_deployments_each_keep_their_own_pod(client: Client, ns: str, cluster: Any,
                                                        start_manager: Any) -> None:
    cluster.add_node("a")
    start_manager(["replicaset", "deployment"])
    names = ["label-app01", "label-app02", "label-app03", "label-app04", "annotation-nodejs"]
    for name in names:
        path = LABS / ("annotation-nodejs.yaml" if name == "annotation-nodejs" else f"{name}.yaml")
        client.create(DEPLOY, yaml.safe_load(path.read_text()), ns)
    for name in names:
        wait_for(lambda name=name: rolled_out(client, ns, name), message=f"{name} rolled out")
    pods = wait_pods(client, ns, 5, ready=True)
    owners: dict[str, str] = {}
    for p in pods:
        assert "pod-template-hash" in p["metadata"]["labels"]
        rs = client.get(RS, p["metadata"]["ownerReferences"][0]["name"], ns)
        owners[rs["metadata"]["ownerReferences"][0]["name"]] = p["metadata"]["name"]
    assert sorted(owners) == sorted(names)
    selected = client.list(PODS, ns, label_selector="environment=production,release=stable")["items"]
    assert [p["metadata"]["name"] for p in selected] == [owners["label-app04"]]
    for name in names:
        d = client.get(DEPLOY, name, ns)
        assert d["status"]["replicas"] == 1 and d["status"]["availableReplicas"] == 1


def test_recreate_never_runs_old_and_new_pods_together(client: Client, ns: str, cluster: Any,
                                                       start_manager: Any) -> None:
    cluster.add_node("a")
    start_manager(["replicaset", "deployment"])
    client.create(DEPLOY, deployment("web", 3, strategy={"type": "Recreate"}), ns)
    wait_for(lambda: rolled_out(client, ns, "web"), message="first rollout")
    listed = client.list(PODS, ns)
    pods = {p["metadata"]["name"]: p for p in listed["items"]}
    with client.watch(PODS, ns, resource_version=listed["metadata"]["resourceVersion"], timeout_seconds=60) as w:
        client.patch(DEPLOY, "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "minik/app:v2"}]}}}}, ns, patch_type="strategic")
        for event in w:
            name = event.object["metadata"]["name"]
            if event.type == "DELETED":
                pods.pop(name, None)
            else:
                pods[name] = event.object
            # Recreate: a new pod exists only once every old pod is gone (terminating ones included)
            assert len(set(images(list(pods.values())))) <= 1, images(list(pods.values()))
            live = active(list(pods.values()))
            if images(live) == ["minik/app:v2"] * 3 and all(is_ready(p) for p in live) and len(pods) == 3:
                break
    wait_for(lambda: rolled_out(client, ns, "web"), message="second rollout")
