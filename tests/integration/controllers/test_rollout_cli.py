"""`minictl rollout ...` and `minictl set image` against Deployments the controllers roll out."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from ctrltest import DEPLOY, RS, deployment, minictl, wait_pods
from util import wait_for

from minik.client.rest import Client
from minik.controllers.deployment_util import CHANGE_CAUSE_ANNOTATION, REVISION_ANNOTATION


def images(client: Client, ns: str) -> set[str]:
    return {p["spec"]["containers"][0]["image"] for p in wait_pods(client, ns, 2, ready=True)}


def test_set_image_status_history_undo(apiserver: Any, client: Client, ns: str, cluster: Any,
                                       start_manager: Any) -> None:
    cluster.add_node("a")
    start_manager(["replicaset", "deployment", "garbagecollector"])
    client.create(DEPLOY, deployment("web", 2), ns)
    code, out, err = minictl(apiserver, ns, "rollout", "status", "deployment/web", "--timeout=60s")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == 'deployment "web" successfully rolled out'

    code, out, _ = minictl(apiserver, ns, "set", "image", "deployment/web", "app=minik/app:v2")
    assert (code, out) == (0, "deployment.apps/web image updated\n")
    code, out, _ = minictl(apiserver, ns, "rollout", "status", "deploy", "web", "--timeout=60s")
    lines = out.splitlines()
    assert code == 0 and lines[-1] == 'deployment "web" successfully rolled out'
    assert all(line.startswith('Waiting for deployment "web" rollout to finish: ')
               or line == "Waiting for deployment spec update to be observed..." for line in lines[:-1])
    assert wait_for(lambda: images(client, ns) == {"minik/app:v2"}, message="v2 pods")

    code, out, err = minictl(apiserver, ns, "set", "image", "deployment/web", "nope=minik/app:v3")
    assert code == 1 and err == 'error: unable to find container named "nope"'

    minictl(apiserver, ns, "set", "image", "deployment/web", "*=minik/app:v3")
    client.patch(DEPLOY, "web", {"metadata": {"annotations": {CHANGE_CAUSE_ANNOTATION: "to v3"}}}, ns)
    wait_for(lambda: any((rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE_ANNOTATION)
                         for rs in client.list(RS, ns)["items"]), message="change-cause copied")
    minictl(apiserver, ns, "rollout", "status", "deployment/web", "--timeout=60s")
    code, out, _ = minictl(apiserver, ns, "rollout", "history", "deployment/web")
    assert out == ("deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n"
                   "3         to v3\n\n")
    code, out, _ = minictl(apiserver, ns, "rollout", "history", "deployment/web", "--revision=2")
    assert out.startswith("deployment.apps/web with revision #2\nPod Template:\n")
    assert "minik/app:v2" in out

    code, out, _ = minictl(apiserver, ns, "rollout", "undo", "deployment/web", "--to-revision=1")
    assert (code, out) == (0, "deployment.apps/web rolled back\n")
    minictl(apiserver, ns, "rollout", "status", "deployment/web", "--timeout=60s")
    assert wait_for(lambda: images(client, ns) == {"minik/app:v1"}, message="v1 pods after undo")
    d = client.get(DEPLOY, "web", ns)
    assert d["metadata"]["annotations"][REVISION_ANNOTATION] == "4"  # revision 1 came back as 4
    revs = sorted(rs["metadata"]["annotations"][REVISION_ANNOTATION] for rs in client.list(RS, ns)["items"])
    assert revs == ["2", "3", "4"]
    code, out, _ = minictl(apiserver, ns, "rollout", "undo", "deployment/web", "--to-revision=4")
    assert out == "deployment.apps/web skipped rollback (current template already matches revision 4)\n"
    code, _, err = minictl(apiserver, ns, "rollout", "undo", "deployment/web", "--to-revision=9")
    assert (code, err) == (1, "error: unable to find specified revision 9 in history")
    code, out, _ = minictl(apiserver, ns, "rollout", "undo", "deployment/web")  # back to the previous: 3
    assert out == "deployment.apps/web rolled back\n"
    minictl(apiserver, ns, "rollout", "status", "deployment/web", "--timeout=60s")
    assert wait_for(lambda: images(client, ns) == {"minik/app:v3"}, message="v3 pods after undo")


def test_pause_resume_restart_and_progress_deadline(apiserver: Any, client: Client, ns: str, cluster: Any,
                                                    start_manager: Any) -> None:
    cluster.add_node("a")
    start_manager(["replicaset", "deployment", "garbagecollector"])
    client.create(DEPLOY, deployment("web", 2, progressDeadlineSeconds=3), ns)
    minictl(apiserver, ns, "rollout", "status", "deployment/web", "--timeout=60s")

    assert minictl(apiserver, ns, "rollout", "pause", "deployment/web")[1] == "deployment.apps/web paused\n"
    assert minictl(apiserver, ns, "rollout", "pause", "deployment/web")[1] == "deployment.apps/web already paused\n"
    cond = wait_for(lambda: next((c for c in client.get(DEPLOY, "web", ns)["status"]["conditions"]
                                  if c["type"] == "Progressing" and c["reason"] == "DeploymentPaused"), None),
                    message="DeploymentPaused condition")
    assert (cond["status"], cond["message"]) == ("Unknown", "Deployment is paused")
    minictl(apiserver, ns, "set", "image", "deployment/web", "app=minik/app:v2")
    code, _, err = minictl(apiserver, ns, "rollout", "restart", "deployment/web")
    assert err == 'error: deployments.apps "web" can\'t restart paused deployment (run rollout resume first)'
    code, out, _ = minictl(apiserver, ns, "rollout", "status", "deployment/web", "--watch=false")
    assert out == 'Waiting for deployment "web" rollout to finish: 0 out of 2 new replicas have been updated...\n'
    assert len(client.list(RS, ns)["items"]) == 1  # paused: no new ReplicaSet

    cluster.hold_ready = lambda pod: pod["spec"]["containers"][0]["image"] == "minik/app:v2"
    assert minictl(apiserver, ns, "rollout", "resume", "deployment/web")[1] == "deployment.apps/web resumed\n"
    code, out, err = minictl(apiserver, ns, "rollout", "status", "deployment/web", "--timeout=60s")
    assert (code, err) == (1, 'error: deployment "web" exceeded its progress deadline')
    cond = next(c for c in client.get(DEPLOY, "web", ns)["status"]["conditions"] if c["type"] == "Progressing")
    assert (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert cond["message"].endswith("has timed out progressing.")

    cluster.hold_ready = lambda pod: False
    code, out, _ = minictl(apiserver, ns, "rollout", "restart", "deployment/web")
    assert (code, out) == (0, "deployment.apps/web restarted\n")
    code, out, _ = minictl(apiserver, ns, "rollout", "status", "deployment/web", "--timeout=60s")
    assert code == 0 and out.endswith('deployment "web" successfully rolled out\n')
    template = client.get(DEPLOY, "web", ns)["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]


def test_minictl_entry_point_runs_rollout_and_set_image(apiserver: Any, client: Client, ns: str, cluster: Any,
                                                        start_manager: Any) -> None:
    cluster.add_node("a")
    start_manager(["replicaset", "deployment"])
    client.create(DEPLOY, deployment("web", 1), ns)

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "minik.ctl.main", "--kubeconfig", str(apiserver.kubeconfig),
                               "-n", ns, *argv], capture_output=True, text=True, timeout=90)

    done = run("rollout", "status", "deployment/web", "--timeout=60s")
    assert done.returncode == 0 and done.stdout.endswith('deployment "web" successfully rolled out\n')
    assert run("set", "image", "deployment/web", "app=minik/app:v2").stdout == "deployment.apps/web image updated\n"
    assert run("rollout", "status", "deployment/web", "--timeout=60s").returncode == 0
    history = run("rollout", "history", "deployment/web")
    assert history.stdout == "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    missing = run("rollout", "undo", "deployment/web", "--to-revision=7")
    assert (missing.returncode, missing.stderr) == (1, "error: unable to find specified revision 7 in history\n")
