"""Containers: overlay rootfs, cgroup, the shim that runs them, stop/remove, exec, status and stats.

Everything about a container is under `<root>/containers/<id>/`:

    container.json   what the kubelet asked for (CRI config) and what it resolved to
    spec.json        the process spec the shim and `exec` use (args, env, user, mounts, namespaces...)
    status.json      written by the shim: pid, started_at, finished_at, exit_code, reason
    rootfs/          the overlay mount (lowerdir = image layers, upperdir = upper/, workdir = work/)
    container.log    CRI-format log (unless the kubelet chose a path)

The runtime keeps no process handles: state is recomputed from these files and /proc, which is
what lets a restarted runtime re-adopt running containers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any

from minik.runtime import linux
from minik.runtime.cgroups import Cgroups, Resources
from minik.runtime.images.store import ImageStore
from minik.runtime.process import helper_argv, signal_process, wait_gone
from minik.runtime.sandboxes import Sandboxes, is_mounted
from minik.runtime.spec import (
    MASKED_PATHS,
    READONLY_PATHS,
    capability_set,
    clean_container_path,
    merge_command,
    merge_env,
    resolve_user,
)
from minik.runtime.state import CRIError, NotFoundError, RecordStore, new_id, now_ns, read_json, write_json

CREATED = "CONTAINER_CREATED"
RUNNING = "CONTAINER_RUNNING"
EXITED = "CONTAINER_EXITED"
UNKNOWN = "CONTAINER_UNKNOWN"
MAX_MOUNT_DATA = 4000  # the kernel takes one page of mount options


def overlay_options(lowerdirs: list[Path], upper: Path, work: Path) -> str:
    options = f"lowerdir={':'.join(str(p) for p in lowerdirs)},upperdir={upper},workdir={work}"
    if len(options) > MAX_MOUNT_DATA:
        raise CRIError(f"image has too many layers for one overlay mount ({len(lowerdirs)})")
    return options


def _sig(name: str | None) -> int:
    if not name:
        return signal.SIGTERM
    name = name.upper()
    if name.isdigit():
        return int(name)
    try:
        return int(signal.Signals[name if name.startswith("SIG") else f"SIG{name}"])
    except KeyError:
        return signal.SIGTERM


class Containers(RecordStore):
    kind = "container"
    file = "container.json"

    def __init__(self, root: Path, cgroups: Cgroups, images: ImageStore, sandboxes: Sandboxes,
                 log_max_size: int = 10 << 20, log_max_files: int = 5) -> None:
        super().__init__(root / "containers")
        self.cgroups = cgroups
        self.images = images
        self.sandboxes = sandboxes
        self.helpers = sandboxes.helpers
        self.log_max_size = log_max_size
        self.log_max_files = log_max_files
        self.lock = threading.Lock()  # guards `locks`
        self.locks: dict[str, threading.Lock] = {}

    def _lock(self, container_id: str) -> threading.Lock:
        """One lock per container: a start and a remove of one container never overlap, while
        different containers are created, started and removed in parallel (a start waits for its
        shim's report, a remove for the kernel to let go of mounts and cgroups)."""
        with self.lock:
            return self.locks.setdefault(container_id, threading.Lock())

    def status_file(self, record: dict[str, Any]) -> dict[str, Any]:
        return read_json(self.dir(record["id"]) / "status.json") or {}

    def state(self, record: dict[str, Any], status: dict[str, Any] | None = None) -> str:
        status = self.status_file(record) if status is None else status
        if status.get("finished_at"):
            return EXITED
        if not status.get("started_at"):
            return CREATED
        if linux.alive(int(status.get("pid") or 0), status.get("pid_start")):
            return RUNNING
        if linux.alive(int(status.get("shim_pid") or 0), status.get("shim_start")):
            return RUNNING  # exited a moment ago; the shim is writing the exit code
        return EXITED  # the container and its shim vanished (killed): exit unknown

    def _settle_lost(self, record: dict[str, Any]) -> dict[str, Any]:
        """Record an exit nobody saw (shim and container both killed): exit 255, reason Unknown."""
        status = self.status_file(record)
        if status.get("started_at") and not status.get("finished_at") and self.state(record, status) == EXITED:
            status.update(finished_at=now_ns(), exit_code=255, reason="Unknown",
                          message="container and shim disappeared; exit code lost")
            write_json(self.dir(record["id"]) / "status.json", status, durable=False)
        return status

    # ---------------------------------------------------------------- create

    def create(self, sandbox_id: str, config: dict[str, Any], sandbox_config: dict[str, Any] | None = None) -> str:
        sandbox = self.sandboxes.get(sandbox_id)
        namespaces = self.sandboxes.namespaces(sandbox)
        metadata = config.get("metadata") or {}
        if not metadata.get("name"):
            raise CRIError("container config needs metadata.name")
        image_ref = str((config.get("image") or {}).get("image") or "")
        image = self.images.find_image(image_ref)
        if image is None:
            raise NotFoundError(f"image {image_ref!r} not present on this node: pull it first")
        linux_cfg = config.get("linux") or {}
        security = linux_cfg.get("security_context") or {}
        privileged = bool(security.get("privileged"))
        container_id = new_id()
        directory = self.dir(container_id)
        rootfs, upper, work = directory / "rootfs", directory / "upper", directory / "work"
        cgroup = f"{sandbox['cgroup']}/{container_id}"
        log_dir = (sandbox.get("config") or {}).get("log_directory")
        log_path = directory / "container.log"
        if log_dir and config.get("log_path"):
            log_path = Path(log_dir) / str(config["log_path"])
        # no lock: nobody else knows this id until container.json exists
        for path in (rootfs, upper, work):
            path.mkdir(parents=True)
        try:
            lowerdirs = self.images.lease(container_id, image)
            linux.mount("overlay", str(rootfs), "overlay", 0, overlay_options(lowerdirs, upper, work))
            image_cfg = image.exec_config
            user = resolve_user(
                str(image_cfg.get("User") or ""),
                (security.get("run_as_user") or {}).get("value"),
                (security.get("run_as_group") or {}).get("value"),
                security.get("run_as_username") or None,
                [int(g) for g in security.get("supplemental_groups") or []],
                rootfs,
            )
            args = merge_command(
                list(config.get("command") or []),
                list(config.get("args") or []),
                list(image_cfg.get("Entrypoint") or []),
                list(image_cfg.get("Cmd") or []),
            )
            if not args:
                raise CRIError("no command specified: the image has no Entrypoint/Cmd and none was given")
            caps = security.get("capabilities") or {}
            mounts = self._mounts(sandbox, config)
            resources = Resources.from_cri(linux_cfg.get("resources"))
            self.cgroups.create(cgroup, resources)
            spec = {
                "id": container_id,
                "rootfs": str(rootfs),
                "args": args,
                "env": merge_env(list(image_cfg.get("Env") or []), list(config.get("envs") or [])),
                "cwd": str(config.get("working_dir") or image_cfg.get("WorkingDir") or "/"),
                "user": {"uid": user.uid, "gid": user.gid, "additional_gids": user.additional_gids},
                "namespaces": namespaces,
                "mounts": mounts,
                "privileged": privileged,
                "capabilities": capability_set(
                    list(caps.get("add_capabilities") or []), list(caps.get("drop_capabilities") or []), privileged
                ),
                "no_new_privs": not privileged,
                "readonly_rootfs": bool(security.get("readonly_rootfs")),
                "masked_paths": list(security.get("masked_paths") or MASKED_PATHS),
                "readonly_paths": list(security.get("readonly_paths") or READONLY_PATHS),
                "tty": bool(config.get("tty")),
                "cgroup_procs": self.cgroups.procs_files(cgroup),
                "oom_files": self.cgroups.oom_files(cgroup),
                "log_path": str(log_path),
                "log_max_size": self.log_max_size,
                "log_max_files": self.log_max_files,
                "status_path": str(directory / "status.json"),
                "stop_signal": str(image_cfg.get("StopSignal") or "SIGTERM"),
            }
            record = {
                "id": container_id,
                "pod_sandbox_id": sandbox["id"],
                "metadata": metadata,
                "image": {"image": image_ref},
                "image_id": image.id,
                "image_name": image.repo_tags[0] if image.repo_tags else image_ref,
                "labels": config.get("labels") or {},
                "annotations": config.get("annotations") or {},
                "created_at": now_ns(),
                "log_path": str(log_path),
                "cgroup": cgroup,
                "mounts": config.get("mounts") or [],
                "resources": linux_cfg.get("resources") or {},
                "overlay": {
                    "lowerdir": [str(p) for p in lowerdirs],
                    "upperdir": str(upper),
                    "workdir": str(work),
                    "merged": str(rootfs),
                },
            }
            write_json(directory / "spec.json", spec)
            write_json(directory / "container.json", record)
        except BaseException:
            self._destroy(container_id, cgroup)
            raise
        return container_id

    def _mounts(self, sandbox: dict[str, Any], config: dict[str, Any]) -> list[dict[str, Any]]:
        """Volume bind mounts plus the pod's /etc files (unless the kubelet mounts its own)."""
        mounts: dict[str, dict[str, Any]] = {}
        sandbox_dir = self.sandboxes.dir(sandbox["id"])
        for name in ("hostname", "hosts", "resolv.conf"):
            mounts[f"/etc/{name}"] = {"source": str(sandbox_dir / name), "destination": f"/etc/{name}",
                                      "readonly": False}
        if (sandbox_dir / "shm").is_dir():
            mounts["/dev/shm"] = {"source": str(sandbox_dir / "shm"), "destination": "/dev/shm", "readonly": False}
        for mount in config.get("mounts") or []:
            destination = clean_container_path(str(mount.get("container_path") or ""))
            source = str(mount.get("host_path") or "")
            if not source.startswith("/"):
                raise CRIError(f"mount {destination}: host_path {source!r} must be absolute")
            if not os.path.exists(source):
                os.makedirs(source, exist_ok=True)  # containerd does the same for missing host dirs
            mounts[destination] = {"source": source, "destination": destination,
                                   "readonly": bool(mount.get("readonly"))}
        return sorted(mounts.values(), key=lambda m: m["destination"].count("/"))

    def _destroy(self, container_id: str, cgroup: str | None) -> None:
        directory = self.dir(container_id)
        rootfs = directory / "rootfs"
        if is_mounted(rootfs):
            with contextlib.suppress(OSError):
                linux.umount(str(rootfs), linux.MNT_DETACH)
        self.images.release(container_id)
        if cgroup:
            with contextlib.suppress(Exception):
                self.cgroups.remove(cgroup)
        shutil.rmtree(directory, ignore_errors=True)

    # ---------------------------------------------------------------- lifecycle

    def start(self, container_id: str) -> None:
        with self._lock(self.get(container_id)["id"]):
            record = self.get(container_id)
            if self.state(record) != CREATED:
                raise CRIError(f"container {record['id']} is not in created state")
            sandbox = self.sandboxes.get(record["pod_sandbox_id"])
            self.sandboxes.pause_pid(sandbox)  # raises when the pod's namespaces are gone
            directory = self.dir(record["id"])
            overlay = record.get("overlay") or {}
            if not is_mounted(directory / "rootfs"):  # e.g. the node rebooted since create
                lowerdirs = [Path(p) for p in overlay.get("lowerdir", [])]
                linux.mount("overlay", str(directory / "rootfs"), "overlay", 0,
                            overlay_options(lowerdirs, directory / "upper", directory / "work"))
            self.helpers.run_detached("shim", [str(directory / "spec.json")], directory / "shim.log", standby=True)

    def stop(self, container_id: str, timeout: int | float = 0) -> None:
        """SIGTERM (or the image's StopSignal), wait up to `timeout` seconds, then SIGKILL. Idempotent."""
        record = self.get(container_id)
        status = self.status_file(record)
        if self.state(record, status) != RUNNING:
            self._settle_lost(record)
            return
        pid, start = int(status.get("pid") or 0), status.get("pid_start")
        spec = read_json(self.dir(record["id"]) / "spec.json") or {}
        if timeout > 0 and signal_process(pid, start, _sig(spec.get("stop_signal"))):
            wait_gone(pid, start, float(timeout))
        signal_process(pid, start, signal.SIGKILL)
        wait_gone(pid, start, 30)
        # the shim exits once it has written the exit code
        wait_gone(int(status.get("shim_pid") or 0), status.get("shim_start"), 30)
        self._settle_lost(record)

    def remove(self, container_id: str) -> None:
        """Stop if needed, unmount, drop the cgroup and the state. Removing a missing container is fine."""
        try:
            record = self.get(container_id)
        except NotFoundError:
            return
        self.stop(record["id"], 0)
        with self._lock(record["id"]):
            self._destroy(record["id"], record.get("cgroup"))
            log_path = Path(str(record.get("log_path", "")))
            if log_path.is_absolute() and not log_path.is_relative_to(self.dir(record["id"])):
                for file in [log_path, *log_path.parent.glob(f"{log_path.name}.*")]:
                    file.unlink(missing_ok=True)
        with self.lock:
            self.locks.pop(record["id"], None)

    # ---------------------------------------------------------------- views

    def status(self, record: dict[str, Any]) -> dict[str, Any]:
        status = self._settle_lost(record) if self.status_file(record).get("started_at") else {}
        state = self.state(record, status)
        result: dict[str, Any] = {
            "id": record["id"],
            "metadata": record.get("metadata", {}),
            "state": state,
            "created_at": record.get("created_at", 0),
            "started_at": int(status.get("started_at") or 0),
            "finished_at": int(status.get("finished_at") or 0) if state == EXITED else 0,
            "exit_code": int(status.get("exit_code") or 0) if state == EXITED else 0,
            "image": record.get("image", {}),
            "image_ref": record.get("image_id", ""),
            "image_id": record.get("image_id", ""),
            "reason": str(status.get("reason") or "") if state == EXITED else "",
            "message": str(status.get("message") or "") if state == EXITED else "",
            "labels": record.get("labels", {}),
            "annotations": record.get("annotations", {}),
            "mounts": record.get("mounts", []),
            "log_path": record.get("log_path", ""),
            "resources": {"linux": record.get("resources", {})},
        }
        return result

    def info(self, record: dict[str, Any]) -> dict[str, Any]:
        """What `crictl inspect` shows: pids, namespace inodes, cgroup paths and limits, overlay dirs."""
        status = self.status_file(record)
        running = self.state(record, status) == RUNNING
        pid = int(status.get("pid") or 0) if running else 0
        spec = read_json(self.dir(record["id"]) / "spec.json") or {}
        cgroup = str(record.get("cgroup", ""))
        return {
            "pid": pid,
            "shim_pid": int(status.get("shim_pid") or 0) if running else 0,
            "namespaces": {ns: linux.ns_inode(pid, ns) for ns in ("pid", "mnt", "net", "ipc", "uts")} if pid else {},
            "cgroup": {
                "version": self.cgroups.version,
                "dirs": {k: str(v) for k, v in self.cgroups.dirs(cgroup).items()},
                "limits": self.cgroups.limits(cgroup) if cgroup else {},
            },
            "overlay": record.get("overlay", {}),
            "spec_path": str(self.dir(record["id"]) / "spec.json"),
            "process": {k: spec.get(k) for k in ("args", "env", "cwd", "user", "capabilities")},
            "mounts": spec.get("mounts", []),
        }

    def stats(self, record: dict[str, Any]) -> dict[str, Any]:
        stamp = now_ns()
        values = self.cgroups.stats(str(record.get("cgroup", ""))) if record.get("cgroup") else {}
        return {
            "attributes": {"id": record["id"], "metadata": record.get("metadata", {}),
                           "labels": record.get("labels", {}), "annotations": record.get("annotations", {})},
            "cpu": {"timestamp": stamp, "usage_core_nano_seconds": {"value": values.get("cpu_usage_ns", 0)}},
            "memory": {
                "timestamp": stamp,
                "working_set_bytes": {"value": values.get("memory_working_set_bytes", 0)},
                "usage_bytes": {"value": values.get("memory_usage_bytes", 0)},
            },
            "pids": values.get("pids", 0),
        }

    # ---------------------------------------------------------------- exec

    def exec_sync(self, container_id: str, cmd: list[str], timeout: float = 0) -> dict[str, Any]:
        """Run `cmd` in the container's namespaces and cgroup; its output and exit code."""
        record = self.get(container_id)
        status = self.status_file(record)
        if self.state(record, status) != RUNNING or not cmd:
            raise CRIError(f"container {record['id']} is not running" if cmd else "exec needs a command")
        args = [str(self.dir(record["id"]) / "spec.json"), str(status["pid"]), *cmd]
        try:
            out, err, code = self.helpers.run_output("nsexec", args, timeout)
        except TimeoutError:
            raise CRIError(f"command {cmd!r} timed out after {timeout}s") from None
        return {"stdout": out, "stderr": err, "exit_code": code}

    def exec_argv(self, container_id: str, cmd: list[str]) -> list[str]:
        """The command line that enters the container (for an interactive exec with a terminal)."""
        record = self.get(container_id)
        status = self.status_file(record)
        if self.state(record, status) != RUNNING:
            raise CRIError(f"container {record['id']} is not running")
        return helper_argv("nsexec", str(self.dir(record["id"]) / "spec.json"), str(status["pid"]), *cmd)
