"""Pod volumes: emptyDir (a directory, or a tmpfs for `medium: Memory`) and hostPath, plus the mounts
each container gets (with subPath and readOnly).

Layout follows the kubelet's, so a learner finds the same paths a Kubernetes node has:
`<root-dir>/pods/<uid>/volumes/kubernetes.io~empty-dir/<name>`. The pod directory (and every emptyDir
in it) is removed with the pod; hostPath volumes are the node's own files and are never removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
from pathlib import Path

from minik.api.quantity import value
from minik.kubelet import podutil
from minik.kubelet.types import Obj
from minik.runtime import linux
from minik.runtime.cleanup import mounts_under
from minik.runtime.sandboxes import is_mounted

log = logging.getLogger(__name__)

EMPTY_DIR_PLUGIN = "kubernetes.io~empty-dir"

_HOST_PATH_CHECKS = {
    "Directory": (stat.S_ISDIR, "is not a directory"),
    "File": (stat.S_ISREG, "is not a file"),
    "Socket": (stat.S_ISSOCK, "is not a socket file"),
    "CharDevice": (stat.S_ISCHR, "is not a character device"),
    "BlockDevice": (stat.S_ISBLK, "is not a block device"),
}


class VolumeError(Exception):
    """A volume could not be set up; `str()` is the FailedMount message."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {message}')
        self.volume = volume


def check_host_path(path: str, type_: str) -> None:
    """Kubernetes' hostPath type checks; the *OrCreate types create what is missing."""
    if not path.startswith("/"):
        raise ValueError(f"hostPath {path!r} must be absolute")
    if type_ == "DirectoryOrCreate":
        if not os.path.exists(path):
            os.makedirs(path, mode=0o755, exist_ok=True)
        type_ = "Directory"
    elif type_ == "FileOrCreate":
        if not os.path.exists(path):
            if not os.path.isdir(os.path.dirname(path) or "/"):
                raise ValueError(f"hostPath type check failed: {os.path.dirname(path)} is not a directory")
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
            os.close(fd)
        type_ = "File"
    if not type_:
        return
    check = _HOST_PATH_CHECKS.get(type_)
    if check is None:
        raise ValueError(f"hostPath type {type_!r} is not supported")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ValueError(f"hostPath type check failed: {path} {check[1]}") from None
    if not check[0](mode):
        raise ValueError(f"hostPath type check failed: {path} {check[1]}")


class VolumeManager:
    def __init__(self, root_dir: Path) -> None:
        self.root_dir = root_dir
        self.pods_dir = root_dir / "pods"

    def pod_dir(self, uid: str) -> Path:
        return self.pods_dir / uid

    def empty_dir_path(self, uid: str, name: str) -> Path:
        return self.pod_dir(uid) / "volumes" / EMPTY_DIR_PLUGIN / name

    def mount_volumes(self, pod: Obj) -> dict[str, Path]:
        """Set up every volume of the pod (idempotent); volume name -> host path."""
        uid = podutil.uid(pod)
        paths: dict[str, Path] = {}
        for volume in podutil.volumes(pod):
            name = str(volume["name"])
            try:
                paths[name] = self._set_up(uid, volume)
            except VolumeError:
                raise
            except (OSError, ValueError, ArithmeticError) as error:
                raise VolumeError(name, str(error)) from None
        return paths

    def _set_up(self, uid: str, volume: Obj) -> Path:
        name = str(volume["name"])
        host_path = volume.get("hostPath")
        if isinstance(host_path, dict):
            path = str(host_path.get("path") or "")
            check_host_path(path, str(host_path.get("type") or ""))
            return Path(path)
        empty_dir = volume.get("emptyDir")
        if isinstance(empty_dir, dict) or (empty_dir is None and len(volume) == 1):
            return self._set_up_empty_dir(uid, name, empty_dir or {})
        kinds = [k for k in volume if k != "name"]
        raise VolumeError(name, f"volume type {kinds[0] if kinds else '?'} is not supported by minik yet")

    def _set_up_empty_dir(self, uid: str, name: str, source: Obj) -> Path:
        path = self.empty_dir_path(uid, name)
        path.mkdir(parents=True, exist_ok=True)
        if source.get("medium") == "Memory" and not is_mounted(path):
            options = "mode=0777"
            if source.get("sizeLimit") not in (None, ""):
                options += f",size={value(str(source['sizeLimit']))}"
            linux.mount("tmpfs", str(path), "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, options)
        elif source.get("medium") not in (None, "", "Memory"):
            raise VolumeError(name, f"emptyDir medium {source.get('medium')!r} is not supported")
        path.chmod(0o777)
        return path

    def container_mounts(self, pod: Obj, container: Obj, volume_paths: dict[str, Path]) -> list[Obj]:
        """CRI mounts for a container's volumeMounts (subPath directories are created inside the volume)."""
        mounts: list[Obj] = []
        for mount in container.get("volumeMounts") or []:
            if not isinstance(mount, dict):
                continue
            name = str(mount.get("name") or "")
            base = volume_paths.get(name)
            if base is None:
                raise VolumeError(name, f"volume {name!r} is not defined in the pod")
            host = base
            sub_path = str(mount.get("subPath") or "")
            if sub_path:
                host = self._sub_path(name, base, sub_path)
            mounts.append({"container_path": str(mount.get("mountPath") or ""), "host_path": str(host),
                           "readonly": mount.get("readOnly") is True})
        return mounts

    def _sub_path(self, volume: str, base: Path, sub_path: str) -> Path:
        if sub_path.startswith("/") or ".." in Path(sub_path).parts:
            raise VolumeError(volume, f"subPath {sub_path!r} must be a relative path without '..'")
        host = base / sub_path
        if not host.exists() and not host.is_symlink():
            host.mkdir(parents=True, exist_ok=True, mode=0o755)
        real_base = os.path.realpath(base)
        real = os.path.realpath(host)
        if real != real_base and not real.startswith(real_base.rstrip("/") + "/"):
            raise VolumeError(volume, f"subPath {sub_path!r} resolves outside the volume ({real})")
        return Path(real)

    def termination_message_file(self, uid: str, container: str) -> Path:
        """An empty file per container instance, mounted at its terminationMessagePath."""
        directory = self.pod_dir(uid) / "containers" / container
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / os.urandom(4).hex()
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o666)
        os.close(fd)
        path.chmod(0o666)
        return path

    def pod_uids_on_disk(self) -> list[str]:
        try:
            return [p.name for p in self.pods_dir.iterdir() if p.is_dir()]
        except OSError:
            return []

    def clean_up_pod(self, uid: str) -> None:
        """Unmount the pod's tmpfs volumes and delete its directory; hostPath volumes are never touched."""
        directory = self.pod_dir(uid)
        if not directory.exists():
            return
        for point in mounts_under(directory):
            with contextlib.suppress(OSError):
                linux.umount(point, linux.MNT_DETACH)
        if mounts_under(directory):
            log.warning("pod dir %s still has mounts; not removed", directory)
            return
        shutil.rmtree(directory, ignore_errors=True)
