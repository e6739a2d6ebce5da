"""Bad input gets a Status error, changes nothing, and the server keeps serving."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from tests.integration.apiserver.objects import pod


def status(r: httpx.Response, code: int, reason: str) -> dict[str, Any]:
    assert r.status_code == code, r.text
    body: dict[str, Any] = r.json()
    assert body["kind"] == "Status" and body["reason"] == reason and body["code"] == code
    assert "Traceback" not in r.text
    return body


def test_malformed_bodies(http: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/pods"
    headers = {"Content-Type": "application/json"}
    status(http.post(url, content=b"{not json", headers=headers), 400, "BadRequest")
    status(http.post(url, content=b"[1, 2]", headers=headers), 400, "BadRequest")
    status(http.post(url, content=b"", headers=headers), 400, "BadRequest")
    status(http.post(url, json={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                                "spec": {"containers": "nope"}}), 400, "BadRequest")
    status(http.post(url, json={**pod("x"), "kind": "Service"}), 400, "BadRequest")
    status(http.post(url, content=b"x" * (4 * 1024 * 1024), headers=headers), 413, "RequestEntityTooLarge")
    assert http.get(url).json()["items"] == []
    assert http.get("/readyz").text == "ok"


def test_invalid_objects_report_field_causes(http: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/pods"
    body = pod("Bad_Name")
    body["spec"]["containers"][0]["image"] = ""
    body["spec"]["containers"][0]["ports"] = [{"containerPort": 70000}]
    err = status(http.post(url, json=body), 422, "Invalid")
    fields = {c["field"] for c in err["details"]["causes"]}
    assert {"metadata.name", "spec.containers[0].image", "spec.containers[0].ports[0].containerPort"} <= fields
    assert err["message"].startswith('Pod "Bad_Name" is invalid: ')
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"selector": {"matchLabels": {"app": "a"}},
                    "template": {"metadata": {"labels": {"app": "b"}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    err = status(http.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=dep), 422, "Invalid")
    assert any(c["field"] == "spec.template.metadata.labels" for c in err["details"]["causes"])
    assert http.get(url).json()["items"] == []


def test_unknown_paths_and_methods(http: httpx.Client) -> None:
    status(http.get("/api/v1/widgets"), 404, "NotFound")
    status(http.get("/apis/nope/v1/things"), 404, "NotFound")
    status(http.put("/api/v1/namespaces/default/pods", json={}), 405, "MethodNotAllowed")


def test_unknown_fields_survive_a_round_trip(http: httpx.Client, ns: str) -> None:
    body = pod("keep")
    body["spec"]["containers"][0]["futureField"] = {"a": [1, 2]}
    body["spec"]["someNewThing"] = True
    got = http.post(f"/api/v1/namespaces/{ns}/pods", json=body).json()
    assert got["spec"]["containers"][0]["futureField"] == {"a": [1, 2]}
    assert got["spec"]["someNewThing"] is True


def test_yaml_bodies(http: httpx.Client, ns: str) -> None:
    doc = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: y\nspec:\n  containers:\n  - name: c\n    image: busybox\n"
    r = http.post(f"/api/v1/namespaces/{ns}/pods", content=doc, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text


def test_authentication(apiserver: Any) -> None:
    with httpx.Client(base_url=apiserver.url, verify=ssl.create_default_context(cafile=apiserver.ca_file)) as anon:
        status(anon.get("/api/v1/pods"), 401, "Unauthorized")
        r = anon.get("/api/v1/pods", headers={"Authorization": "Bearer wrong"})
        status(r, 401, "Unauthorized")
        assert anon.get("/healthz").text == "ok"


def test_discovery(http: httpx.Client) -> None:
    assert http.get("/api").json()["versions"] == ["v1"]
    groups = {g["name"] for g in http.get("/apis").json()["groups"]}
    assert {"apps", "coordination.k8s.io"} <= groups
    core = {r["name"]: r for r in http.get("/api/v1").json()["resources"]}
    assert core["pods"]["shortNames"] == ["po"] and core["pods"]["namespaced"]
    assert "pods/binding" in core and "nodes/status" in core
    apps = {r["name"] for r in http.get("/apis/apps/v1").json()["resources"]}
    assert {"deployments", "deployments/scale", "replicasets", "daemonsets"} <= apps
    assert http.get("/version").json()["major"] == "1"


def test_protobuf_bodies_are_refused_clearly(http: httpx.Client, ns: str) -> None:
    r = http.post(f"/api/v1/namespaces/{ns}/pods", content=b"k8s\x00\x0a\x0b",
                  headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    status(r, 415, "UnsupportedMediaType")
