"""The `minik` launcher: version, dispatch, and a clear word for what is not there yet."""

from __future__ import annotations

import subprocess
import sys

import pytest

from minik import __version__, cli


def test_version_via_python_dash_m() -> None:
    result = subprocess.run([sys.executable, "-m", "minik", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.strip() == f"minik {__version__}"


def test_missing_component_module_is_reported_not_crashed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(cli.COMPONENTS, "scheduler", ("minik.scheduler.not_written_yet", "bind pods"))
    assert cli.main(["scheduler", "--kubeconfig", "x"]) == 2
    assert 'minik: component "scheduler" is not available yet' in capsys.readouterr().err


def test_missing_component_package_is_reported_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(cli.COMPONENTS, "proxy", ("minik.no_such_package.main", "services"))
    assert cli.main(["proxy"]) == 2
    assert 'component "proxy" is not available yet' in capsys.readouterr().err


def test_component_main_gets_the_remaining_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        seen.append(argv)
        return 7

    monkeypatch.setattr(cli, "load_main", lambda name: fake_main if name == "minik.kubelet.main" else None)
    assert cli.main(["kubelet", "--node-name", "worker1"]) == 7
    assert seen == [["--node-name", "worker1"]]


def test_unknown_command_and_no_command_show_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert 'unknown command "frobnicate"' in err and "usage: minik" in err
    assert cli.main([]) == 2
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("apiserver", "controller-manager", "up", "down", "status", "logs", "join"):
        assert command in out
