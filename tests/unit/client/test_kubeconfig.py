"""kubeconfig: loading a context like kubectl, and merging minik's context in like kind."""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from minik.client import kubeconfig
from minik.client.kubeconfig import ConfigError

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def write(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


def lab_config() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "preferences": {"colors": True},
        "clusters": [
            {"name": "lab-cluster", "cluster": {"server": "https://10.0.0.1:6443/",
                                                "certificate-authority-data": base64.b64encode(CA).decode()}},
            {"name": "other", "cluster": {"server": "https://other:443", "insecure-skip-tls-verify": True}},
        ],
        "users": [{"name": "admin", "user": {"token": "s3cret"}}, {"name": "nobody", "user": {}}],
        "contexts": [
            {"name": "lab", "context": {"cluster": "lab-cluster", "user": "admin", "namespace": "web"}},
            {"name": "other", "context": {"cluster": "other", "user": "nobody"}},
        ],
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_load_current_context(tmp_path: Path) -> None:
    cfg = kubeconfig.load(write(tmp_path / "config", lab_config()))
    assert cfg == kubeconfig.ClusterConfig(server="https://10.0.0.1:6443", token="s3cret", ca_data=CA,
                                           insecure_skip_tls_verify=False, namespace="web", context="lab",
                                           client_cert=None, client_key=None)


def test_load_named_context_defaults_namespace(tmp_path: Path) -> None:
    cfg = kubeconfig.load(write(tmp_path / "config", lab_config()), context="other")
    assert (cfg.server, cfg.token, cfg.ca_data, cfg.insecure_skip_tls_verify, cfg.namespace, cfg.context) == \
        ("https://other:443", None, None, True, "default", "other")


def test_load_unknown_context_is_kubectls_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        kubeconfig.load(write(tmp_path / "config", lab_config()), context="x")
    assert str(e.value) == 'no context exists with the name: "x"'


def test_load_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        kubeconfig.load(tmp_path / "nope")
    assert "no configuration has been provided" in str(e.value)
    assert str(tmp_path / "nope") in str(e.value)


def test_load_without_current_context(tmp_path: Path) -> None:
    raw = lab_config()
    raw["current-context"] = ""
    with pytest.raises(ConfigError, match="current-context is not set"):
        kubeconfig.load(write(tmp_path / "config", raw))


def test_load_cluster_without_server(tmp_path: Path) -> None:
    raw = lab_config()
    raw["clusters"][0]["cluster"] = {}
    with pytest.raises(ConfigError, match='cluster "lab-cluster" has no server defined'):
        kubeconfig.load(write(tmp_path / "config", raw))


def test_load_bad_yaml_and_bad_base64(tmp_path: Path) -> None:
    (tmp_path / "bad").write_text("clusters: [unclosed\n")
    with pytest.raises(ConfigError, match="error loading config file"):
        kubeconfig.load(tmp_path / "bad")
    raw = lab_config()
    raw["clusters"][0]["cluster"]["certificate-authority-data"] = "not base64!"
    with pytest.raises(ConfigError, match="not valid base64"):
        kubeconfig.load(write(tmp_path / "config", raw))


def test_relative_file_references_resolve_against_the_config_dir(tmp_path: Path) -> None:
    d = tmp_path / "kube"
    d.mkdir()
    (d / "ca.crt").write_bytes(CA)
    (d / "token").write_text("from-file\n")
    (d / "client.crt").write_bytes(b"CERT")
    (d / "client.key").write_bytes(b"KEY")
    raw = lab_config()
    raw["clusters"][0]["cluster"] = {"server": "https://s:6443", "certificate-authority": "ca.crt"}
    raw["users"][0]["user"] = {"token": "inline", "tokenFile": "token",
                               "client-certificate": "client.crt", "client-key": str(d / "client.key")}
    cfg = kubeconfig.load(write(d / "config", raw))
    assert (cfg.ca_data, cfg.token, cfg.client_cert, cfg.client_key) == (CA, "from-file", b"CERT", b"KEY")


def test_missing_referenced_file_is_a_clear_error(tmp_path: Path) -> None:
    raw = lab_config()
    raw["clusters"][0]["cluster"] = {"server": "https://s:6443", "certificate-authority": "missing.crt"}
    with pytest.raises(ConfigError, match="unable to read certificate-authority .*missing.crt"):
        kubeconfig.load(write(tmp_path / "config", raw))


def test_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path}/first:{tmp_path}/second")
    assert kubeconfig.default_path() == tmp_path / "first"
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert kubeconfig.default_path() == tmp_path / ".kube" / "config"


def test_merge_context_creates_the_file_0600_with_its_parent(tmp_path: Path) -> None:
    path = tmp_path / "new" / ".kube" / "config"
    kubeconfig.merge_context(path, "minik", "https://127.0.0.1:6443", "tok", CA, namespace="lab")
    assert mode(path) == 0o600
    cfg = kubeconfig.load(path)
    assert (cfg.server, cfg.token, cfg.ca_data, cfg.namespace, cfg.context) == \
        ("https://127.0.0.1:6443", "tok", CA, "lab", "minik")
    assert list(path.parent.iterdir()) == [path]  # no temp or lock files left behind


def test_merge_context_keeps_other_entries_and_replaces_its_own(tmp_path: Path) -> None:
    path = write(tmp_path / "config", lab_config())
    path.chmod(0o644)
    kubeconfig.merge_context(path, "minik", "https://a:6443", "t1", None, set_current=False)
    kubeconfig.merge_context(path, "minik", "https://b:6443", "t2", CA)
    raw = kubeconfig.read_raw(path)
    assert [c["name"] for c in raw["clusters"]] == ["lab-cluster", "other", "minik"]
    assert [u["name"] for u in raw["users"]] == ["admin", "nobody", "minik"]
    assert [c["name"] for c in raw["contexts"]] == ["lab", "other", "minik"]
    assert raw["preferences"] == {"colors": True}
    assert raw["current-context"] == "minik"
    assert mode(path) == 0o600
    assert kubeconfig.load(path).server == "https://b:6443"
    assert kubeconfig.load(path, "lab") == kubeconfig.load(write(tmp_path / "orig", lab_config()))


def test_merge_without_set_current_keeps_current_context(tmp_path: Path) -> None:
    path = write(tmp_path / "config", lab_config())
    kubeconfig.merge_context(path, "minik", "https://a:6443", None, None, set_current=False)
    assert kubeconfig.read_raw(path)["current-context"] == "lab"
    assert kubeconfig.load(path, "minik").token is None


def test_remove_context(tmp_path: Path) -> None:
    path = write(tmp_path / "config", lab_config())
    kubeconfig.merge_context(path, "minik", "https://a:6443", "t", CA)
    kubeconfig.remove_context(path, "minik")
    raw = kubeconfig.read_raw(path)
    assert raw == {**lab_config(), "current-context": ""}
    kubeconfig.remove_context(path, "minik")  # idempotent
    kubeconfig.remove_context(tmp_path / "absent", "minik")
    assert not (tmp_path / "absent").exists()


def test_set_current_context_and_namespace(tmp_path: Path) -> None:
    path = write(tmp_path / "config", lab_config())
    kubeconfig.set_current_context(path, "other")
    kubeconfig.set_context_namespace(path, "other", "kube-system")
    cfg = kubeconfig.load(path)
    assert (cfg.context, cfg.namespace) == ("other", "kube-system")
    with pytest.raises(ConfigError, match='no context exists with the name: "x"'):
        kubeconfig.set_current_context(path, "x")
    with pytest.raises(ConfigError, match='no context exists with the name: "x"'):
        kubeconfig.set_context_namespace(path, "x", "ns")
    assert kubeconfig.load(path).context == "other"  # failed calls changed nothing
    missing = tmp_path / "nodir" / "config"
    with pytest.raises(ConfigError, match='no context exists with the name: "x"'):
        kubeconfig.set_current_context(missing, "x")
    assert not missing.parent.exists()


def test_write_raw_is_0600_even_over_a_world_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("{}")
    path.chmod(0o644)
    kubeconfig.write_raw(path, {"apiVersion": "v1", "kind": "Config"})
    assert mode(path) == 0o600
    assert kubeconfig.read_raw(path)["kind"] == "Config"


def test_read_raw_of_missing_or_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    assert kubeconfig.read_raw(tmp_path / "none")["contexts"] == []
    (tmp_path / "empty").write_text("")
    assert kubeconfig.read_raw(tmp_path / "empty")["clusters"] == []
