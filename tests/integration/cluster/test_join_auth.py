"""The apiserver side of `minik join`, against a real apiserver: what anonymous callers, bootstrap tokens
and the node credentials they obtain may and may not do."""

from __future__ import annotations

import datetime
import json
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from minik.cluster.bootstrap import cluster_config_map, cluster_info, parse_cluster_info
from minik.cluster.config import ClusterConfig
from minik.cluster.tokens import BootstrapToken, bootstrap_file, create_bootstrap_token, parse_tokens

CLUSTER_INFO = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
MINIK_CONFIG = "/api/v1/namespaces/kube-system/configmaps/minik-config"


def http(server: Any, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10.0, trust_env=False,
                        verify=ssl.create_default_context(cafile=server.ca_file))


def token_request(name: str) -> dict[str, Any]:
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {"name": name}}


def node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


@pytest.fixture
def server(apiserver_factory: Callable[..., Any]) -> Iterator[Any]:
    """A fresh apiserver whose cluster-info and minik-config were published by an admin."""
    srv = apiserver_factory()
    with http(srv, srv.token) as admin:
        for body in (cluster_info(srv.url, srv.ca_data),
                     cluster_config_map(ClusterConfig(state_dir=srv.workdir, registry_port=5123))):
            response = admin.post(f"/api/v1/namespaces/{body['metadata']['namespace']}/configmaps", json=body)
            assert response.status_code == 201, response.text
    yield srv


def bootstrap(srv: Any, ttl: datetime.timedelta | None = datetime.timedelta(hours=1)) -> BootstrapToken:
    return create_bootstrap_token(Path(srv.workdir) / "tokens.csv", ttl)


def test_anonymous_reads_cluster_info_and_nothing_else(server: Any) -> None:
    with http(server) as anonymous:
        response = anonymous.get(CLUSTER_INFO)
        assert response.status_code == 200, response.text
        assert parse_cluster_info(response.json()) == (server.url, server.ca_data)
        for path in (MINIK_CONFIG, "/api/v1/namespaces/kube-public/configmaps", "/api/v1/nodes",
                     "/api/v1/namespaces/default/pods", "/api/v1"):
            refused = anonymous.get(path)
            assert refused.status_code == 401, (path, refused.text)
            assert refused.json()["reason"] == "Unauthorized"
        assert anonymous.put(CLUSTER_INFO, json=cluster_info("https://evil:1", b"x")).status_code == 401
        assert anonymous.delete(CLUSTER_INFO).status_code == 401
    with http(server, "not-a-token") as stranger:  # a bad credential is refused even where none is needed
        assert stranger.get(CLUSTER_INFO).status_code == 401


def test_bootstrap_token_gets_exactly_one_node_credential_that_the_node_authorizer_restricts(server: Any) -> None:
    token = bootstrap(server)
    with http(server, token.token) as boot:
        assert boot.get(CLUSTER_INFO).status_code == 200
        settings = boot.get(MINIK_CONFIG)
        assert settings.status_code == 200 and json.loads(settings.json()["data"]["cluster.json"])["registry_port"] \
            == 5123
        for method, path in (("GET", "/api/v1/nodes"), ("GET", "/api/v1/namespaces/default/pods"),
                             ("GET", "/api/v1/namespaces/kube-system/configmaps"),
                             ("POST", "/api/v1/nodes")):
            refused = boot.request(method, path, json=node("x") if method == "POST" else None)
            assert refused.status_code == 403, (method, path, refused.text)
            assert refused.json()["reason"] == "Forbidden" and "bootstrap token" in refused.json()["message"]

        issued = boot.post("/api/v1/nodes/minik-test-vm-a/token", json=token_request("minik-test-vm-a"))
        assert issued.status_code == 201, issued.text
        assert issued.json()["kind"] == "TokenRequest"
        credential = issued.json()["status"]["token"]
        again = boot.post("/api/v1/nodes/minik-test-vm-a/token", json=token_request("minik-test-vm-a"))
        assert again.status_code == 409 and again.json()["reason"] == "AlreadyExists", again.text
        bad = boot.post("/api/v1/nodes/Not_A_Name/token")
        assert bad.status_code == 422 and bad.json()["reason"] == "Invalid", bad.text
        mismatch = boot.post("/api/v1/nodes/minik-test-vm-z/token", json=token_request("minik-test-vm-y"))
        assert mismatch.status_code == 400 and "does not match the name on the URL" in mismatch.json()["message"]
        garbled = boot.post("/api/v1/nodes/minik-test-vm-z/token", content=b"{not json",
                            headers={"Content-Type": "application/json"})
        assert garbled.status_code == 400 and garbled.json()["reason"] == "BadRequest"
        assert boot.get("/api/v1/nodes/minik-test-vm-a/token").status_code == 403  # authorization comes first

    rows = parse_tokens((Path(server.workdir) / "tokens.csv").read_text())
    mine = [row for row in rows if row.user == "system:node:minik-test-vm-a"]
    assert [(row.token, row.groups) for row in mine] == [(credential, ("system:nodes",))]
    assert not any(row.user.startswith("system:node:minik-test-vm-z") for row in rows)

    with http(server, credential) as kubelet:
        assert kubelet.post("/api/v1/nodes", json=node("minik-test-vm-a")).status_code == 201
        merge = {"Content-Type": "application/merge-patch+json"}
        patched = kubelet.patch("/api/v1/nodes/minik-test-vm-a", json={"metadata": {"labels": {"a": "b"}}},
                                headers=merge)
        assert patched.status_code == 200, patched.text
        other = kubelet.post("/api/v1/nodes", json=node("minik-test-vm-b"))
        assert other.status_code == 403 and "may only modify its own Node" in other.json()["message"]
        assert kubelet.post("/api/v1/nodes/minik-test-vm-c/token").status_code == 403  # nodes mint nothing
        assert kubelet.post("/api/v1/nodes/minik-test-vm-a/token").status_code == 403
    with http(server, server.token) as admin:
        assert admin.post("/api/v1/nodes", json=node("minik-test-vm-b")).status_code == 201
        assert admin.get("/api/v1/nodes/minik-test-vm-b/token").status_code == 405  # create-only
    with http(server, credential) as kubelet:
        touched = kubelet.patch("/api/v1/nodes/minik-test-vm-b", json={"metadata": {"labels": {"a": "b"}}},
                                headers={"Content-Type": "application/merge-patch+json"})
        assert touched.status_code == 403


def test_admin_reissues_a_node_credential_and_the_old_one_stops_working(server: Any) -> None:
    token = bootstrap(server)
    with http(server, token.token) as boot:
        old = boot.post("/api/v1/nodes/minik-test-vm-r/token").json()["status"]["token"]
    with http(server, server.token) as admin:
        rotated = admin.post("/api/v1/nodes/minik-test-vm-r/token")
        assert rotated.status_code == 201, rotated.text
        new = rotated.json()["status"]["token"]
    assert new != old
    with http(server, old) as stale, http(server, new) as fresh:
        assert stale.get("/api/v1/nodes").status_code == 401
        assert fresh.get("/api/v1/nodes").status_code == 200


def test_expired_unknown_and_unrecorded_bootstrap_tokens_are_unauthorized(server: Any) -> None:
    expired = bootstrap(server)
    side = bootstrap_file(Path(server.workdir) / "tokens.csv")
    entries = json.loads(side.read_text())
    entries[expired.id]["expiration"] = "2001-01-01T00:00:00Z"
    side.write_text(json.dumps(entries))
    unrecorded = bootstrap(server)
    entries = json.loads(side.read_text())
    del entries[unrecorded.id]
    side.write_text(json.dumps(entries))
    forever = bootstrap(server, ttl=None)
    for dead in (expired.token, unrecorded.token, "abcdef.0123456789abcdef"):
        with http(server, dead) as client:
            for response in (client.get(MINIK_CONFIG), client.post("/api/v1/nodes/minik-test-vm-x/token")):
                assert response.status_code == 401, (dead, response.text)
                assert response.json()["reason"] == "Unauthorized"
    with http(server, forever.token) as client:
        assert client.get(MINIK_CONFIG).status_code == 200
