"""`minik install-service`: one systemd unit per node component, running exactly `minik join`'s command."""

from __future__ import annotations

import configparser
import io
import shlex
from pathlib import Path

import pytest

from minik.cluster import service
from minik.cluster.components import node_components
from minik.cluster.config import ClusterConfig
from minik.cluster.nodes import NodeSpec


def joined(tmp_path: Path) -> ClusterConfig:
    cfg = ClusterConfig(state_dir=tmp_path / "state dir", control_plane_address="192.0.2.2", node_name="vm1",
                        node_ip="192.0.2.50", registry_port=5001, kubelet_port=10251)
    cfg.state_dir.mkdir()
    cfg.save()
    return cfg


def read_unit(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def parse_exec(line: str) -> list[str]:
    """What systemd runs for an ExecStart= value (quotes, then %% and $$ specifier escapes)."""
    return [arg.replace("%%", "%").replace("$$", "$") for arg in shlex.split(line)]


def test_units_run_exactly_the_node_components_commands(tmp_path: Path) -> None:
    cfg = joined(tmp_path)
    units = service.node_units(cfg)
    components = node_components(NodeSpec("vm1", "192.0.2.50", cfg.state_dir, netns=None, control_plane=False))
    assert list(units) == ["minik-runtime.service", "minik-network-agent.service", "minik-kubelet.service",
                           "minik-proxy.service"]
    for component, (name, text) in zip(components, units.items(), strict=True):
        unit = read_unit(text)
        assert parse_exec(unit["Service"]["ExecStart"]) == component.command(cfg), name
        assert unit["Service"]["Restart"] == "on-failure"
        assert unit["Service"]["RestartSec"] == "1s" and unit["Service"]["RestartMaxDelaySec"] == "60s"
        assert unit["Service"]["StandardOutput"] == f"append:{component.process(cfg).log_path}"
        assert unit["Install"]["WantedBy"] == "multi-user.target"
        assert str(cfg.state_dir) in text.splitlines()[0]  # how `minik down` recognises its units
    kubelet = read_unit(units["minik-kubelet.service"])["Unit"]
    assert kubelet["Requires"] == "minik-runtime.service" and "minik-runtime.service" in kubelet["After"].split()
    runtime = read_unit(units["minik-runtime.service"])
    assert "Requires" not in runtime["Unit"] and runtime["Service"]["KillMode"] == "process"


def test_exec_quoting_survives_spaces_quotes_and_specifiers() -> None:
    argv = ["/usr/bin/python3", "-m", "minik", "kubelet", "--root-dir", "/var/lib/minik state/x",
            'say "hi"', "100%", "$HOME", "back\\slash"]
    assert parse_exec(service.exec_line(argv)) == argv
    assert "%%" in service.exec_line(["100%"]) and "$$" in service.exec_line(["$HOME"])


def test_install_writes_the_units_and_says_how_to_start_them_without_systemd(tmp_path: Path) -> None:
    cfg = joined(tmp_path)
    units = tmp_path / "units"
    out = io.StringIO()
    names = service.install(cfg, units, out, start=False)
    assert sorted(p.name for p in units.iterdir()) == sorted(names)
    assert "systemctl daemon-reload && systemctl enable --now minik-runtime.service" in out.getvalue()
    assert [p.name for p in service.installed_units(cfg, units)] == sorted(names)
    other = ClusterConfig(state_dir=tmp_path / "other", node_name="vm2", node_ip="192.0.2.51")
    assert service.installed_units(other, units) == []  # another state dir's units are not ours
    assert service.uninstall(cfg, units, io.StringIO()) == sorted(names)
    assert list(units.iterdir()) == []


def test_install_service_needs_a_joined_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ClusterConfig(state_dir=tmp_path).save()
    assert service.main(["--state-dir", str(tmp_path), "--unit-dir", str(tmp_path / "u")]) == 1
    assert "run `minik join` first" in capsys.readouterr().err


def test_install_service_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = joined(tmp_path)
    monkeypatch.setattr(service, "SYSTEMD_RUNTIME_DIR", tmp_path / "no-systemd")
    assert service.main(["--state-dir", str(cfg.state_dir), "--unit-dir", str(tmp_path / "u")]) == 0
    assert (tmp_path / "u" / "minik-kubelet.service").exists()
