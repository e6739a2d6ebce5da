"""generate_api_pod_status: what kubectl shows comes from here."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kubelet_fakes import CONTAINER_EXITED, CONTAINER_RUNNING, container, make_pod, runtime  # noqa: E402

from minik.apiserver.printers import pod_status_reason  # noqa: E402
from minik.kubelet.status import ProbeView, WaitingReason, generate_api_pod_status, get_phase  # noqa: E402

NOW = "2024-05-01T10:00:00Z"


def generate(pod: dict, status, old: dict | None = None, **kw) -> dict:  # noqa: ANN001
    return generate_api_pod_status(pod, status, old if old is not None else {}, "10.0.0.5", now=NOW, **kw)


def cond(status: dict, type_: str) -> dict:
    return next(c for c in status["conditions"] if c["type"] == type_)


def printed(pod: dict, status: dict) -> str:
    return pod_status_reason({**pod, "status": status})


def test_new_pod_waits_container_creating() -> None:
    pod = make_pod()
    status = generate(pod, runtime(sandbox=None))
    assert status["phase"] == "Pending"
    app = status["containerStatuses"][0]
    assert app["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert app["ready"] is False and app["restartCount"] == 0 and app["image"] == "busybox"
    assert [c["type"] for c in status["conditions"]] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    assert cond(status, "Ready") == {"type": "Ready", "status": "False", "lastProbeTime": None,
                                     "reason": "ContainersNotReady",
                                     "message": "containers with unready status: [app]",
                                     "lastTransitionTime": NOW}
    assert status["hostIP"] == "10.0.0.5" and status["startTime"] == NOW and status["qosClass"] == "BestEffort"
    assert printed(pod, status) == "ContainerCreating"


def test_pod_with_init_containers_shows_init_progress() -> None:
    pod = make_pod(["app"], ["i1", "i2"])
    status = generate(pod, runtime(container("i1", CONTAINER_EXITED, 0, init=True, reason="Completed"),
                                   container("i2", CONTAINER_RUNNING, init=True)))
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    assert cond(status, "Initialized")["message"] == "containers with incomplete status: [i2]"
    assert printed(pod, status) == "Init:1/2"


def test_running_pod_is_ready_and_keeps_transition_times() -> None:
    pod = make_pod()
    status = generate(pod, runtime(container("app", CONTAINER_RUNNING)))
    assert status["phase"] == "Running" and cond(status, "Ready")["status"] == "True"
    app = status["containerStatuses"][0]
    assert app["ready"] is True and app["started"] is True and app["containerID"].startswith("minik://")
    later = generate_api_pod_status(pod, runtime(container("app", CONTAINER_RUNNING)), status, "10.0.0.5",
                                    now="2024-05-01T11:00:00Z")
    assert cond(later, "Ready")["lastTransitionTime"] == NOW


def test_readiness_probe_failure_makes_the_pod_not_ready() -> None:
    pod = make_pod()
    status = generate(pod, runtime(container("app", CONTAINER_RUNNING)), probes=ProbeView(ready=lambda cid: False))
    assert status["phase"] == "Running"
    assert status["containerStatuses"][0]["ready"] is False
    assert cond(status, "ContainersReady")["reason"] == "ContainersNotReady"


def test_crash_loop_shows_back_off_waiting_and_last_state() -> None:
    pod = make_pod()
    rt = runtime(container("app", CONTAINER_EXITED, 1, restarts=3, reason="Error"),
                 container("app", CONTAINER_EXITED, 1, restarts=2, reason="Error", created=0))
    reasons = {"app": WaitingReason("CrashLoopBackOff", "back-off 40s restarting failed container=app pod=x")}
    status = generate(pod, rt, reasons=reasons)
    app = status["containerStatuses"][0]
    assert app["state"]["waiting"] == {"reason": "CrashLoopBackOff",
                                       "message": "back-off 40s restarting failed container=app pod=x"}
    assert app["lastState"]["terminated"]["exitCode"] == 1 and app["restartCount"] == 3
    assert status["phase"] == "Running"
    assert printed(pod, status) == "CrashLoopBackOff"


def test_oom_killed_container_reports_oom_killed() -> None:
    pod = make_pod()
    status = generate(pod, runtime(container("app", CONTAINER_EXITED, 137, reason="OOMKilled")))
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "OOMKilled"
    assert printed(pod, status) == "OOMKilled"


def test_finished_never_pods_succeed_or_fail() -> None:
    ok = generate(make_pod(policy="Never"), runtime(container("app", CONTAINER_EXITED, 0, reason="Completed")))
    assert ok["phase"] == "Succeeded" and cond(ok, "Ready")["reason"] == "PodCompleted"
    assert printed(make_pod(policy="Never"), ok) == "Completed"
    bad = generate(make_pod(policy="Never"), runtime(container("app", CONTAINER_EXITED, 2, reason="Error")))
    assert bad["phase"] == "Failed"


def test_terminal_phase_never_goes_back_and_host_network_uses_the_node_ip() -> None:
    pod = make_pod(hostNetwork=True)
    status = generate(pod, runtime(container("app", CONTAINER_RUNNING)), old={"phase": "Failed"})
    assert status["phase"] == "Failed"
    assert status["podIP"] == "10.0.0.5" and status["podIPs"] == [{"ip": "10.0.0.5"}]


def test_deleted_pod_becomes_terminal_once_its_containers_stopped() -> None:
    pod = make_pod()
    rt = runtime(container("app", CONTAINER_EXITED, 137), sandbox=False)
    assert generate(pod, rt, pod_is_terminal=True)["phase"] == "Failed"
    assert generate(pod, runtime(container("app", CONTAINER_EXITED, 0), sandbox=False),
                    pod_is_terminal=True)["phase"] == "Succeeded"


def test_get_phase_with_unknown_containers_is_pending() -> None:
    assert get_phase(make_pod(["a", "b"]), [{"name": "a", "state": {"running": {}}}], [], False) == "Pending"
