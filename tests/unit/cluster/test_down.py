"""`minik down`, `status` and `logs` on what a half-dead or absent cluster leaves."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from minik.client.kubeconfig import merge_context
from minik.cluster import down, logs, status
from minik.cluster.components import all_components
from minik.cluster.config import MARKER_FILE, ClusterConfig
from minik.cluster.pki import ensure_pki
from minik.cluster.process import ComponentProcess, read_cmdline


@pytest.fixture(autouse=True)
def user_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home-kubeconfig"
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path


def test_down_without_a_cluster_is_a_no_op(tmp_path: Path) -> None:
    assert down.main(["--state-dir", str(tmp_path / "never-created")]) == 0


def test_down_refuses_to_delete_a_directory_minik_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("...")
    assert down.main(["--state-dir", str(precious)]) == 1
    assert (precious / "thesis.tex").exists()


def test_down_stops_a_component_and_removes_state_and_context(tmp_path: Path, user_kubeconfig: Path) -> None:
    state = tmp_path / "state"
    cfg = ClusterConfig(state_dir=state)
    state.mkdir()
    (state / MARKER_FILE).write_text("")
    ensure_pki(cfg.pki.directory)
    merge_context(user_kubeconfig, "minik", cfg.server, "t", cfg.pki.ca_cert.read_bytes())
    argv = [sys.executable, "-c", "import time; time.sleep(600)"]
    pid = ComponentProcess("apiserver", state).start(argv)
    assert down.main(["--state-dir", str(state)]) == 0
    assert read_cmdline(pid) != argv
    assert not state.exists()
    contexts = yaml.safe_load(user_kubeconfig.read_text()).get("contexts") or []
    assert "minik" not in {c["name"] for c in contexts}


def test_down_keeps_another_clusters_context(tmp_path: Path, user_kubeconfig: Path) -> None:
    other = ensure_pki(tmp_path / "other-pki")
    merge_context(user_kubeconfig, "minik", "https://127.0.0.1:6443", "t", other.ca_cert.read_bytes())
    state = tmp_path / "state"
    state.mkdir()
    (state / MARKER_FILE).write_text("")
    ensure_pki(state / "pki")
    assert down.main(["--state-dir", str(state), "--keep-state"]) == 0
    assert state.exists()
    contexts = yaml.safe_load(user_kubeconfig.read_text())["contexts"]
    assert [c["name"] for c in contexts] == ["minik"]


def test_status_reports_stopped_components(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert status.main(["--state-dir", str(tmp_path)]) == 3
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["COMPONENT", "STATE", "PID", "LOG"]
    states = {line.split()[0]: line.split()[1] for line in lines[1:]}
    expected = [c.name for c in all_components(ClusterConfig(state_dir=tmp_path))]
    assert states == dict.fromkeys(expected, "stopped")
    assert list(states)[:3] == ["etcd", "registry", "apiserver"]
    assert "master/kubelet" in states and list(states)[-1] == "supervise"


def test_logs_prints_the_component_log(tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    log = ComponentProcess("etcd", tmp_path).log_path
    log.parent.mkdir(parents=True)
    log.write_bytes(b"line one\nline two\n")
    assert logs.main(["etcd", "--state-dir", str(tmp_path)]) == 0
    assert capfdbinary.readouterr().out == b"line one\nline two\n"
    assert logs.main(["nope", "--state-dir", str(tmp_path)]) == 2
    assert logs.main(["apiserver", "--state-dir", str(tmp_path)]) == 1
