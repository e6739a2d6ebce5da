"""Built-in namespaces, and namespace deletion that empties then removes the namespace."""

from __future__ import annotations

import uuid

import httpx

from tests.integration.apiserver.objects import pod
from tests.util import wait_for


def test_builtin_namespaces(http: httpx.Client) -> None:
    names = {n["metadata"]["name"] for n in http.get("/api/v1/namespaces").json()["items"]}
    assert {"default", "kube-system", "kube-node-lease"} <= names
    assert http.get("/api/v1/namespaces/default").json()["status"]["phase"] == "Active"


def test_deleting_a_namespace_removes_its_contents(http: httpx.Client) -> None:
    name = f"gone-{uuid.uuid4().hex[:6]}"
    assert http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": name}}).status_code == 201
    http.post(f"/api/v1/namespaces/{name}/pods", json=pod("a"))
    r = http.delete(f"/api/v1/namespaces/{name}")
    assert r.status_code == 200
    assert r.json()["status"]["phase"] == "Terminating"
    r = http.post(f"/api/v1/namespaces/{name}/pods", json=pod("b"))
    assert r.status_code in (403, 404)
    wait_for(lambda: http.get(f"/api/v1/namespaces/{name}").status_code == 404, timeout=30,
             message="namespace removed")
    assert http.get(f"/api/v1/namespaces/{name}/pods/a").status_code == 404
