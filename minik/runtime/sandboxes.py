"""Pod sandboxes: a pause process holding the pod's net/ipc/uts namespaces, the pod cgroup, and the
files every container of the pod mounts (/etc/hostname, /etc/hosts, /etc/resolv.conf).

State lives in `<root>/sandboxes/<id>/sandbox.json`; readiness is computed from it and from
whether the recorded pause process (pid + start time) is still alive.

Sandboxes are created in parallel (a burst of pods must not queue behind one runtime-wide lock
while each waits for its CNI plugin): each sandbox has its own lock, held for its whole creation
and taken by stop and remove, so those wait for a half-created sandbox instead of tearing it
down under its creator's feet. Ids are random and each sandbox writes only its own directory,
cgroup and CNI attachment; what is shared (IPAM, the bridge) the CNI plugin locks itself.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from minik.runtime import linux
from minik.runtime.cgroups import Cgroups, Resources
from minik.runtime.network import NetworkPlugin, host_veth
from minik.runtime.process import HelperLauncher, kill_and_wait
from minik.runtime.state import CRIError, RecordStore, log, new_id, now_ns, write_json

SANDBOX_READY = "SANDBOX_READY"
SANDBOX_NOTREADY = "SANDBOX_NOTREADY"
NAMESPACE_NODE = 2  # CRI NamespaceMode.NODE


def is_mounted(path: Path) -> bool:
    """Whether `path` is a mount point in our mount namespace (per /proc/self/mountinfo)."""
    target = str(path)
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == target for line in f)
    except OSError:
        return False


def safe_cgroup_name(value: str) -> str:
    parts = [p for p in value.strip("/").split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise CRIError(f"invalid cgroup parent {value!r}")
    return "/".join(parts)


def resolv_conf(dns: dict[str, Any] | None, host_file: Path = Path("/etc/resolv.conf")) -> str:
    """The pod's resolv.conf: the DNS config from the kubelet, else the node's own file."""
    dns = dns or {}
    if dns.get("servers") or dns.get("searches") or dns.get("options"):
        lines = [f"nameserver {s}" for s in dns.get("servers", [])]
        if dns.get("searches"):
            lines.append("search " + " ".join(dns["searches"]))
        if dns.get("options"):
            lines.append("options " + " ".join(dns["options"]))
        return "\n".join(lines) + "\n"
    try:
        return host_file.read_text()
    except OSError:
        return ""


def hosts_file(hostname: str, ip: str | None) -> str:
    lines = [
        "# Kubernetes-managed hosts file (minik).",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
    ]
    if ip:
        lines.append(f"{ip}\t{hostname}")
    return "\n".join(lines) + "\n"


class Sandboxes(RecordStore):
    kind = "pod sandbox"
    file = "sandbox.json"

    def __init__(self, root: Path, cgroups: Cgroups, network: NetworkPlugin,
                 helpers: HelperLauncher | None = None) -> None:
        super().__init__(root / "sandboxes")
        self.cgroups = cgroups
        self.network = network
        self.helpers = helpers or HelperLauncher(str(root))
        self.lock = threading.Lock()  # guards `locks` only
        self.locks: dict[str, threading.RLock] = {}

    @contextlib.contextmanager
    def locked(self, sandbox_id: str) -> Iterator[None]:
        """Hold one sandbox's lock (re-entrant: remove stops under it); other sandboxes go on."""
        with self.lock:
            lock = self.locks.setdefault(sandbox_id, threading.RLock())
        with lock:
            yield

    def forget(self, sandbox_id: str) -> None:
        """Drop the lock of a sandbox that is gone."""
        with self.lock:
            self.locks.pop(sandbox_id, None)

    def state(self, record: dict[str, Any]) -> str:
        # "creating": the network is not set up yet, or never will be (the runtime died meanwhile)
        if record.get("creating") or record.get("stopped"):
            return SANDBOX_NOTREADY
        if not linux.alive(int(record.get("pause_pid") or 0), record.get("pause_start")):
            return SANDBOX_NOTREADY
        return SANDBOX_READY

    def pause_pid(self, record: dict[str, Any]) -> int:
        pid = int(record.get("pause_pid") or 0)
        if self.state(record) != SANDBOX_READY:
            raise CRIError(f"pod sandbox {record['id']} is not ready")
        return pid

    def namespaces(self, record: dict[str, Any]) -> dict[str, str]:
        """Namespace files containers join (none for hostNetwork pods: they stay in the node's)."""
        pid = self.pause_pid(record)
        names = ["ipc"] if record.get("host_network") else ["ipc", "uts", "net"]
        return {ns: f"/proc/{pid}/ns/{ns}" for ns in names}

    # ---------------------------------------------------------------- CRI

    def run(self, config: dict[str, Any]) -> str:
        metadata = config.get("metadata") or {}
        name = str(metadata.get("name") or "")
        if not name:
            raise CRIError("pod sandbox config needs metadata.name")
        linux_cfg = config.get("linux") or {}
        options = ((linux_cfg.get("security_context") or {}).get("namespace_options")) or {}
        host_network = options.get("network") == NAMESPACE_NODE
        hostname = socket.gethostname() if host_network else str(config.get("hostname") or name)[:63]
        sandbox_id = new_id()
        directory = self.dir(sandbox_id)
        pod_cgroup = safe_cgroup_name(str(linux_cfg.get("cgroup_parent") or "")) or (
            f"pod{metadata.get('uid')}" if metadata.get("uid") else f"pod-{sandbox_id[:12]}"
        )
        record: dict[str, Any] = {
            "id": sandbox_id,
            "metadata": metadata,
            "config": config,
            "created_at": now_ns(),
            "hostname": hostname,
            "host_network": host_network,
            "cgroup": pod_cgroup,
            "pause_cgroup": f"{pod_cgroup}/{sandbox_id}",
            "labels": config.get("labels") or {},
            "annotations": config.get("annotations") or {},
        }
        directory.mkdir(parents=True)  # the id is random: a collision fails here, nothing to lock
        with self.locked(sandbox_id):
            try:
                (directory / "hostname").write_text(hostname + "\n")
                (directory / "resolv.conf").write_text(resolv_conf(config.get("dns_config")))
                (directory / "hosts").write_text(hosts_file(hostname, None))
                (directory / "shm").mkdir()  # one /dev/shm for the whole pod, as with containerd
                linux.mount("shm", str(directory / "shm"), "tmpfs",
                            linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC, "mode=1777,size=65536k")
                self.cgroups.create(pod_cgroup, Resources.from_cri(linux_cfg.get("resources")))
                self.cgroups.create(record["pause_cgroup"])
                args = [hostname] + (["--host-network"] if host_network else [])
                report = self.helpers.run_detached("pause", args, directory / "pause.log")
                pid = int(report["pid"])
                record["pause_pid"] = pid
                record["pause_start"] = linux.process_start_time(pid)
                # recorded before the CNI call, so a runtime that dies during it leaves a record to
                # clean up by (NOTREADY, as "creating" stays), not an orphaned pause process
                write_json(directory / "sandbox.json", {**record, "creating": True})
                self.cgroups.add_process(record["pause_cgroup"], pid)
                if not host_network:
                    ip = self.network.setup(sandbox_id, f"/proc/{pid}/ns/net", config)
                    if ip:
                        record["ip"] = ip
                        (directory / "hosts").write_text(hosts_file(hostname, ip))
                write_json(directory / "sandbox.json", record)
            except BaseException:
                self._destroy(record)
                self.forget(sandbox_id)
                raise
        return sandbox_id

    def _destroy(self, record: dict[str, Any]) -> None:
        kill_and_wait(record.get("pause_pid"), record.get("pause_start"))
        with contextlib.suppress(Exception):
            self._remove_cgroups(record)
        self._remove_files(record["id"])

    def _remove_cgroups(self, record: dict[str, Any]) -> None:
        """The sandbox's own pause cgroup, and the pod cgroup only when no other sandbox of the pod
        uses it: the kubelet makes a new sandbox (attempt N+1) before it removes the old one, and
        removing a cgroup kills what is in it."""
        if record.get("pause_cgroup"):
            self.cgroups.remove(record["pause_cgroup"])
        shared = any(other.get("cgroup") == record.get("cgroup") and other.get("id") != record.get("id")
                     for other in self.all())
        if not shared:
            self.cgroups.remove(record["cgroup"])

    def _remove_files(self, sandbox_id: str) -> None:
        shm = self.dir(sandbox_id) / "shm"
        if is_mounted(shm):
            with contextlib.suppress(OSError):
                linux.umount(str(shm), linux.MNT_DETACH)
        shutil.rmtree(self.dir(sandbox_id), ignore_errors=True)

    def stop_pause(self, record: dict[str, Any]) -> None:
        """Tear the network down and end the pause process (its namespaces go with it). Idempotent."""
        pid = int(record.get("pause_pid") or 0)
        alive = linux.alive(pid, record.get("pause_start"))
        if not record.get("host_network"):
            try:
                self.network.teardown(record["id"], f"/proc/{pid}/ns/net" if alive else None, record.get("config", {}))
            except Exception as error:  # noqa: BLE001 - stopping must make progress
                log.warning("network teardown of sandbox %s failed: %s", record["id"], error)
        kill_and_wait(pid, record.get("pause_start"))
        if not record.get("stopped"):
            record["stopped"] = True
            write_json(self.dir(record["id"]) / "sandbox.json", record)

    def remove_dir(self, record: dict[str, Any]) -> None:
        self._remove_cgroups(record)
        self._remove_files(record["id"])

    def veth(self, record: dict[str, Any]) -> str:
        """The node end of the pod's cable; costs a netlink round trip, so only verbose status asks."""
        pid = int(record.get("pause_pid") or 0)
        if not record.get("ip") or self.state(record) != SANDBOX_READY:
            return ""
        return host_veth(f"/proc/{pid}/ns/net")

    def status(self, record: dict[str, Any]) -> dict[str, Any]:
        pid = int(record.get("pause_pid") or 0)
        ready = self.state(record) == SANDBOX_READY
        namespaces = {ns: linux.ns_inode(pid, ns) for ns in ("net", "ipc", "uts", "pid")} if ready else {}
        return {
            "id": record["id"],
            "metadata": record.get("metadata", {}),
            "state": self.state(record),
            "created_at": record.get("created_at", 0),
            "network": {"ip": record.get("ip", ""), "additional_ips": []},
            "linux": {
                "namespaces": {
                    "options": {"network": NAMESPACE_NODE if record.get("host_network") else 0, "pid": 0, "ipc": 0}
                }
            },
            "labels": record.get("labels", {}),
            "annotations": record.get("annotations", {}),
            "info": {
                "pause_pid": pid if ready else 0,
                "hostname": record.get("hostname", ""),
                "namespace_inodes": namespaces,
                "cgroup": record.get("cgroup"),
                "cgroup_dirs": {k: str(v) for k, v in self.cgroups.dirs(record["cgroup"]).items()},
            },
        }
