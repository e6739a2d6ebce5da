"""minictl taint, cordon, uncordon and drain against a real apiserver, checked against real kubectl."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

KUBECTL = Path(sys.executable).parent / "kubectl"
REPO = Path(__file__).resolve().parents[2]

Run = Callable[..., subprocess.CompletedProcess[str]]


def _runner(argv0: list[str], kubeconfig: Path) -> Run:
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), PYTHONPATH=str(REPO))

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*argv0, *args], input=stdin, capture_output=True, text=True, env=env,
                              timeout=120, check=False)

    return run


@pytest.fixture
def minictl(apiserver: Any) -> Run:
    return _runner([sys.executable, "-m", "minik.ctl.main"], apiserver.kubeconfig)


@pytest.fixture
def kubectl(apiserver: Any) -> Run:
    return _runner([str(KUBECTL)], apiserver.kubeconfig)


@pytest.fixture
def node(minictl: Run) -> Iterator[str]:
    name = f"minik-test-node-{uuid.uuid4().hex[:6]}"
    r = minictl("apply", "-f", "-", stdin=f'{{"apiVersion": "v1", "kind": "Node", "metadata": {{"name": "{name}"}}}}')
    assert r.returncode == 0, r.stderr
    yield name
    minictl("delete", "node", name, "--wait=false")


def taints(run: Run, node: str) -> str:
    return run("get", "node", node, "-o", "jsonpath={range .spec.taints[*]}{.key}={.value}:{.effect} {end}").stdout


@pytest.mark.parametrize("tool", ["minictl", "kubectl"])
def test_taint_add_overwrite_remove(request: pytest.FixtureRequest, node: str, tool: str) -> None:
    run: Run = request.getfixturevalue(tool)
    r = run("taint", "nodes", node, "dedicated=lab:NoSchedule")
    assert (r.returncode, r.stdout.strip()) == (0, f"node/{node} tainted")
    r = run("taint", "nodes", node, "dedicated=other:NoSchedule")
    assert r.returncode == 1
    assert r.stderr.strip() == (f"error: node {node} already has dedicated taint(s) with same effect(s) "
                                "and --overwrite is false")
    assert run("taint", "nodes", node, "dedicated=other:NoSchedule", "--overwrite").returncode == 0
    assert taints(run, node) == "dedicated=other:NoSchedule "
    r = run("taint", "nodes", node, "dedicated:NoSchedule-")
    assert (r.returncode, r.stdout.strip()) == (0, f"node/{node} untainted")
    assert taints(run, node) == ""
    r = run("taint", "nodes", node, "dedicated:NoSchedule-")
    assert r.returncode == 1 and 'taint "dedicated:NoSchedule" not found' in r.stderr


@pytest.mark.parametrize("tool", ["minictl", "kubectl"])
def test_cordon_uncordon(request: pytest.FixtureRequest, node: str, tool: str) -> None:
    run: Run = request.getfixturevalue(tool)
    assert run("cordon", node).stdout.strip() == f"node/{node} cordoned"
    assert run("cordon", node).stdout.strip() == f"node/{node} already cordoned"
    assert "SchedulingDisabled" in run("get", "node", node).stdout
    assert run("uncordon", node).stdout.strip() == f"node/{node} uncordoned"
    assert "SchedulingDisabled" not in run("get", "node", node).stdout


def test_drain_evicts_controlled_pods_and_refuses_bare_ones(minictl: Run, node: str, ns: str) -> None:
    pod = ('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "%s", "namespace": "%s"%s}, '
           '"spec": {"nodeName": "%s", "terminationGracePeriodSeconds": 0, '
           '"containers": [{"name": "c", "image": "busybox"}]}}')
    owned = ', "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", ' \
            '"uid": "00000000-0000-0000-0000-000000000001", "controller": true}]'
    for name, extra in (("owned", owned), ("bare", "")):
        r = minictl("apply", "-f", "-", stdin=pod % (name, ns, extra, node))
        assert r.returncode == 0, r.stderr
    r = minictl("drain", node)
    assert r.returncode == 1
    assert f"cannot delete Pods that declare no controller (use --force to override): {ns}/bare" in r.stderr
    r = minictl("drain", node, "--force")
    assert r.returncode == 0, r.stderr
    assert f"evicting pod {ns}/owned" in r.stdout and f"node/{node} drained" in r.stdout
    assert minictl("get", "pods", "-n", ns, "-o", "name").stdout == ""
