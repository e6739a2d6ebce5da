"""Unpaginated lists are served from the watch cache: as current as etcd, and the same objects."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.integration.apiserver.objects import pod


def _paged(http: httpx.Client, url: str, **params: str) -> list[dict[str, Any]]:
    """Every item through limit=1 pages: each page is an etcd range, never the cache."""
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        r = http.get(url, params={**params, "limit": "1", **({"continue": token} if token else {})})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        token = r.json()["metadata"].get("continue", "")
        if not token:
            return items


def test_list_right_after_a_write_includes_it(http: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/pods"
    for i in range(20):
        created = http.post(url, json=pod(f"p{i}"))
        assert created.status_code == 201
        # a write to another resource: etcd's revision moves past anything the pods' watch saw
        assert http.post(f"/api/v1/namespaces/{ns}/configmaps",
                         json={"metadata": {"name": f"cm{i}"}, "data": {}}).status_code == 201
        patched = http.patch(f"{url}/p{i}", json={"metadata": {"labels": {"seen": str(i)}}},
                             headers={"Content-Type": "application/merge-patch+json"})
        assert patched.status_code == 200
        listed = http.get(url)
        assert listed.status_code == 200
        body = listed.json()
        mine = {p["metadata"]["name"]: p for p in body["items"]}
        assert set(mine) == {f"p{j}" for j in range(i + 1)}
        assert mine[f"p{i}"] == patched.json()
        assert int(body["metadata"]["resourceVersion"]) >= int(patched.json()["metadata"]["resourceVersion"])
        if i % 5 == 4:
            assert http.delete(f"{url}/p{i}").status_code == 200
            assert f"p{i}" not in {p["metadata"]["name"] for p in http.get(url).json()["items"]}
            assert http.post(url, json=pod(f"p{i}")).status_code == 201


def test_cached_lists_match_etcd_lists(http: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/pods"
    for name, labels, spec in [("a-1", {"app": "web", "tier": "front"}, {"nodeName": "n1"}),
                               ("a", {"app": "web"}, {}),
                               ("b", {"app": "db"}, {"nodeName": "n2"}),
                               ("c", None, {})]:
        assert http.post(url, json=pod(name, labels, **spec)).status_code == 201
    # updates and a status write: the cache's copies must follow, never be changed in place
    assert http.patch(f"{url}/b", json={"metadata": {"annotations": {"x": "y"}}},
                      headers={"Content-Type": "application/merge-patch+json"}).status_code == 200
    assert http.patch(f"{url}/c/status", json={"status": {"phase": "Running"}},
                      headers={"Content-Type": "application/merge-patch+json"}).status_code == 200
    cases: list[dict[str, str]] = [{}, {"labelSelector": "app=web"}, {"labelSelector": "app!=web"},
                                   {"labelSelector": "tier"}, {"fieldSelector": "spec.nodeName=n2"},
                                   {"fieldSelector": "status.phase=Running"},
                                   {"labelSelector": "app", "fieldSelector": "spec.nodeName!=n1"}]
    for params in cases:
        cached = http.get(url, params=params)
        assert cached.status_code == 200, cached.text
        body = cached.json()
        assert body["kind"] == "PodList" and body["apiVersion"] == "v1"
        assert "continue" not in body["metadata"]
        assert body["items"] == _paged(http, url, **params), params
        # a limit larger than the result is one page too
        assert http.get(url, params={**params, "limit": "100"}).json()["items"] == body["items"]
        for item in body["items"]:
            assert item == http.get(f"{url}/{item['metadata']['name']}").json()
    # cluster-wide, narrowed to this namespace; in etcd's key order
    everywhere = http.get("/api/v1/pods", params={"fieldSelector": f"metadata.namespace={ns}"}).json()
    assert [p["metadata"]["name"] for p in everywhere["items"]] == ["a", "a-1", "b", "c"]
    assert everywhere["items"] == _paged(http, url)


def test_cached_list_bytes_parse_to_the_same_objects(http: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/pods"
    assert http.post(url, json=pod("quoted", {"q": "a-b"}, hostname="h")).status_code == 201
    raw = http.get(url)
    assert raw.headers["content-type"] == "application/json"
    body = json.loads(raw.content)
    assert [p["metadata"]["name"] for p in body["items"]] == ["quoted"]
    assert body["items"][0] == http.get(f"{url}/quoted").json()
    # the Table printer reads the same cached objects
    table = http.get(url, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert table["kind"] == "Table" and [r["cells"][0] for r in table["rows"]] == ["quoted"]
    assert int(table["metadata"]["resourceVersion"]) >= int(body["metadata"]["resourceVersion"])
