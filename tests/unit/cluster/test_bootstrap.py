"""Bootstrap tokens, the CA hash and cluster-info: the pieces `minik token create` hands to `minik join`."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from minik.cluster.bootstrap import (
    cluster_config_map,
    cluster_info,
    join_command,
    parse_cluster_config,
    parse_cluster_info,
)
from minik.cluster.config import ClusterConfig
from minik.cluster.pki import ca_cert_hash, ensure_pki
from minik.cluster.tokens import (
    BOOTSTRAP_TOKEN_PATTERN,
    CredentialExistsError,
    bootstrap_file,
    create_bootstrap_token,
    delete_bootstrap_token,
    ensure_node_token,
    ensure_token_file,
    issue_node_token,
    list_bootstrap_tokens,
    parse_bootstrap_token,
    parse_tokens,
    parse_ttl,
    read_admin_token,
)


def test_created_token_has_kubeadms_format_and_its_own_row_and_expiry(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    admin = ensure_token_file(tokens)
    before = datetime.datetime.now(datetime.UTC)
    token = create_bootstrap_token(tokens, datetime.timedelta(hours=24), "for vm1")
    assert re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", token.token)
    assert parse_bootstrap_token(token.token) == (token.id, token.secret)
    row = next(r for r in parse_tokens(tokens.read_text()) if r.token == token.token)
    assert (row.user, row.uid, row.groups) == (f"system:bootstrap:{token.id}", f"minik-bootstrap-{token.id}",
                                               ("system:bootstrappers",))
    assert f'{token.token},system:bootstrap:{token.id},minik-bootstrap-{token.id},"system:bootstrappers"' \
        in tokens.read_text().splitlines()
    entry = json.loads(bootstrap_file(tokens).read_text())[token.id]
    expires = datetime.datetime.fromisoformat(entry["expiration"])
    assert datetime.timedelta(hours=23, minutes=59) < expires - before <= datetime.timedelta(hours=24, seconds=1)
    assert entry["description"] == "for vm1"
    assert read_admin_token(tokens) == admin  # the admin row survives
    assert [t.id for t in list_bootstrap_tokens(tokens)] == [token.id]
    assert not token.expired()


def test_parse_rejects_what_is_not_a_bootstrap_token() -> None:
    for bad in ("abcdef.0123456789abcde", "ABCDEF.0123456789abcdef", "abcdef0123456789abcdef", "", "a.b"):
        with pytest.raises(ValueError, match=re.escape(BOOTSTRAP_TOKEN_PATTERN)):
            parse_bootstrap_token(bad)


def test_ttl_is_a_go_duration_and_zero_means_forever() -> None:
    assert parse_ttl("24h") == datetime.timedelta(hours=24)
    assert parse_ttl("1h30m") == datetime.timedelta(minutes=90)
    assert parse_ttl("90s") == datetime.timedelta(seconds=90)
    assert parse_ttl("0") is None
    for bad in ("", "1d", "forever", "10"):
        with pytest.raises(ValueError, match="invalid duration"):
            parse_ttl(bad)


def test_expired_tokens_are_listed_as_expired_and_dropped_by_the_next_create(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    old = create_bootstrap_token(tokens, datetime.timedelta(hours=1))
    side = bootstrap_file(tokens)
    entries = json.loads(side.read_text())
    entries[old.id]["expiration"] = "2001-01-01T00:00:00Z"
    side.write_text(json.dumps(entries))
    assert [t.expired() for t in list_bootstrap_tokens(tokens)] == [True]
    forever = create_bootstrap_token(tokens, None)
    assert [(t.id, t.expiration) for t in list_bootstrap_tokens(tokens)] == [(forever.id, None)]
    assert old.token not in tokens.read_text() and old.id not in json.loads(side.read_text())


def test_a_token_without_a_recorded_expiry_counts_as_expired(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    token = create_bootstrap_token(tokens)
    bootstrap_file(tokens).write_text("{}")
    assert list_bootstrap_tokens(tokens)[0].expired()
    assert delete_bootstrap_token(tokens, token.id)
    assert list_bootstrap_tokens(tokens) == [] and not delete_bootstrap_token(tokens, token.id)


def test_one_credential_per_node_unless_rotated(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    first = issue_node_token(tokens, "vm1")
    with pytest.raises(CredentialExistsError):
        issue_node_token(tokens, "vm1")
    assert ensure_node_token(tokens, "vm1") == first
    rotated = issue_node_token(tokens, "vm1", rotate=True)
    rows = [r for r in parse_tokens(tokens.read_text()) if r.user == "system:node:vm1"]
    assert rotated != first and [r.token for r in rows] == [rotated]


def test_ca_hash_is_kubeadms_sha256_of_the_public_key_info(tmp_path: Path) -> None:
    pem = ensure_pki(tmp_path / "pki").ca_cert.read_bytes()
    digest = ca_cert_hash(pem)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    # the recipe kubeadm's documentation gives for computing --discovery-token-ca-cert-hash
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout"], input=pem, capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, capture_output=True,
                         check=True).stdout
    assert digest == "sha256:" + hashlib.sha256(der).hexdigest()
    assert ensure_pki(tmp_path / "pki").ca_cert.read_bytes() == pem  # a re-run keeps the CA, so the hash holds


def test_cluster_info_is_a_kubeconfig_with_server_and_ca_only(tmp_path: Path) -> None:
    pem = ensure_pki(tmp_path / "pki").ca_cert.read_bytes()
    obj = cluster_info("https://192.0.2.2:6443", pem)
    assert obj["metadata"] == {"name": "cluster-info", "namespace": "kube-public"}
    config = yaml.safe_load(obj["data"]["kubeconfig"])
    assert config["kind"] == "Config" and not config["users"] and not config["contexts"]
    [cluster] = config["clusters"]
    assert cluster["cluster"]["server"] == "https://192.0.2.2:6443"
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]) == pem
    assert parse_cluster_info(obj) == ("https://192.0.2.2:6443", pem)
    with pytest.raises(ValueError):
        parse_cluster_info({"data": {}})


def test_cluster_config_carries_what_node_components_need(tmp_path: Path) -> None:
    cfg = ClusterConfig(state_dir=tmp_path, port=7443, registry_port=5001, kubelet_port=10251,
                        pod_cidr="10.200.0.0/16", backend="vxlan")
    shared = parse_cluster_config(cluster_config_map(cfg))
    assert shared["port"] == 7443 and shared["registry_port"] == 5001 and shared["kubelet_port"] == 10251
    assert shared["pod_cidr"] == "10.200.0.0/16" and shared["backend"] == "vxlan"
    assert "state_dir" not in shared and "nodes" not in shared


def test_join_command_reads_like_kubeadms() -> None:
    line = join_command("https://192.0.2.2:6443", "abcdef.0123456789abcdef", "sha256:" + "0" * 64)
    assert line == ("minik join --server https://192.0.2.2:6443 --token abcdef.0123456789abcdef "
                    f"--ca-cert-hash sha256:{'0' * 64}")
