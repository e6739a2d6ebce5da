"""Label and field selectors and paging over HTTP."""

from __future__ import annotations

import httpx

from tests.integration.apiserver.objects import pod


def names(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return sorted(p["metadata"]["name"] for p in r.json()["items"])


def test_label_selector_grammar(http: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/pods"
    http.post(url, json=pod("prod-stable", {"app": "nodejs", "environment": "production", "release": "stable"}))
    http.post(url, json=pod("dev-beta", {"app": "nodejs", "environment": "develop", "release": "beta"}))
    http.post(url, json=pod("bare"))
    sel = lambda s: names(http.get(url, params={"labelSelector": s}))  # noqa: E731
    assert sel("environment=production,release=stable") == ["prod-stable"]
    assert sel("app==nodejs") == ["dev-beta", "prod-stable"]
    assert sel("environment!=production") == ["bare", "dev-beta"]  # missing key matches !=
    assert sel("environment in (develop, qa)") == ["dev-beta"]
    assert sel("release notin (stable)") == ["bare", "dev-beta"]  # and notin
    assert sel("app") == ["dev-beta", "prod-stable"]
    assert sel("!app") == ["bare"]
    r = http.get(url, params={"labelSelector": "app in (a"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"


def test_field_selectors(http: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/pods"
    http.post(url, json=pod("on-n1", nodeName="n1"))
    http.post(url, json=pod("pending"))
    assert names(http.get(url, params={"fieldSelector": "spec.nodeName=n1"})) == ["on-n1"]
    assert names(http.get(url, params={"fieldSelector": "spec.nodeName="})) == ["pending"]
    assert names(http.get(url, params={"fieldSelector": "metadata.name!=pending"})) == ["on-n1"]
    assert names(http.get(url, params={"fieldSelector": "status.phase=Pending"})) == ["on-n1", "pending"]
    assert names(http.get("/api/v1/pods", params={"fieldSelector": f"metadata.namespace={ns}"})) == \
        ["on-n1", "pending"]
    r = http.get(url, params={"fieldSelector": "spec.bogus=1"})
    assert r.status_code == 400


def test_limit_and_continue(http: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/pods"
    for i in range(7):
        http.post(url, json=pod(f"p{i}", {"even": str(i % 2 == 0).lower()}))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"limit": "3", **({"continue": token} if token else {})}
        body = http.get(url, params=params).json()
        seen += [p["metadata"]["name"] for p in body["items"]]
        pages += 1
        token = body["metadata"].get("continue")
        if not token:
            break
        assert body["metadata"]["remainingItemCount"] == 7 - len(seen)
    assert pages == 3 and seen == [f"p{i}" for i in range(7)]
    # a selector with paging still fills pages with matches
    body = http.get(url, params={"limit": "2", "labelSelector": "even=true"}).json()
    assert [p["metadata"]["name"] for p in body["items"]] == ["p0", "p2"]
    r = http.get(url, params={"limit": "2", "continue": "garbage"})
    assert r.status_code == 400
