"""The kubelet's side of the container runtime (kuberuntime_manager): read a pod's runtime state, sync
it to the spec, kill it.

sync_pod computes the plan (compute_pod_actions) and then acts: kill what must go, (re)create the
sandbox, start the next init container or the app containers. Starting honours the crash-loop back-off
(10 s doubling to 5 min) and the image pull policy; whatever prevents a start is returned as the
container's waiting reason (CrashLoopBackOff, ErrImagePull, PostStartHookError, ...) for the pod status.
A started container runs its postStart hook before the sync goes on; a kill runs the preStop hook before
the stop signal, within the grace period. Dead containers are pruned down to the last instance per
container, which keeps `lastState` and `logs --previous`.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minik.kubelet import podutil
from minik.kubelet.actions import REASON_LIVENESS, REASON_STARTUP, ContainerToKill, PodActions, compute_pod_actions
from minik.kubelet.backoff import Backoff
from minik.kubelet.container import (
    ContainerConfigError,
    PodContext,
    generate_container_config,
    hash_container,
    restart_count_of,
    restore_container_spec,
)
from minik.kubelet.images import ImageManager, ImagePullError
from minik.kubelet.lifecycle import HandlerRunner
from minik.kubelet.probes import ProbeTarget, named_ports, sandbox_netns_pid
from minik.kubelet.sandbox import generate_pod_sandbox_config
from minik.kubelet.status import WaitingReason
from minik.kubelet.types import (
    CONTAINER_EXITED,
    CONTAINER_HASH_ANNOTATION,
    CONTAINER_IMAGE_ANNOTATION,
    CONTAINER_RUNNING,
    CONTAINER_TYPE_LABEL,
    CRASH_LOOP_BACK_OFF,
    CREATE_CONTAINER_CONFIG_ERROR,
    CREATE_CONTAINER_ERROR,
    CRI_CONTAINER_STATES,
    KUBELET_MANAGED_LABEL,
    POD_NAME_LABEL,
    POD_NAMESPACE_LABEL,
    POD_TERMINATION_GRACE_ANNOTATION,
    POD_UID_LABEL,
    POST_START_HOOK_ERROR,
    RUN_CONTAINER_ERROR,
    TERMINATION_MESSAGE_HOST_PATH_ANNOTATION,
    TERMINATION_MESSAGE_POLICY_ANNOTATION,
    ContainerStatus,
    Obj,
    PodStatus,
    SandboxStatus,
    format_pod,
)
from minik.kubelet.volumes import VolumeError, VolumeManager
from minik.runtime.client import RuntimeClient
from minik.runtime.logs import tail
from minik.runtime.state import CRIError, NotFoundError

log = logging.getLogger(__name__)

EventFunc = Callable[[Obj, str, str, str], None]
MIN_GRACE_SECONDS = 2
MAX_TERMINATION_MESSAGE = 4096
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048


def go_duration(seconds: float) -> str:
    """A duration the way Go prints it: 10s, 1m20s, 5m0s."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{secs}s"


def _probe_grace(kill: ContainerToKill) -> int | None:
    """A failed probe may set its own terminationGracePeriodSeconds for the kill it causes."""
    field = {REASON_LIVENESS: "livenessProbe", REASON_STARTUP: "startupProbe"}.get(kill.reason)
    probe = (kill.container or {}).get(field) if field else None
    grace = probe.get("terminationGracePeriodSeconds") if isinstance(probe, dict) else None
    return grace if isinstance(grace, int) and not isinstance(grace, bool) and grace >= 0 else None


def backoff_key(pod: Obj, container: Obj) -> str:
    """Kubernetes' stable key: a new spec for the container starts a new back-off."""
    return (f"{podutil.name(pod)}_{podutil.namespace(pod)}_{podutil.uid(pod)}_{container.get('name')}_"
            f"{hash_container(container)}")


@dataclass
class SyncResult:
    reasons: dict[str, WaitingReason] = field(default_factory=dict)
    requeue_after: float | None = None
    error: str = ""

    def retry_in(self, seconds: float) -> None:
        if self.requeue_after is None or seconds < self.requeue_after:
            self.requeue_after = max(0.05, seconds)


@dataclass
class PodContextSource:
    """Facts the container config needs: the node IP, allocatable for resourceFieldRef, and the Service
    variables for a pod (which raises ContainerConfigError while Services are not known yet)."""

    node_ip: Callable[[], str]
    allocatable: Callable[[], dict[str, int]]
    service_env: Callable[[Obj], dict[str, str]] = lambda _pod: {}


class RuntimeManager:
    def __init__(
        self,
        runtime: RuntimeClient,
        node_name: str,
        volumes: VolumeManager,
        images: ImageManager,
        backoff: Backoff,
        event: EventFunc,
        pod_logs_dir: Path,
        node: PodContextSource,
        liveness_failed: Callable[[str], bool] = lambda _id: False,
        startup_failed: Callable[[str], bool] = lambda _id: False,
        cluster_dns: list[str] | None = None,
        cluster_domain: str = "cluster.local",
        hooks: HandlerRunner | None = None,
    ) -> None:
        self.hooks = hooks or HandlerRunner(runtime)
        self.cluster_dns = list(cluster_dns or [])
        self.cluster_domain = cluster_domain
        self.runtime = runtime
        self.node_name = node_name
        self.volumes = volumes
        self.images = images
        self.backoff = backoff
        self.event = event
        self.pod_logs_dir = pod_logs_dir
        self.node = node
        self.liveness_failed = liveness_failed
        self.startup_failed = startup_failed

    # ---------------------------------------------------------------- reading the runtime

    def _selector(self, uid: str) -> dict[str, Any]:
        return {"label_selector": {POD_UID_LABEL: uid, KUBELET_MANAGED_LABEL: self.node_name}}

    def get_pod_status(self, uid: str, name: str = "", namespace: str = "") -> PodStatus:
        status = PodStatus(uid=uid, name=name, namespace=namespace)
        sandboxes = sorted(self.runtime.list_pod_sandbox(self._selector(uid)),
                           key=lambda s: int(s.get("created_at") or 0), reverse=True)
        for index, item in enumerate(sandboxes):
            sandbox = SandboxStatus(id=str(item["id"]), ready=item.get("state") == "SANDBOX_READY",
                                    created_at=int(item.get("created_at") or 0),
                                    attempt=int((item.get("metadata") or {}).get("attempt") or 0))
            if index == 0:
                with contextlib.suppress(NotFoundError):
                    full = self.runtime.pod_sandbox_status(sandbox.id)["status"]
                    sandbox.ip = str((full.get("network") or {}).get("ip") or "")
                    options = ((full.get("linux") or {}).get("namespaces") or {}).get("options") or {}
                    sandbox.host_network = options.get("network") == 2
            status.sandboxes.append(sandbox)
        for item in self.runtime.list_containers(self._selector(uid)):
            try:
                full = self.runtime.container_status(str(item["id"]))["status"]
            except NotFoundError:
                continue
            status.containers.append(self._container_status(full, str(item.get("pod_sandbox_id") or "")))
        status.containers.sort(key=lambda c: c.created_at, reverse=True)
        return status

    def _container_status(self, full: Obj, sandbox_id: str = "") -> ContainerStatus:
        labels = full.get("labels") or {}
        annotations = {str(k): str(v) for k, v in (full.get("annotations") or {}).items()}
        state = CRI_CONTAINER_STATES.get(str(full.get("state")), "unknown")
        status = ContainerStatus(
            id=str(full["id"]),
            name=str((full.get("metadata") or {}).get("name") or labels.get("io.kubernetes.container.name", "")),
            state=state,
            created_at=int(full.get("created_at") or 0),
            started_at=int(full.get("started_at") or 0),
            finished_at=int(full.get("finished_at") or 0),
            exit_code=int(full.get("exit_code") or 0),
            image=annotations.get(CONTAINER_IMAGE_ANNOTATION) or str((full.get("image") or {}).get("image") or ""),
            image_ref=str(full.get("image_ref") or ""),
            hash=annotations.get(CONTAINER_HASH_ANNOTATION, ""),
            restart_count=restart_count_of(annotations),
            reason=str(full.get("reason") or ""),
            message=str(full.get("message") or ""),
            log_path=str(full.get("log_path") or ""),
            init=labels.get(CONTAINER_TYPE_LABEL) == "init",
            sandbox_id=sandbox_id,
            annotations=annotations,
        )
        if state == CONTAINER_EXITED:
            message = self._termination_message(status)
            if message:
                status.message = message
        return status

    def _termination_message(self, status: ContainerStatus) -> str:
        path = status.annotations.get(TERMINATION_MESSAGE_HOST_PATH_ANNOTATION)
        text = ""
        if path:
            try:
                with open(path, "rb") as f:
                    text = f.read(MAX_TERMINATION_MESSAGE).decode(errors="replace")
            except OSError:
                text = ""
        policy = status.annotations.get(TERMINATION_MESSAGE_POLICY_ANNOTATION, "File")
        if not text and policy == "FallbackToLogsOnError" and status.exit_code != 0 and status.log_path:
            lines = [content.decode(errors="replace") for _, _, content in tail(Path(status.log_path),
                                                                                 FALLBACK_LOG_LINES)]
            text = "\n".join(lines)[-FALLBACK_LOG_BYTES:]
        return text

    def list_pods(self) -> dict[str, tuple[str, str]]:
        """uid -> (namespace, name) of every pod this kubelet has sandboxes or containers for."""
        selector = {"label_selector": {KUBELET_MANAGED_LABEL: self.node_name}}
        pods: dict[str, tuple[str, str]] = {}
        for item in [*self.runtime.list_pod_sandbox(selector), *self.runtime.list_containers(selector)]:
            labels = item.get("labels") or {}
            uid = labels.get(POD_UID_LABEL)
            if uid:
                pods[str(uid)] = (str(labels.get(POD_NAMESPACE_LABEL, "")), str(labels.get(POD_NAME_LABEL, "")))
        return pods

    def relist(self) -> dict[str, dict[str, str]]:
        """uid -> {sandbox or container id: state}: the PLEG's snapshot of the whole node."""
        selector = {"label_selector": {KUBELET_MANAGED_LABEL: self.node_name}}
        snapshot: dict[str, dict[str, str]] = {}
        for item in self.runtime.list_pod_sandbox(selector):
            uid = str((item.get("labels") or {}).get(POD_UID_LABEL) or "")
            snapshot.setdefault(uid, {})[str(item["id"])] = str(item.get("state"))
        for item in self.runtime.list_containers(selector):
            uid = str((item.get("labels") or {}).get(POD_UID_LABEL) or "")
            snapshot.setdefault(uid, {})[str(item["id"])] = str(item.get("state"))
        return snapshot

    # ---------------------------------------------------------------- sync

    def compute_pod_actions(self, pod: Obj, status: PodStatus) -> PodActions:
        return compute_pod_actions(pod, status, self.liveness_failed, self.startup_failed)

    def sync_pod(self, pod: Obj, status: PodStatus, volume_paths: dict[str, Path]) -> SyncResult:
        result = SyncResult()
        actions = self.compute_pod_actions(pod, status)
        if actions.nothing_to_do():
            return result
        log.debug("pod %s: %s", format_pod(pod), actions)
        if actions.create_sandbox and actions.sandbox_id:
            self.event(pod, "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
        if actions.kill_pod:
            self.kill_pod(pod, status)
            if actions.create_sandbox:
                self._remove_init_containers(pod, status)
        else:
            for container_id, kill in actions.containers_to_kill.items():
                found = next((c for c in status.containers if c.id == container_id), None)
                if found is not None:
                    self.kill_container(pod, found, kill.message, _probe_grace(kill))
        sandbox_id = actions.sandbox_id
        sandbox_config = generate_pod_sandbox_config(pod, actions.attempt, self.node_name, self._log_dir(pod),
                                                     self.cluster_dns, self.cluster_domain)
        if actions.create_sandbox:
            try:
                sandbox_id = self.runtime.run_pod_sandbox(sandbox_config)
            except CRIError as error:
                message = f"Failed to create pod sandbox: {error}"
                self.event(pod, "Warning", "FailedCreatePodSandBox", message)
                result.error = message
                result.retry_in(2.0)
                return result
        if actions.kill_pod and not actions.create_sandbox:
            return result  # nothing may run any more
        pod_ips = self._pod_ips(sandbox_id)
        ctx = PodContext(pod, self.node_name, self.node.node_ip(), pod_ips, self.node.allocatable())
        if actions.next_init_container_to_start is not None:
            self._start(pod, status, actions.next_init_container_to_start, sandbox_id, sandbox_config, ctx,
                        volume_paths, result, init=True)
            return result
        for container in actions.containers_to_start:
            self._start(pod, status, container, sandbox_id, sandbox_config, ctx, volume_paths, result, init=False)
        return result

    def _log_dir(self, pod: Obj) -> Path:
        return self.pod_logs_dir / f"{podutil.namespace(pod)}_{podutil.name(pod)}_{podutil.uid(pod)}"

    def _pod_ips(self, sandbox_id: str) -> list[str]:
        try:
            ip = str((self.runtime.pod_sandbox_status(sandbox_id)["status"].get("network") or {}).get("ip") or "")
        except CRIError:
            return []
        return [ip] if ip else []

    def _start(self, pod: Obj, status: PodStatus, container: Obj, sandbox_id: str, sandbox_config: Obj,
               ctx: PodContext, volume_paths: dict[str, Path], result: SyncResult, init: bool) -> bool:
        name = str(container["name"])
        previous = status.find_container(name)
        if previous is not None and previous.state == CONTAINER_EXITED:
            key = backoff_key(pod, container)
            finished = previous.finished_at / 1e9 if previous.finished_at else time.time()
            if self.backoff.is_in_backoff_since(key, finished):
                delay = self.backoff.get(key)
                message = f"back-off {go_duration(delay)} restarting failed container={name} pod={format_pod(pod)}"
                self.event(pod, "Warning", "BackOff",
                           f"Back-off restarting failed container {name} in pod {format_pod(pod)}")
                result.reasons[name] = WaitingReason(CRASH_LOOP_BACK_OFF, message)
                result.retry_in(self.backoff.remaining(key, finished) + 0.05)
                return False
            self.backoff.next(key, finished)
        try:
            image = self.images.ensure_image_exists(pod, container)
        except ImagePullError as error:
            result.reasons[name] = error.waiting
            key = f"{podutil.uid(pod)}_{container.get('image')}"
            result.retry_in(max(self.images.backoff.remaining(key, time.time()), 0.5) + 0.05)
            return False
        except CRIError as error:
            result.reasons[name] = WaitingReason("ErrImagePull", str(error))
            result.retry_in(2.0)
            return False
        restart_count = previous.restart_count + 1 if previous is not None else 0
        try:
            if ctx.service_env is None:
                ctx.service_env = self.node.service_env(pod)
            mounts = self.volumes.container_mounts(pod, container, volume_paths)
            message_file = ""
            message_path = str(container.get("terminationMessagePath") or "/dev/termination-log")
            if message_path.startswith("/"):
                host = self.volumes.termination_message_file(podutil.uid(pod), name)
                message_file = str(host)
                mounts.append({"container_path": message_path, "host_path": message_file, "readonly": False})
            config = generate_container_config(container, pod, ctx, restart_count, str(container.get("image")),
                                               mounts, f"{name}/{restart_count}.log", message_file, init)
        except (ContainerConfigError, VolumeError, OSError) as error:
            self.event(pod, "Warning", "Failed", f"Error: {error}")
            result.reasons[name] = WaitingReason(CREATE_CONTAINER_CONFIG_ERROR, str(error))
            result.retry_in(2.0)
            return False
        config["image"] = {"image": image or str(container.get("image"))}
        try:
            container_id = self.runtime.create_container(sandbox_id, config, sandbox_config)
        except CRIError as error:
            self.event(pod, "Warning", "Failed", f"Error: {error}")
            result.reasons[name] = WaitingReason(CREATE_CONTAINER_ERROR, str(error))
            result.retry_in(2.0)
            return False
        self.event(pod, "Normal", "Created", f"Created container {name}")
        try:
            self.runtime.start_container(container_id)
        except CRIError as error:
            self.event(pod, "Warning", "Failed", f"Error: {error}")
            result.reasons[name] = WaitingReason(RUN_CONTAINER_ERROR, str(error))
            result.retry_in(2.0)
            return False
        self.event(pod, "Normal", "Started", f"Started container {name}")
        self._prune(status, name, keep=1)
        return self._run_post_start_hook(pod, container, container_id, sandbox_id, result)

    def _run_post_start_hook(self, pod: Obj, container: Obj, container_id: str, sandbox_id: str,
                             result: SyncResult) -> bool:
        """startContainer's last step. The sync (and with it the pod's status) waits for the hook, so the
        container shows as started only once it returned; a failure kills the container, its waiting
        reason says why, and the restart policy decides what comes next."""
        handler = (container.get("lifecycle") or {}).get("postStart")
        if not isinstance(handler, dict):
            return True
        name = str(container["name"])
        message = self.hooks.run(handler, pod, name,
                                 lambda: self._hook_target(pod, container, container_id, sandbox_id))
        if not message:
            return True
        log.warning("postStart hook of %s in %s failed: %s", name, format_pod(pod), message)
        # the event leaves the message out, as Kubernetes does: it may carry secrets
        self.event(pod, "Warning", "FailedPostStartHook", "PostStartHook failed")
        started = ContainerStatus(id=container_id, name=name, state=CONTAINER_RUNNING, sandbox_id=sandbox_id)
        try:
            self.kill_container(pod, started, "FailedPostStartHook")
        except CRIError as error:
            log.warning("killing %s after its failed postStart hook: %s", name, error)
        result.reasons[name] = WaitingReason(POST_START_HOOK_ERROR, message)
        return False

    def _hook_target(self, pod: Obj | None, container: Obj, container_id: str, sandbox_id: str) -> ProbeTarget:
        """Where a hook's exec or httpGet goes: the container, and the pod's IP and network namespace."""
        ports = named_ports(container)
        if pod is not None and podutil.host_network(pod):
            return ProbeTarget(container_id, self.node.node_ip(), None, ports)
        ips = self._pod_ips(sandbox_id)
        return ProbeTarget(container_id, ips[0] if ips else "", sandbox_netns_pid(self.runtime, sandbox_id), ports)

    # ---------------------------------------------------------------- kill and clean

    def kill_container(self, pod: Obj | None, container: ContainerStatus, message: str = "",
                       grace_override: int | None = None) -> None:
        """killContainer: the preStop hook, then the stop signal with what the hook left of the grace
        period (never less than MIN_GRACE_SECONDS), then SIGKILL. Without a pod (an orphan) the grace
        period and the hook come from the container's annotations."""
        spec = podutil.find_container(pod, container.name) if pod is not None else None
        if spec is None:
            spec = restore_container_spec(container.name, container.annotations)
        if grace_override is not None:
            grace = grace_override
        elif pod is not None:
            grace = podutil.termination_grace_seconds(pod)
        else:
            try:
                grace = int(container.annotations.get(POD_TERMINATION_GRACE_ANNOTATION, "30"))
            except ValueError:
                grace = 30
        if pod is not None:
            self.event(pod, "Normal", "Killing", message or f"Stopping container {container.name}")
        pre_stop = (spec.get("lifecycle") or {}).get("preStop")
        if isinstance(pre_stop, dict) and grace > 0:
            grace -= self._execute_pre_stop_hook(pod, container, spec, pre_stop, grace)
        grace = max(grace, MIN_GRACE_SECONDS)
        log.info("killing container %s (%s) with grace %ss", container.name, container.id[:12], grace)
        with contextlib.suppress(NotFoundError):
            self.runtime.stop_container(container.id, grace)

    def _execute_pre_stop_hook(self, pod: Obj | None, container: ContainerStatus, spec: Obj, handler: Obj,
                               grace: int) -> int:
        """Run preStop for at most `grace` seconds and return the whole seconds it took: they count against
        the grace period. A hook still running then is left to finish or die with its container; a failure
        is a FailedPreStopHook event, and the kill goes on either way."""
        start = time.monotonic()

        def run() -> None:
            try:
                message = self.hooks.run(handler, pod or {}, container.name,
                                         lambda: self._hook_target(pod, spec, container.id, container.sandbox_id),
                                         timeout=grace)
            except Exception:  # a broken hook must not break the kill
                log.exception("preStop hook of %s failed", container.name)
                return
            if message:
                log.warning("preStop hook of %s failed: %s", container.name, message)
                if pod is not None:  # the message stays out of the event, as in Kubernetes: it may carry secrets
                    self.event(pod, "Warning", "FailedPreStopHook", "PreStopHook failed")

        thread = threading.Thread(target=run, name=f"pre-stop-{container.name}", daemon=True)
        thread.start()
        thread.join(grace)
        if thread.is_alive():
            log.info("preStop hook of %s did not complete within the grace period (%ss)", container.name, grace)
        return int(time.monotonic() - start)

    def kill_pod(self, pod: Obj | None, status: PodStatus, grace_override: int | None = None) -> None:
        """Stop every running container in parallel (each with the grace period), then the sandboxes."""
        threads = []
        errors: list[BaseException] = []

        def kill(container: ContainerStatus) -> None:
            try:
                self.kill_container(pod, container, "", grace_override)
            except BaseException as error:  # noqa: BLE001 - reported after the others finished
                errors.append(error)

        for container in status.containers:
            if container.state == CONTAINER_RUNNING:
                thread = threading.Thread(target=kill, args=(container,), name=f"kill-{container.name}", daemon=True)
                thread.start()
                threads.append(thread)
        for thread in threads:
            thread.join()
        for sandbox in status.sandboxes:
            if sandbox.ready:
                self.runtime.stop_pod_sandbox(sandbox.id)
        if errors:
            raise errors[0]

    def _remove_init_containers(self, pod: Obj, status: PodStatus) -> None:
        """A new sandbox runs every init container again: drop the old instances."""
        for container in status.containers:
            if container.init and container.state != CONTAINER_RUNNING:
                with contextlib.suppress(NotFoundError):
                    self.runtime.remove_container(container.id)

    def _prune(self, status: PodStatus, name: str, keep: int) -> None:
        """Keep the newest `keep` dead instances of a container (lastState, logs --previous)."""
        dead = [c for c in status.instances(name) if c.state != CONTAINER_RUNNING]
        for container in dead[keep:]:
            with contextlib.suppress(NotFoundError):
                self.runtime.remove_container(container.id)
        for sandbox in status.sandboxes[1:]:
            if not sandbox.ready and not self._containers_of(sandbox.id):
                with contextlib.suppress(NotFoundError):
                    self.runtime.remove_pod_sandbox(sandbox.id)

    def _containers_of(self, sandbox_id: str) -> list[Obj]:
        return self.runtime.list_containers({"pod_sandbox_id": sandbox_id})

    def remove_pod(self, uid: str) -> None:
        """Remove every sandbox (and with it every container) of a pod that is gone for good."""
        for item in self.runtime.list_pod_sandbox(self._selector(uid)):
            with contextlib.suppress(NotFoundError):
                self.runtime.remove_pod_sandbox(str(item["id"]))
        for item in self.runtime.list_containers(self._selector(uid)):
            with contextlib.suppress(NotFoundError):
                self.runtime.remove_container(str(item["id"]))

    def remove_log_dir(self, uid: str) -> None:
        """The pod's log directory (`<namespace>_<name>_<uid>`), once the pod is gone."""
        for directory in self.pod_logs_dir.glob(f"*_{uid}"):
            shutil.rmtree(directory, ignore_errors=True)
