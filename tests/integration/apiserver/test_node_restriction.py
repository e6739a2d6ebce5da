"""A kubelet's credential writes only its own Node and Lease, and the status of pods bound to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.apiserver.objects import APIClient, pod
from tests.util import wait_for


def test_node_credentials_are_restricted(apiserver_factory: Any, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('admintoken,system:admin,1,"system:masters"\n'
                      'node1token,system:node:minik-test-n1,2,"system:nodes"\n')
    srv = apiserver_factory("--token-auth-file", str(tokens))
    with APIClient(srv.url, "admintoken", str(srv.ca_file)) as admin, \
            APIClient(srv.url, "node1token", str(srv.ca_file)) as node:
        node_body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "minik-test-n1"}}
        assert node.post("/api/v1/nodes", json=node_body).status_code == 201
        other = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "minik-test-n2"}}
        r = node.post("/api/v1/nodes", json=other)
        assert r.status_code == 403 and r.json()["reason"] == "Forbidden"
        assert "may only modify its own Node" in r.json()["message"]

        merge = {"Content-Type": "application/merge-patch+json"}
        assert admin.post("/api/v1/namespaces/default/pods", json=pod("mine", nodeName="minik-test-n1")).status_code \
            == 201
        assert admin.post("/api/v1/namespaces/default/pods", json=pod("theirs", nodeName="elsewhere")).status_code \
            == 201
        mine = "/api/v1/namespaces/default/pods/mine"

        def status_patch(url: str) -> int:
            return node.patch(f"{url}/status", json={"status": {"phase": "Running"}}, headers=merge).status_code

        # the cache may lag the create by a moment; the restriction reads the cached copy
        wait_for(lambda: status_patch(mine) == 200, timeout=10, message="node updates its own pod's status")
        assert status_patch("/api/v1/namespaces/default/pods/theirs") == 403
        r = node.patch(mine, json={"metadata": {"labels": {"x": "y"}}}, headers=merge)
        assert r.status_code == 403  # spec and metadata belong to the user, not the kubelet
        assert node.get("/api/v1/namespaces/default/pods").status_code == 200  # reads are open
        assert node.delete("/api/v1/namespaces/default/pods/theirs").status_code == 403
        assert admin.delete("/api/v1/namespaces/default/pods/theirs").status_code == 200
