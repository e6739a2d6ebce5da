"""Create, read, update, delete over HTTP, with Kubernetes' status codes and Status bodies."""

from __future__ import annotations

import httpx

from tests.integration.apiserver.objects import pod


def test_create_get_list_delete(http: httpx.Client, ns: str) -> None:
    r = http.post(f"/api/v1/namespaces/{ns}/pods", json=pod("web", {"app": "web"}))
    assert r.status_code == 201, r.text
    created = r.json()
    meta = created["metadata"]
    assert meta["namespace"] == ns and meta["uid"] and int(meta["resourceVersion"]) > 0
    assert meta["creationTimestamp"].endswith("Z")
    assert created["status"]["phase"] == "Pending"
    # defaults a user sees in `get -o yaml`
    assert created["spec"]["restartPolicy"] == "Always"
    assert created["spec"]["terminationGracePeriodSeconds"] == 30
    assert created["spec"]["containers"][0]["imagePullPolicy"] == "Always"

    got = http.get(f"/api/v1/namespaces/{ns}/pods/web").json()
    assert got["metadata"]["uid"] == meta["uid"]

    listed = http.get(f"/api/v1/namespaces/{ns}/pods").json()
    assert listed["kind"] == "PodList"
    assert [p["metadata"]["name"] for p in listed["items"]] == ["web"]
    assert int(listed["metadata"]["resourceVersion"]) >= int(meta["resourceVersion"])

    r = http.delete(f"/api/v1/namespaces/{ns}/pods/web")
    assert r.status_code == 200
    # never scheduled: removed at once
    r = http.get(f"/api/v1/namespaces/{ns}/pods/web")
    assert r.status_code == 404
    body = r.json()
    assert body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'pods "web" not found'


def test_already_exists(http: httpx.Client, ns: str) -> None:
    assert http.post(f"/api/v1/namespaces/{ns}/pods", json=pod("dup")).status_code == 201
    r = http.post(f"/api/v1/namespaces/{ns}/pods", json=pod("dup"))
    assert r.status_code == 409
    assert r.json()["reason"] == "AlreadyExists"
    assert r.json()["message"] == 'pods "dup" already exists'


def test_generate_name(http: httpx.Client, ns: str) -> None:
    body = pod("")
    body["metadata"] = {"generateName": "worker-"}
    names = {http.post(f"/api/v1/namespaces/{ns}/pods", json=body).json()["metadata"]["name"] for _ in range(3)}
    assert len(names) == 3
    assert all(n.startswith("worker-") and len(n) == len("worker-") + 5 for n in names)


def test_update_conflict_on_stale_resource_version(http: httpx.Client, ns: str) -> None:
    created = http.post(f"/api/v1/namespaces/{ns}/pods", json=pod("c1")).json()
    first = dict(created, metadata={**created["metadata"], "labels": {"v": "1"}})
    r = http.put(f"/api/v1/namespaces/{ns}/pods/c1", json=first)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["labels"] == {"v": "1"}
    stale = dict(created, metadata={**created["metadata"], "labels": {"v": "2"}})
    r = http.put(f"/api/v1/namespaces/{ns}/pods/c1", json=stale)
    assert r.status_code == 409
    assert r.json()["reason"] == "Conflict"
    assert "the object has been modified" in r.json()["message"]
    assert http.get(f"/api/v1/namespaces/{ns}/pods/c1").json()["metadata"]["labels"] == {"v": "1"}


def test_generation_moves_with_spec_only(http: httpx.Client, ns: str) -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                    "template": {"metadata": {"labels": {"app": "d"}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    base = f"/apis/apps/v1/namespaces/{ns}/deployments/d"
    created = http.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=dep).json()
    assert created["metadata"]["generation"] == 1
    r = http.patch(base, json={"metadata": {"labels": {"x": "y"}}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["metadata"]["generation"] == 1
    r = http.patch(base, json={"spec": {"replicas": 3}}, headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["metadata"]["generation"] == 2
    assert r.json()["spec"]["replicas"] == 3


def test_status_subresource_split(http: httpx.Client, ns: str) -> None:
    http.post(f"/api/v1/namespaces/{ns}/pods", json=pod("s"))
    merge = {"Content-Type": "application/merge-patch+json"}
    # the main resource ignores status
    r = http.patch(f"/api/v1/namespaces/{ns}/pods/s", json={"status": {"phase": "Running"}}, headers=merge)
    assert r.json()["status"]["phase"] == "Pending"
    # the status subresource ignores spec
    r = http.patch(f"/api/v1/namespaces/{ns}/pods/s/status",
                   json={"status": {"phase": "Running"}, "spec": {"restartPolicy": "Never"}}, headers=merge)
    assert r.status_code == 200, r.text
    got = http.get(f"/api/v1/namespaces/{ns}/pods/s").json()
    assert got["status"]["phase"] == "Running"
    assert got["spec"]["restartPolicy"] == "Always"


def test_no_op_update_keeps_resource_version(http: httpx.Client, ns: str) -> None:
    created = http.post(f"/api/v1/namespaces/{ns}/pods", json=pod("same")).json()
    r = http.put(f"/api/v1/namespaces/{ns}/pods/same", json=created)
    assert r.json()["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_patch_kinds(http: httpx.Client, ns: str) -> None:
    http.post(f"/api/v1/namespaces/{ns}/pods",
              json=pod("p", containers=[{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}]))
    url = f"/api/v1/namespaces/{ns}/pods/p"
    r = http.patch(url, json={"spec": {"containers": [{"name": "b", "image": "busybox:1.36"}]}},
                   headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.status_code == 200, r.text
    images = {c["name"]: c["image"] for c in r.json()["spec"]["containers"]}
    assert images == {"a": "busybox", "b": "busybox:1.36"}
    r = http.patch(url, json=[{"op": "add", "path": "/metadata/labels", "value": {"k": "v"}}],
                   headers={"Content-Type": "application/json-patch+json"})
    assert r.json()["metadata"]["labels"] == {"k": "v"}
    r = http.patch(url, json={"metadata": {"labels": {"k": None}}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert "k" not in (r.json()["metadata"].get("labels") or {})
    r = http.patch(url, content=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"


def test_cluster_scoped_nodes_and_status(http: httpx.Client) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "itest-node-1", "labels": {"disk": "ssd"}},
            "spec": {"podCIDR": "10.244.7.0/24"}}
    r = http.post("/api/v1/nodes", json=node)
    assert r.status_code == 201, r.text
    try:
        assert "namespace" not in r.json()["metadata"]
        r = http.put("/api/v1/nodes/itest-node-1/status",
                     json={**r.json(), "status": {"capacity": {"cpu": "2"}, "conditions": [
                         {"type": "Ready", "status": "True"}]}})
        assert r.status_code == 200, r.text
        got = http.get("/api/v1/nodes/itest-node-1").json()
        assert got["status"]["capacity"] == {"cpu": "2"}
        listed = http.get("/api/v1/nodes", params={"labelSelector": "disk=ssd"}).json()
        assert "itest-node-1" in [n["metadata"]["name"] for n in listed["items"]]
    finally:
        http.delete("/api/v1/nodes/itest-node-1")


def test_binding_and_graceful_delete(http: httpx.Client, ns: str) -> None:
    http.post(f"/api/v1/namespaces/{ns}/pods", json=pod("b"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}
    r = http.post(f"/api/v1/namespaces/{ns}/pods/b/binding", json=binding)
    assert r.status_code == 201, r.text
    got = http.get(f"/api/v1/namespaces/{ns}/pods/b").json()
    assert got["spec"]["nodeName"] == "n1"
    assert {"type": "PodScheduled", "status": "True"}.items() <= got["status"]["conditions"][0].items()
    r = http.post(f"/api/v1/namespaces/{ns}/pods/b/binding", json=binding)
    assert r.status_code == 409 and "already assigned" in r.json()["message"]
    # scheduled pods terminate gracefully: still there, with a deletion timestamp
    r = http.delete(f"/api/v1/namespaces/{ns}/pods/b")
    assert r.status_code == 200
    got = http.get(f"/api/v1/namespaces/{ns}/pods/b").json()
    assert got["metadata"]["deletionTimestamp"] and got["metadata"]["deletionGracePeriodSeconds"] == 30
    # what the kubelet does once containers are gone
    r = http.request("DELETE", f"/api/v1/namespaces/{ns}/pods/b", json={"gracePeriodSeconds": 0})
    assert http.get(f"/api/v1/namespaces/{ns}/pods/b").status_code == 404


def test_scale_subresource(http: httpx.Client, ns: str) -> None:
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
          "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "r"}},
                   "template": {"metadata": {"labels": {"app": "r"}},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    http.post(f"/apis/apps/v1/namespaces/{ns}/replicasets", json=rs)
    url = f"/apis/apps/v1/namespaces/{ns}/replicasets/r/scale"
    got = http.get(url).json()
    assert got["kind"] == "Scale" and got["spec"]["replicas"] == 1 and got["status"]["selector"] == "app=r"
    r = http.patch(url, json={"spec": {"replicas": 4}}, headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 4
    assert http.get(f"/apis/apps/v1/namespaces/{ns}/replicasets/r").json()["spec"]["replicas"] == 4
    r = http.patch(url, json={"spec": {"replicas": -1}}, headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 422


def test_finalizers_hold_deletion(http: httpx.Client, ns: str) -> None:
    body = pod("f")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    http.post(f"/api/v1/namespaces/{ns}/pods", json=body)
    http.delete(f"/api/v1/namespaces/{ns}/pods/f")
    got = http.get(f"/api/v1/namespaces/{ns}/pods/f").json()
    assert got["metadata"]["deletionTimestamp"]
    r = http.patch(f"/api/v1/namespaces/{ns}/pods/f", json={"metadata": {"finalizers": None}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    assert http.get(f"/api/v1/namespaces/{ns}/pods/f").status_code == 404


def test_delete_collection_by_label(http: httpx.Client, ns: str) -> None:
    for i, tier in enumerate(["a", "a", "b"]):
        http.post(f"/api/v1/namespaces/{ns}/pods", json=pod(f"dc{i}", {"tier": tier}))
    r = http.delete(f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": "tier=a"})
    assert r.status_code == 200
    left = [p["metadata"]["name"] for p in http.get(f"/api/v1/namespaces/{ns}/pods").json()["items"]]
    assert left == ["dc2"]


def test_writes_into_missing_namespace_refused(http: httpx.Client) -> None:
    r = http.post("/api/v1/namespaces/does-not-exist/pods", json=pod("x"))
    assert r.status_code == 404
    assert r.json()["message"] == 'namespaces "does-not-exist" not found'


def test_list_larger_than_grpc_default_message_limit(http: httpx.Client, ns: str) -> None:
    """An unpaginated list over 4 MiB (gRPC's default receive limit) still answers, as kube-apiserver does."""
    blob = "x" * 900_000  # each object stays under etcd's 1.5 MiB request limit
    for i in range(6):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"big-{i}"}, "data": {"blob": blob}}
        assert http.post(f"/api/v1/namespaces/{ns}/configmaps", json=body).status_code == 201
    listed = http.get(f"/api/v1/namespaces/{ns}/configmaps")
    assert listed.status_code == 200, listed.text[:300]
    assert sorted(item["metadata"]["name"] for item in listed.json()["items"]) == [f"big-{i}" for i in range(6)]
