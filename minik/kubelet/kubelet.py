"""The Kubelet: wires sources, pod workers, runtime manager, prober, status manager and node status.

Sources: the API (list+watch of `spec.nodeName=<node>`) and the static pod directory feed the pod
manager; every change, every PLEG event, every probe result change and a periodic resync wake the pod's
worker, which runs `sync_pod_worker(uid)`: admit (once), then sync the runtime to the spec and write the
status, or kill the pod when it is being deleted or has finished, or remove everything when no source
knows the pod any more. Containers are never children of the kubelet: a restarted kubelet finds its
pods in the runtime by their labels and carries on with the same containers. A Service informer
(all namespaces) gives the containers their Service environment variables (envvars.py).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
import time
from pathlib import Path

from minik.api.errors import AlreadyExistsError, ConflictError, NotFoundError, StatusError
from minik.api.resources import lookup
from minik.client.events import EventRecorder
from minik.client.informer import NAMESPACE_INDEX, Informer
from minik.client.rest import Client, ConnectionFailed
from minik.kubelet import podutil
from minik.kubelet.admission import can_admit_pod
from minik.kubelet.backoff import Backoff
from minik.kubelet.config import KubeletConfig
from minik.kubelet.container import ContainerConfigError
from minik.kubelet.envvars import NAMESPACE_DEFAULT, service_env_var_map
from minik.kubelet.images import ImageManager
from minik.kubelet.lease import NodeLease
from minik.kubelet.lifecycle import HandlerRunner
from minik.kubelet.machine import default_node_ip, machine_info
from minik.kubelet.nodestatus import initial_node, node_labels, node_resources, node_status
from minik.kubelet.pleg import PLEG
from minik.kubelet.podmanager import PodManager
from minik.kubelet.podworkers import PodWorkers, WorkResult
from minik.kubelet.prober import ContainerInfo, ProbeManager
from minik.kubelet.probes import ProbeTarget, named_ports, sandbox_netns_pid
from minik.kubelet.runtime_manager import PodContextSource, RuntimeManager
from minik.kubelet.static_pods import StaticPodSource, build_mirror_pod
from minik.kubelet.status import ProbeView, WaitingReason, generate_api_pod_status, now_rfc3339
from minik.kubelet.status_manager import StatusManager
from minik.kubelet.types import CONFIG_MIRROR_ANNOTATION, CONTAINER_RUNNING, Obj, PodStatus, format_pod
from minik.kubelet.volumes import VolumeError, VolumeManager
from minik.runtime.client import RuntimeClient
from minik.runtime.state import CRIError

log = logging.getLogger("minik.kubelet")

PODS = lookup("pods")
NODES = lookup("nodes")
SERVICES = lookup("services")
assert PODS is not None and NODES is not None and SERVICES is not None


class Kubelet:
    def __init__(self, cfg: KubeletConfig, client: Client, runtime: RuntimeClient, token: str = "") -> None:
        self.cfg = cfg
        self.client = client
        self.runtime = runtime
        self.token = token
        self.node_name = cfg.node_name
        self.machine = machine_info()
        self.node_ip = cfg.node_ip or default_node_ip()
        self.node: Obj | None = None
        self.recorder = EventRecorder(client, "kubelet", host=self.node_name)
        self.pod_manager = PodManager()
        self.status_manager = StatusManager(client, self.pod_manager.api_pod_for)
        self.volumes = VolumeManager(cfg.root_dir)
        self.crash_backoff = Backoff(cfg.crash_loop_backoff_initial, cfg.crash_loop_backoff_max)
        self.image_backoff = Backoff(cfg.crash_loop_backoff_initial, cfg.crash_loop_backoff_max)
        self.images = ImageManager(runtime, self.event, self.image_backoff)
        self.prober = ProbeManager(runtime, self.container_info, self.event, self._probe_changed)
        self._stop = threading.Event()
        assert SERVICES is not None
        self.service_informer = Informer(client, SERVICES)
        self.runtime_manager = RuntimeManager(
            runtime, self.node_name, self.volumes, self.images, self.crash_backoff, self.event, cfg.pod_logs_dir,
            PodContextSource(lambda: self.node_ip, self.allocatable, self.service_env),
            liveness_failed=self.prober.liveness_failed, startup_failed=self.prober.startup_failed,
            cluster_dns=cfg.cluster_dns, cluster_domain=cfg.cluster_domain,
            hooks=HandlerRunner(runtime, self._stop))
        self.pod_workers = PodWorkers(self.sync_pod_worker, cfg.sync_frequency)
        self.pleg = PLEG(self.runtime_manager.relist, self.pod_workers.update, cfg.pleg_relist_period)
        self.lease = NodeLease(client, self.node_name, cfg.node_lease_duration)
        assert PODS is not None
        self.informer = Informer(client, PODS, field_selector=f"spec.nodeName={self.node_name}")
        self.static_source: StaticPodSource | None = None
        if cfg.pod_manifest_path is not None:
            self.static_source = StaticPodSource(cfg.pod_manifest_path, self.node_name, self.handle_static_pods,
                                                 self._static_pod_error, cfg.file_check_frequency)
        self._lock = threading.RLock()
        self._reasons: dict[str, dict[str, WaitingReason]] = {}
        self._runtime_cache: dict[str, PodStatus] = {}
        self._admitted: set[str] = set()
        self._rejected: set[str] = set()
        self._known_in_runtime: set[str] = set()
        self._static_synced = threading.Event()
        self._threads: list[threading.Thread] = []
        self.server: object | None = None

    # ---------------------------------------------------------------- lifecycle

    def run(self) -> None:
        """Start everything and block until stop()."""
        self.start()
        self._stop.wait()

    def start(self) -> None:
        self.cfg.root_dir.mkdir(parents=True, exist_ok=True)
        self.cfg.pod_logs_dir.mkdir(parents=True, exist_ok=True)
        self._wait_for_runtime()
        self._known_in_runtime = set(self.runtime_manager.list_pods())
        self._start_server()
        self._spawn(self._node_loops, "node-status")  # static pods run even while the API is unreachable
        self.informer.add_event_handler(self._on_pod_add, self._on_pod_update, self._on_pod_delete)
        self.service_informer.start()
        self.informer.start()
        if self.static_source is not None:
            self.static_source.start()
        else:
            self._static_synced.set()
        self._spawn(self._start_when_synced, "sources-sync")

    def stop(self) -> None:
        self._stop.set()
        self.pleg.stop()
        if self.static_source is not None:
            self.static_source.stop()
        self.informer.stop()
        self.service_informer.stop()
        self.prober.stop()
        self.pod_workers.stop(timeout=1.0)
        server = self.server
        if server is not None and hasattr(server, "stop"):
            server.stop()
        self.recorder.flush(2.0)
        self.recorder.stop()

    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _wait_for_runtime(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                version = self.runtime.version()
                log.info("container runtime %s %s ready", version.get("runtime_name"), version.get("runtime_version"))
                return
            except CRIError as error:
                log.warning("waiting for the container runtime: %s", error)
            self._stop.wait(delay)
            delay = min(delay * 2, 5.0)

    def _start_server(self) -> None:
        from minik.kubelet.server import KubeletServer

        server = KubeletServer(self, self.cfg.address, self.cfg.port, self.token, self.cfg.tls_cert_file,
                               self.cfg.tls_private_key_file)
        server.start()
        self.server = server

    def _start_when_synced(self) -> None:
        """Only once every source has been read may pods unknown to them be treated as orphans."""
        while not self._stop.is_set():
            if self.informer.has_synced() and self._static_synced.is_set():
                break
            self._stop.wait(0.05)
        if self._stop.is_set():
            return
        log.info("pod sources synced: starting the PLEG and housekeeping")
        self.pleg.start()
        self._spawn(self._housekeeping_loop, "housekeeping")

    # ---------------------------------------------------------------- node

    def allocatable(self) -> dict[str, int]:
        return node_resources(self.cfg, self.machine).allocatable

    def register_node(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self.node = self._register_once()
                self.lease.set_owner(self.node)
                self.update_node_status()
                log.info("node %s registered (InternalIP %s)", self.node_name, self.node_ip)
                return
            except (StatusError, ConnectionFailed) as error:
                log.warning("registering node %s failed: %s; retrying", self.node_name, error)
            self._stop.wait(delay)
            delay = min(delay * 2, 7.0)

    def _register_once(self) -> Obj:
        assert NODES is not None
        wanted = initial_node(self.cfg, self.machine)
        try:
            return self.client.create(NODES, wanted)
        except AlreadyExistsError:
            pass
        existing = self.client.get(NODES, self.node_name)
        labels = dict(existing.get("metadata", {}).get("labels") or {})
        missing = {k: v for k, v in node_labels(self.cfg, self.machine).items() if labels.get(k) != v}
        if missing:
            existing = self.client.patch(NODES, self.node_name, {"metadata": {"labels": missing}})
        return existing

    def update_node_status(self) -> None:
        assert NODES is not None
        try:
            status = self.runtime.status()
            conditions = {c.get("type"): c for c in status.get("conditions") or []}
            down = [t for t in ("RuntimeReady", "NetworkReady") if not (conditions.get(t) or {}).get("status")]
            ready = not down
            message = "" if ready else f"container runtime status check may not have completed yet: {', '.join(down)}"
            version = self.runtime.version()
        except CRIError as error:
            ready, message, version = False, f"container runtime is down: {error}", {}
        old = ((self.node or {}).get("status") or {}).get("conditions") or []
        body = node_status(self.cfg, self.machine, self.node_ip, version, ready, message, old)
        self.node = self.client.patch(NODES, self.node_name, {"status": body}, subresource="status")

    def _node_loops(self) -> None:
        """Register, then keep the Lease and the Node's status fresh."""
        self.register_node()
        for pod in self.pod_manager.static_pods():
            self.pod_workers.update(podutil.uid(pod))  # their mirrors wait for the Node (their owner)
        self._spawn(self._lease_loop, "node-lease")
        while not self._stop.wait(self.cfg.node_status_update_frequency):
            try:
                self.update_node_status()
            except NotFoundError:
                log.warning("node %s was deleted; registering again", self.node_name)
                self.register_node()
            except (StatusError, ConnectionFailed) as error:
                log.warning("updating node status failed: %s", error)

    def _lease_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.lease.renew()
            except (StatusError, ConnectionFailed) as error:
                log.warning("renewing the node lease failed: %s", error)
            self._stop.wait(self.cfg.lease_renew_interval)

    # ---------------------------------------------------------------- events

    def event(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        """Record an Event about a pod (a static pod's events go to its mirror, where describe finds them)."""
        ref = self.pod_manager.api_pod_for(pod) if podutil.is_static_pod(pod) else pod
        target = ref or pod
        if not target.get("kind"):
            target = {**target, "kind": "Pod", "apiVersion": "v1"}
        self.recorder.event(target, type_, reason, message)

    def _static_pod_error(self, message: str) -> None:
        node = self.node or {"kind": "Node", "apiVersion": "v1", "metadata": {"name": self.node_name}}
        self.recorder.event(node, "Warning", "FailedStaticPodManifest", message)

    # ---------------------------------------------------------------- services, for the containers' env

    def service_env(self, pod: Obj) -> dict[str, str]:
        """The pod's Service variables. A pod from the API waits until Services were listed once, so a
        restarted kubelet never starts a container without KUBERNETES_SERVICE_HOST; a static pod takes
        what is known (it must run while the API is unreachable)."""
        if not podutil.is_static_pod(pod) and not self.service_informer.has_synced():
            raise ContainerConfigError("services have not yet been read at least once, cannot construct envvars")
        namespaces = dict.fromkeys([podutil.namespace(pod), NAMESPACE_DEFAULT])
        services = [s for ns in namespaces for s in self.service_informer.store.by_index(NAMESPACE_INDEX, ns)]
        links = podutil.spec(pod).get("enableServiceLinks") is not False
        return service_env_var_map(services, podutil.namespace(pod), links)

    # ---------------------------------------------------------------- sources

    def _on_pod_add(self, pod: Obj) -> None:
        self._on_pod_update(None, pod)

    def _on_pod_update(self, old: Obj | None, pod: Obj) -> None:
        if podutil.is_mirror_pod(pod):
            self.pod_manager.set_mirror(pod)
            static = self.pod_manager.by_name(podutil.namespace(pod), podutil.name(pod))
            if static is not None and podutil.is_static_pod(static):
                self.pod_workers.update(podutil.uid(static))
            return
        self.handle_pod(pod)

    def _on_pod_delete(self, pod: Obj) -> None:
        if podutil.is_mirror_pod(pod):
            self.pod_manager.remove_mirror(pod)
            static = self.pod_manager.by_name(podutil.namespace(pod), podutil.name(pod))
            if static is not None and podutil.is_static_pod(static):
                self.pod_workers.update(podutil.uid(static))
            return
        uid = podutil.uid(pod)
        self.pod_manager.remove_pod(uid)
        self.pod_workers.update(uid)

    def handle_pod(self, pod: Obj) -> None:
        uid = podutil.uid(pod)
        if not uid:
            return
        previous = self.pod_manager.set_pod(pod)
        if previous is None:
            self._admit(pod)
        elif previous.get("spec") != pod.get("spec"):
            self.prober.remove_pod(uid)
            if uid in self._admitted:
                self.prober.add_pod(pod)
        self.pod_workers.update(uid)

    def handle_static_pods(self, pods: list[Obj]) -> None:
        wanted = {podutil.uid(p): p for p in pods}
        for current in self.pod_manager.static_pods():
            if podutil.uid(current) not in wanted:
                log.info("static pod %s removed", format_pod(current))
                self.pod_manager.remove_pod(podutil.uid(current))
                self._delete_mirror(current)
                self.pod_workers.update(podutil.uid(current))
        for uid, pod in wanted.items():
            if self.pod_manager.get(uid) is None:
                log.info("static pod %s added", format_pod(pod))
                self.handle_pod(pod)
        self._static_synced.set()

    def _admit(self, pod: Obj) -> None:
        uid = podutil.uid(pod)
        with self._lock:
            if uid in self._admitted or uid in self._rejected:
                return
            if podutil.is_terminal_phase(podutil.phase(pod)) or podutil.deletion_timestamp(pod) \
                    or uid in self._known_in_runtime:
                self._admitted.add(uid)
                self.prober.add_pod(pod)
                return
            active = [p for p in self.pod_manager.pods() if podutil.uid(p) in self._admitted
                      and not podutil.is_terminal_phase(self._phase(p))]
            result = can_admit_pod(pod, active, self.allocatable())
            if not result.admit:
                self._rejected.add(uid)
            else:
                self._admitted.add(uid)
        if result.admit:
            self.prober.add_pod(pod)
            return
        log.warning("pod %s rejected: %s", format_pod(pod), result.message)
        self.event(pod, "Warning", result.reason, result.message.removeprefix("Pod was rejected: "))
        status = copy.deepcopy(self.status_manager.old_status(pod))
        status.update(phase="Failed", reason=result.reason, message=result.message)
        status.setdefault("startTime", now_rfc3339())
        status.setdefault("qosClass", podutil.qos_class(pod))
        self.status_manager.set_pod_status(pod, status)

    def _phase(self, pod: Obj) -> str:
        cached = self.status_manager.get_pod_status(podutil.uid(pod))
        return str((cached or {}).get("phase") or podutil.phase(pod))

    # ---------------------------------------------------------------- probes and the server's view

    def _probe_changed(self, uid: str) -> None:
        self.pod_workers.update(uid)

    def container_info(self, uid: str, name: str) -> ContainerInfo | None:
        with self._lock:
            status = self._runtime_cache.get(uid)
        pod = self.pod_manager.get(uid)
        if status is None or pod is None:
            return None
        found = status.find_container(name)
        if found is None:
            return None
        running = found.state == CONTAINER_RUNNING
        target = None
        if running:
            host_network = podutil.host_network(pod)
            netns_pid = None if host_network else sandbox_netns_pid(self.runtime, found.sandbox_id)
            pod_ip = self.node_ip if host_network else (status.ips[0] if status.ips else "")
            target = ProbeTarget(found.id, pod_ip, netns_pid, named_ports(podutil.find_container(pod, name) or {}))
        return ContainerInfo(found.id, running, found.started_at / 1e9, target)

    def runtime_status(self, uid: str) -> PodStatus | None:
        with self._lock:
            return self._runtime_cache.get(uid)

    def _probe_view(self, pod: Obj, status: PodStatus) -> ProbeView:
        uid = podutil.uid(pod)
        names = {c.id: c.name for c in status.containers}
        return ProbeView(ready=lambda cid: self.prober.is_ready(uid, names.get(cid, ""), cid),
                         started=lambda cid: self.prober.is_started(uid, names.get(cid, ""), cid))

    # ---------------------------------------------------------------- the pod worker's sync

    def sync_pod_worker(self, uid: str) -> WorkResult:
        pod = self.pod_manager.get(uid)
        if pod is None:
            return self._remove_orphan(uid)
        if uid in self._rejected:
            return WorkResult()
        if uid not in self._admitted:
            self._admit(pod)
            if uid in self._rejected:
                return WorkResult()
        if podutil.deletion_timestamp(pod):
            return self._terminate(pod)
        if podutil.is_terminal_phase(self._phase(pod)):
            return self._ensure_stopped(pod)
        return self.sync_pod(pod)

    def _fetch_status(self, pod: Obj) -> PodStatus:
        status = self.runtime_manager.get_pod_status(podutil.uid(pod), podutil.name(pod), podutil.namespace(pod))
        with self._lock:
            self._runtime_cache[podutil.uid(pod)] = status
        return status

    def _write_status(self, pod: Obj, status: PodStatus, terminal: bool = False) -> Obj:
        uid = podutil.uid(pod)
        with self._lock:
            reasons = dict(self._reasons.get(uid, {}))
        api = generate_api_pod_status(pod, status, self.status_manager.old_status(pod), self.node_ip, reasons,
                                      self._probe_view(pod, status), pod_is_terminal=terminal)
        self.status_manager.set_pod_status(pod, api)
        return api

    def sync_pod(self, pod: Obj) -> WorkResult:
        uid = podutil.uid(pod)
        if podutil.is_static_pod(pod):
            self._ensure_mirror(pod)
        try:
            volume_paths = self.volumes.mount_volumes(pod)
        except VolumeError as error:
            self.event(pod, "Warning", "FailedMount", str(error))
            self._write_status(pod, self._fetch_status(pod))
            return WorkResult(requeue_after=2.0)
        status = self._fetch_status(pod)
        result = self.runtime_manager.sync_pod(pod, status, volume_paths)
        with self._lock:
            self._reasons[uid] = result.reasons
        status = self._fetch_status(pod)
        api = self._write_status(pod, status)
        if podutil.is_terminal_phase(str(api.get("phase"))):
            log.info("pod %s finished (%s): stopping its sandbox", format_pod(pod), api.get("phase"))
            self.runtime_manager.kill_pod(pod, status)
            self._fetch_status(pod)
        return WorkResult(requeue_after=result.requeue_after)

    def _ensure_stopped(self, pod: Obj) -> WorkResult:
        status = self._fetch_status(pod)
        if status.running() or any(s.ready for s in status.sandboxes):
            self.runtime_manager.kill_pod(pod, status)
            self._fetch_status(pod)
        return WorkResult()

    def _terminate(self, pod: Obj) -> WorkResult:
        """Graceful deletion: stop every container within the grace period, report, then delete for good."""
        status = self._fetch_status(pod)
        if status.running() or any(s.ready for s in status.sandboxes):
            log.info("pod %s is being deleted: stopping it (grace %ss)", format_pod(pod),
                     podutil.termination_grace_seconds(pod))
            self.runtime_manager.kill_pod(pod, status)
            status = self._fetch_status(pod)
        if status.running():
            return WorkResult(requeue_after=1.0)
        with self._lock:
            self._reasons.pop(podutil.uid(pod), None)
        if not podutil.is_static_pod(pod):
            self._write_status(pod, status, terminal=True)
            assert PODS is not None
            with contextlib.suppress(NotFoundError, ConflictError):
                self.client.delete(PODS, podutil.name(pod), podutil.namespace(pod), grace_period_seconds=0,
                                   preconditions={"uid": podutil.uid(pod)})
        return WorkResult(requeue_after=5.0)

    def _remove_orphan(self, uid: str) -> WorkResult:
        """No source knows the pod: stop and remove its containers, sandboxes, volumes and logs."""
        status = self.runtime_manager.get_pod_status(uid)
        if status.running() or any(s.ready for s in status.sandboxes):
            log.info("pod %s is gone from the API: stopping its containers", uid)
            self.runtime_manager.kill_pod(None, status)
        self.runtime_manager.remove_pod(uid)
        self.volumes.clean_up_pod(uid)
        self.runtime_manager.remove_log_dir(uid)
        self.prober.remove_pod(uid)
        self.status_manager.forget(uid)
        self.crash_backoff.delete_matching(uid)
        self.image_backoff.delete_matching(uid)
        with self._lock:
            self._reasons.pop(uid, None)
            self._runtime_cache.pop(uid, None)
            self._admitted.discard(uid)
            self._rejected.discard(uid)
        return WorkResult(done=True)

    # ---------------------------------------------------------------- static pods' mirrors

    def _ensure_mirror(self, pod: Obj) -> None:
        assert PODS is not None
        if self.node is None:
            return
        mirror = self.pod_manager.mirror_of(pod)
        if mirror is not None and (podutil.deletion_timestamp(mirror)
                                   or podutil.annotations_of(mirror).get(CONFIG_MIRROR_ANNOTATION)
                                   != podutil.config_hash(pod)):
            self._delete_mirror(pod)
            mirror = None
        if mirror is None:
            try:
                created = self.client.create(PODS, build_mirror_pod(pod, self.node), podutil.namespace(pod))
                self.pod_manager.set_mirror(created)
                log.info("mirror pod %s created", podutil.key(created))
            except AlreadyExistsError:
                pass
            except (StatusError, ConnectionFailed) as error:  # a static pod runs without the API anyway
                log.warning("creating mirror pod for %s failed: %s", format_pod(pod), error)

    def _delete_mirror(self, pod: Obj) -> None:
        assert PODS is not None
        mirror = self.pod_manager.mirror_of(pod)
        if mirror is None:
            return
        try:
            self.client.delete(PODS, podutil.name(mirror), podutil.namespace(mirror), grace_period_seconds=0,
                               preconditions={"uid": podutil.uid(mirror)})
        except (NotFoundError, ConflictError):
            pass
        except (StatusError, ConnectionFailed) as error:
            log.warning("deleting mirror pod %s failed: %s", podutil.key(mirror), error)
            return
        self.pod_manager.remove_mirror(mirror)

    # ---------------------------------------------------------------- housekeeping

    def _housekeeping_loop(self) -> None:
        while not self._stop.wait(self.cfg.housekeeping_interval):
            try:
                self.housekeeping()
            except Exception:
                log.exception("housekeeping failed")

    def housekeeping(self) -> None:
        """Orphaned mirror pods and pod directories, back-off entries that expired."""
        static_keys = {podutil.key(p) for p in self.pod_manager.static_pods()}
        for mirror in self.pod_manager.mirrors():
            if podutil.key(mirror) not in static_keys:
                log.info("mirror pod %s has no static pod: deleting it", podutil.key(mirror))
                with contextlib.suppress(NotFoundError, ConflictError):
                    assert PODS is not None
                    self.client.delete(PODS, podutil.name(mirror), podutil.namespace(mirror),
                                       grace_period_seconds=0, preconditions={"uid": podutil.uid(mirror)})
                self.pod_manager.remove_mirror(mirror)
        known = {podutil.uid(p) for p in self.pod_manager.pods()}
        in_runtime = set(self.runtime_manager.list_pods())
        for uid in self.volumes.pod_uids_on_disk():
            if uid not in known and uid not in in_runtime and not self.pod_workers.is_working(uid):
                self.volumes.clean_up_pod(uid)
                self.runtime_manager.remove_log_dir(uid)
        self.crash_backoff.gc()
        self.image_backoff.gc()

    # ---------------------------------------------------------------- helpers for tests and the server

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.informer.has_synced() and self._static_synced.is_set():
                return True
            time.sleep(0.05)
        return False

    @property
    def root_dir(self) -> Path:
        return self.cfg.root_dir
