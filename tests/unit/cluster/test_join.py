"""`minik join` refuses, clearly and before touching anything, a cluster it cannot trust or use."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from minik.client import rest
from minik.cluster import join
from minik.cluster.bootstrap import cluster_config_map, cluster_info
from minik.cluster.config import ClusterConfig
from minik.cluster.pki import ca_cert_hash, ensure_pki

SERVER = "https://192.0.2.2:6443"
TOKEN = "abcdef.0123456789abcdef"

Handler = Callable[[httpx.Request], httpx.Response]


def status(code: int, reason: str, message: str) -> httpx.Response:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code,
            "message": message}
    return httpx.Response(code, json=body)


def fake_apiserver(ca_pem: bytes, seen: list[tuple[str, str, str | None]], token_ok: bool = True) -> Handler:
    """cluster-info for anyone, the rest only with the bootstrap token; records every request."""

    def handle(request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("authorization")
        seen.append((request.method, request.url.path, auth))
        if request.url.path.endswith("/kube-public/configmaps/cluster-info"):
            return httpx.Response(200, json=cluster_info(SERVER, ca_pem))
        if auth != f"Bearer {TOKEN}" or not token_ok:
            return status(401, "Unauthorized", "Unauthorized")
        if request.url.path.endswith("/kube-system/configmaps/minik-config"):
            return httpx.Response(200, json=cluster_config_map(ClusterConfig(state_dir=Path("/x"))))
        return status(404, "NotFound", "not found")

    return handle


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Callable[[Handler], None]:
    """Route join's API clients to a handler instead of the network."""

    def install(handler: Handler) -> None:
        def client(*args: Any, **kwargs: Any) -> rest.Client:
            return rest.Client(*args, transport=httpx.MockTransport(handler), **kwargs)

        monkeypatch.setattr(join, "Client", client)

    return install


def run_join(state: Path, ca_hash: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = join.main(["--server", SERVER, "--token", TOKEN, "--ca-cert-hash", ca_hash, "--node-name", "vm1",
                      "--node-ip", "192.0.2.50", "--state-dir", str(state), "--no-service"])
    return code, capsys.readouterr().err


def test_a_ca_that_does_not_match_the_pinned_hash_stops_the_join_and_changes_nothing(
    tmp_path: Path, serve: Callable[[Handler], None], capsys: pytest.CaptureFixture[str]
) -> None:
    served = ensure_pki(tmp_path / "attacker").ca_cert.read_bytes()
    pinned = ca_cert_hash(ensure_pki(tmp_path / "real").ca_cert.read_bytes())
    seen: list[tuple[str, str, str | None]] = []
    serve(fake_apiserver(served, seen))
    state = tmp_path / "state"
    code, err = run_join(state, pinned, capsys)
    assert code == 1
    assert "cluster CA found in cluster-info ConfigMap is invalid" in err
    assert f'none of the public keys "{ca_cert_hash(served)}" are pinned' in err and pinned in err
    assert not state.exists()
    # only the anonymous discovery happened: the bootstrap token never went to the untrusted server
    assert seen == [("GET", "/api/v1/namespaces/kube-public/configmaps/cluster-info", None)]


def test_a_refused_bootstrap_token_says_so_and_changes_nothing(
    tmp_path: Path, serve: Callable[[Handler], None], capsys: pytest.CaptureFixture[str]
) -> None:
    ca_pem = ensure_pki(tmp_path / "pki").ca_cert.read_bytes()
    serve(fake_apiserver(ca_pem, [], token_ok=False))
    state = tmp_path / "state"
    code, err = run_join(state, ca_cert_hash(ca_pem), capsys)
    assert code == 1 and "bootstrap token was refused" in err and "minik token create" in err
    assert not state.exists()


def test_join_refuses_a_state_dir_that_holds_a_control_plane(tmp_path: Path) -> None:
    ClusterConfig(state_dir=tmp_path).save()
    with pytest.raises(join.JoinError, match="made by `minik up`"):
        join.check_state_dir(tmp_path, "vm1")
    ClusterConfig(state_dir=tmp_path, node_name="vm2", node_ip="192.0.2.3").save()
    with pytest.raises(join.JoinError, match="already joined as node vm2"):
        join.check_state_dir(tmp_path, "vm1")
    assert join.check_state_dir(tmp_path, "vm2") is not None


@pytest.mark.parametrize(("flag", "value", "words"), [
    ("--token", "not-a-token", "was not of the form"),
    ("--ca-cert-hash", "md5:abc", "sha256:<64 hex digits>"),
    ("--server", "http://192.0.2.2:6443", "not an https:// URL"),
    ("--node-name", "VM_1", "--node-name"),
])
def test_bad_flags_are_usage_errors(flag: str, value: str, words: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = {"--server": SERVER, "--token": TOKEN, "--ca-cert-hash": "sha256:" + "a" * 64, "--node-name": "vm1"}
    argv[flag] = value
    with pytest.raises(SystemExit) as exit_info:
        join.parse_args([item for pair in argv.items() for item in pair])
    assert exit_info.value.code == 2 and words in capsys.readouterr().err


def test_the_saved_config_of_a_joined_machine_has_no_control_plane(tmp_path: Path) -> None:
    from minik.cluster.components import all_components
    from minik.cluster.nodes import cluster_nodes

    cfg = ClusterConfig(state_dir=tmp_path, control_plane_address="192.0.2.2", node_name="vm1",
                        node_ip="192.0.2.50", registry_port=5001)
    cfg.save()
    assert json.loads(cfg.saved_path.read_text())["node_name"] == "vm1"
    [node] = cluster_nodes(cfg)
    assert (node.name, node.ip, node.netns, node.control_plane) == ("vm1", "192.0.2.50", None, False)
    names = [c.name for c in all_components(cfg)]
    assert names == ["vm1/runtime", "vm1/network-agent", "vm1/kubelet", "vm1/proxy", "supervise"]
    assert cfg.registry == "192.0.2.2:5001" and cfg.node_server == "https://192.0.2.2:6443"
