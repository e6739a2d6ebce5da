"""minictl's command line: kubectl-style flag errors, exit codes, and commands that need no server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from minik.ctl.main import main

KUBECONFIG = {
    "apiVersion": "v1", "kind": "Config", "current-context": "minik",
    "clusters": [{"name": "minik", "cluster": {"server": "https://127.0.0.1:1", "certificate-authority-data": "Zm9v"}}],
    "users": [{"name": "minik", "user": {"token": "secret"}}],
    "contexts": [{"name": "minik", "context": {"cluster": "minik", "user": "minik", "namespace": "cpu-example"}},
                 {"name": "other", "context": {"cluster": "minik", "user": "minik"}}],
}


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_flag_errors_are_pflags(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "get", "pods", "--foo") == (1, "", "error: unknown flag: --foo\nSee 'minictl get --help' "
                                                             "for usage.\n")
    assert run(capsys, "get", "pods", "-n")[2].startswith("error: flag needs an argument: 'n' in -n\n")
    assert run(capsys, "scale", "deploy", "x") == (1, "", 'error: required flag(s) "replicas" not set\n')
    assert run(capsys, "frobnicate")[0:2] == (1, "")


def test_unknown_resource_type(capsys: pytest.CaptureFixture[str], kubeconfig: Path) -> None:
    code, _, err = run(capsys, "--kubeconfig", str(kubeconfig), "get", "foo")
    assert (code, err) == (1, 'error: the server doesn\'t have a resource type "foo"\n')


def test_resource_name_forms_cannot_be_mixed(capsys: pytest.CaptureFixture[str], kubeconfig: Path) -> None:
    code, _, err = run(capsys, "get", "pod/app", "deploy", "--kubeconfig", str(kubeconfig))
    assert code == 1 and err.startswith("error: there is no need to specify a resource type as a separate argument")


def test_delete_needs_something_to_delete(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "delete")
    assert code == 1 and err.startswith("error: You must provide one or more resources by argument or filename.")


def test_connection_refused_message(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "get", "pods", "-s", "http://127.0.0.1:1", "--kubeconfig", str(tmp_path / "none"))
    assert (code, err) == (1, "error: stat " + str(tmp_path / "none") + ": no such file or directory\n")
    code, _, err = run(capsys, "get", "pods", "-s", "http://127.0.0.1:1")
    assert (code, err) == (1, "The connection to the server 127.0.0.1:1 was refused - did you specify the right "
                              "host or port?\n")


def test_config_view_redacts_and_get_contexts(capsys: pytest.CaptureFixture[str], kubeconfig: Path) -> None:
    code, out, _ = run(capsys, "config", "view", "--kubeconfig", str(kubeconfig))
    assert code == 0 and "token: REDACTED" in out and "certificate-authority-data: DATA+OMITTED" in out
    assert "token: secret" in run(capsys, "config", "view", "--raw", "--kubeconfig", str(kubeconfig))[1]
    code, out, _ = run(capsys, "config", "get-contexts", "--kubeconfig", str(kubeconfig))
    assert out == ("CURRENT   NAME    CLUSTER   AUTHINFO   NAMESPACE\n"
                   "*         minik   minik     minik      cpu-example\n"
                   "          other   minik     minik      \n")


def test_config_context_switching(capsys: pytest.CaptureFixture[str], kubeconfig: Path) -> None:
    k = ("--kubeconfig", str(kubeconfig))
    assert run(capsys, "config", "use-context", "other", *k) == (0, 'Switched to context "other".\n', "")
    assert run(capsys, "config", "current-context", *k) == (0, "other\n", "")
    assert run(capsys, "config", "set-context", "--current", "--namespace=mem-example", *k) == \
        (0, 'Context "other" modified.\n', "")
    assert run(capsys, "config", "use-context", "nope", *k) == \
        (1, "", 'error: no context exists with the name: "nope"\n')
    contexts = {c["name"]: c["context"] for c in yaml.safe_load(kubeconfig.read_text())["contexts"]}
    assert contexts["other"]["namespace"] == "mem-example"


def test_bool_flags_accept_values(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "get", "pods", "--show-labels=maybe")
    assert code == 1 and 'invalid argument "maybe" for "--show-labels" flag' in err


def test_run_builds_the_pod_kubectl_run_would(capsys: pytest.CaptureFixture[str], kubeconfig: Path) -> None:
    base = ("--kubeconfig", str(kubeconfig), "run")
    assert run(capsys, *base) == (1, "", 'error: required flag(s) "image" not set\n')
    assert run(capsys, *base, "--image", "busybox") == (1, "", "error: NAME is required for run\n")
    code, out, err = run(capsys, *base, "web", "--image", "busybox", "--dry-run", "-o", "yaml", "--env", "A=b=c",
                         "--port", "80", "-l", "app=web", "--restart", "OnFailure", "--command", "--", "sh", "-c", "x")
    assert (code, err) == (0, "")
    assert yaml.safe_load(out) == {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "busybox", "command": ["sh", "-c", "x"],
                                 "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "b=c"}],
                                 "resources": {}}],
                 "restartPolicy": "OnFailure", "dnsPolicy": "ClusterFirst"},
        "status": {}}
    code, out, _ = run(capsys, *base, "job", "--image", "busybox", "--dry-run=client", "-o", "yaml", "--", "echo", "hi")
    assert code == 0 and yaml.safe_load(out)["spec"]["containers"][0]["args"] == ["echo", "hi"]
    assert yaml.safe_load(out)["metadata"]["labels"] == {"run": "job"}
    assert run(capsys, *base, "web", "--image", "busybox", "--env", "A") == (1, "", "error: invalid env: A\n")
    assert run(capsys, *base, "web", "--image", "a b") == \
        (1, "", 'error: invalid image name "a b": invalid reference format\n')
