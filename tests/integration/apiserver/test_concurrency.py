"""Eight clients creating 200 pods at once: none lost, none duplicated."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.integration.apiserver.objects import pod


def test_parallel_creates(http: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/pods"

    def create(i: int) -> str:
        r = http.post(url, json=pod(f"load-{i}", {"batch": "x"}))
        assert r.status_code == 201, r.text
        return str(r.json()["metadata"]["uid"])

    with ThreadPoolExecutor(8) as pool:
        uids = list(pool.map(create, range(200)))
    assert len(set(uids)) == 200
    items = http.get(url, params={"labelSelector": "batch=x"}).json()["items"]
    assert sorted(p["metadata"]["name"] for p in items) == sorted(f"load-{i}" for i in range(200))
