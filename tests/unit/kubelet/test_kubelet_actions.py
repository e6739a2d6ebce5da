"""compute_pod_actions: the plan a sync acts on."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kubelet_fakes import CONTAINER_EXITED, CONTAINER_RUNNING, container, make_pod, runtime  # noqa: E402

from minik.kubelet.actions import compute_pod_actions  # noqa: E402
from minik.kubelet.container import hash_container  # noqa: E402


def names(containers: list[dict]) -> list[str]:
    return [c["name"] for c in containers]


def test_new_pod_gets_a_sandbox_and_its_containers() -> None:
    actions = compute_pod_actions(make_pod(["a", "b"]), runtime(sandbox=None))
    assert actions.create_sandbox and actions.kill_pod and actions.attempt == 0
    assert names(actions.containers_to_start) == ["a", "b"]


def test_new_pod_with_init_containers_starts_the_first_init_only() -> None:
    actions = compute_pod_actions(make_pod(["app"], ["i1", "i2"]), runtime(sandbox=None))
    assert actions.create_sandbox
    assert actions.next_init_container_to_start["name"] == "i1"
    assert actions.containers_to_start == []


def test_init_containers_run_one_after_the_other() -> None:
    pod = make_pod(["app"], ["i1", "i2"])
    running = compute_pod_actions(pod, runtime(container("i1", CONTAINER_RUNNING, init=True)))
    assert running.nothing_to_do()
    done_first = compute_pod_actions(pod, runtime(container("i1", CONTAINER_EXITED, 0, init=True)))
    assert done_first.next_init_container_to_start["name"] == "i2"
    both = runtime(container("i1", CONTAINER_EXITED, 0, init=True), container("i2", CONTAINER_EXITED, 0, init=True))
    assert names(compute_pod_actions(pod, both).containers_to_start) == ["app"]


def test_failed_init_container_is_retried_or_fails_the_pod_per_restart_policy() -> None:
    failed = runtime(container("i1", CONTAINER_EXITED, 1, init=True))
    retry = compute_pod_actions(make_pod(["app"], ["i1"], policy="OnFailure"), failed)
    assert retry.next_init_container_to_start["name"] == "i1" and not retry.kill_pod
    never = compute_pod_actions(make_pod(["app"], ["i1"], policy="Never"), failed)
    assert never.kill_pod and never.next_init_container_to_start is None


def test_restart_policies_for_exited_app_containers() -> None:
    ok = runtime(container("app", CONTAINER_EXITED, 0))
    bad = runtime(container("app", CONTAINER_EXITED, 2))
    assert names(compute_pod_actions(make_pod(policy="Always"), ok).containers_to_start) == ["app"]
    on_failure_ok = compute_pod_actions(make_pod(policy="OnFailure"), ok)
    assert on_failure_ok.containers_to_start == [] and on_failure_ok.kill_pod
    assert names(compute_pod_actions(make_pod(policy="OnFailure"), bad).containers_to_start) == ["app"]
    never = compute_pod_actions(make_pod(policy="Never"), bad)
    assert never.containers_to_start == [] and never.kill_pod


def test_running_pod_with_nothing_to_do() -> None:
    pod = make_pod(["a", "b"])
    status = runtime(container("a", CONTAINER_RUNNING), container("b", CONTAINER_RUNNING))
    assert compute_pod_actions(pod, status).nothing_to_do()


def test_liveness_failure_kills_and_restarts() -> None:
    pod = make_pod()
    status = runtime(container("app", CONTAINER_RUNNING))
    actions = compute_pod_actions(pod, status, liveness_failed=lambda cid: True)
    kill = actions.containers_to_kill[status.containers[0].id]
    assert kill.message == "Container app failed liveness probe, will be restarted"
    assert names(actions.containers_to_start) == ["app"]
    never = compute_pod_actions(make_pod(policy="Never"), status, liveness_failed=lambda cid: True)
    assert never.containers_to_kill and never.containers_to_start == [] and never.kill_pod


def test_changed_container_spec_restarts_the_container() -> None:
    pod = make_pod()
    old_hash = hash_container({"name": "app", "image": "busybox:old"})
    status = runtime(container("app", CONTAINER_RUNNING, hash_=old_hash))
    actions = compute_pod_actions(pod, status)
    assert list(actions.containers_to_kill.values())[0].message == "Container app definition changed, will be restarted"
    same = runtime(container("app", CONTAINER_RUNNING, hash_=hash_container(pod["spec"]["containers"][0])))
    assert compute_pod_actions(pod, same).nothing_to_do()


def test_dead_sandbox_is_recreated_unless_a_never_pod_already_ran() -> None:
    status = runtime(container("app", CONTAINER_EXITED, 137), sandbox=False, attempt=0)
    always = compute_pod_actions(make_pod(policy="Always"), status)
    assert always.create_sandbox and always.attempt == 1 and names(always.containers_to_start) == ["app"]
    never = compute_pod_actions(make_pod(policy="Never"), status)
    assert not never.create_sandbox and never.kill_pod


def test_pod_being_deleted_restarts_nothing() -> None:
    pod = make_pod()
    pod["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    actions = compute_pod_actions(pod, runtime(container("app", CONTAINER_EXITED, 1)))
    assert actions.containers_to_start == [] and actions.kill_pod
