"""The first moments of a container process, between fork() in the shim and exec() of the user's command.

Runs as PID 1 of a fresh pid namespace (the shim unshared it before forking). In order:
join the pod's net/ipc/uts namespaces, take a private mount namespace, build the rootfs
(/proc, read-only /sys, a tmpfs /dev with the standard nodes, /dev/pts, /dev/shm, bind mounts for
volumes and /etc/hosts|hostname|resolv.conf), pivot_root into it, mask Docker's /proc paths, wait
until the shim has put us in the container's cgroup (it does that while we mount), drop
capabilities, set no_new_privs, switch user, chdir, exec. Any failure is written to the error
pipe, which exec closes on success (it is close-on-exec), so the shim can tell "started" from "failed".
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import stat
import termios
import traceback
from pathlib import Path
from typing import Any

from minik.runtime import linux
from minik.runtime.spec import CAP_NUMBER, secure_join

DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
DEV_LINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
    ("core", "/proc/kcore"),
)
NOSUID_NODEV_NOEXEC = linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC


class ExecNotFoundError(Exception):
    """The command is not in the image: reported in the words Kubernetes users know."""


def _mkdirs(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


def _mount_target(rootfs: Path, destination: str, source: str) -> Path:
    """Create the mount point inside the rootfs, resolving symlinks inside it (never on the host)."""
    target = secure_join(rootfs, destination)
    if os.path.isdir(source):
        _mkdirs(target)
    else:
        _mkdirs(target.parent)
        if not target.exists():
            target.touch()
    return target


def setup_dev(rootfs: Path) -> None:
    dev = rootfs / "dev"
    _mkdirs(dev)
    linux.mount("tmpfs", str(dev), "tmpfs", linux.MS_NOSUID | linux.MS_STRICTATIME, "mode=755,size=65536k")
    for name, major, minor in DEVICES:
        os.mknod(dev / name, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(dev / name, 0o666)
    for name, target in DEV_LINKS:
        os.symlink(target, dev / name)
    (dev / "pts").mkdir()
    linux.mount("devpts", str(dev / "pts"), "devpts", linux.MS_NOSUID | linux.MS_NOEXEC,
                "newinstance,ptmxmode=0666,mode=0620,gid=5")
    (dev / "shm").mkdir()
    linux.mount("shm", str(dev / "shm"), "tmpfs", NOSUID_NODEV_NOEXEC, "mode=1777,size=65536k")
    (dev / "mqueue").mkdir()
    with contextlib.suppress(OSError):
        linux.mount("mqueue", str(dev / "mqueue"), "mqueue", NOSUID_NODEV_NOEXEC)


def setup_rootfs(spec: dict[str, Any]) -> None:
    rootfs = Path(spec["rootfs"])
    privileged = bool(spec.get("privileged"))
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    linux.mount(str(rootfs), str(rootfs), None, linux.MS_BIND | linux.MS_REC)
    proc = secure_join(rootfs, "/proc")
    _mkdirs(proc)
    linux.mount("proc", str(proc), "proc", NOSUID_NODEV_NOEXEC)
    sys_dir = secure_join(rootfs, "/sys")
    _mkdirs(sys_dir)
    linux.mount("sysfs", str(sys_dir), "sysfs", NOSUID_NODEV_NOEXEC | (0 if privileged else linux.MS_RDONLY))
    setup_dev(rootfs)
    for mount in spec.get("mounts", []):
        source = str(mount["source"])
        target = _mount_target(rootfs, str(mount["destination"]), source)
        linux.mount(source, str(target), None, linux.MS_BIND | linux.MS_REC)
        if mount.get("readonly"):
            linux.mount(None, str(target), None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_REC)
    pivot(rootfs)
    if not privileged:
        for path in spec.get("masked_paths", []):
            mask(path)
        for path in spec.get("readonly_paths", []):
            readonly(path)
    if spec.get("readonly_rootfs"):
        linux.mount(None, "/", None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY)


def pivot(rootfs: Path) -> None:
    """runc's pivot_root(".", ".") trick: no put_old directory is left in the image."""
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY)
    new_root = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY)
    try:
        os.fchdir(new_root)
        linux.pivot_root(".", ".")
        os.fchdir(old_root)
        linux.mount(None, ".", None, linux.MS_SLAVE | linux.MS_REC)
        linux.umount(".", linux.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old_root)
        os.close(new_root)


def mask(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        linux.mount("tmpfs", path, "tmpfs", linux.MS_RDONLY)
    else:
        linux.mount("/dev/null", path, None, linux.MS_BIND)


def readonly(path: str) -> None:
    if not os.path.lexists(path):
        return
    linux.mount(path, path, None, linux.MS_BIND | linux.MS_REC)
    linux.mount(None, path, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_REC)


def become(spec: dict[str, Any]) -> None:
    """Capabilities, no_new_privs and user: the last steps before exec, shared with `exec`."""
    if not spec.get("privileged"):
        keep = {CAP_NUMBER[name] for name in spec.get("capabilities", []) if name in CAP_NUMBER}
        linux.drop_capabilities(keep)
    if spec.get("no_new_privs", True) and not spec.get("privileged"):
        linux.set_no_new_privs()
    user = spec.get("user") or {}
    os.setgroups([int(g) for g in user.get("additional_gids", [])])
    os.setgid(int(user.get("gid", 0)))
    os.setuid(int(user.get("uid", 0)))


def reset_signals() -> None:
    """Default dispositions and an empty mask: an ignored signal stays ignored across exec, and a shell
    cannot even trap a signal it inherited as ignored (Python ignores SIGPIPE; the shim ignores SIGTERM)."""
    for number in range(1, signal.NSIG):
        if number in (signal.SIGKILL, signal.SIGSTOP):
            continue
        with contextlib.suppress(OSError, ValueError):
            signal.signal(number, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def exec_process(spec: dict[str, Any]) -> None:
    cwd = str(spec.get("cwd") or "/")
    try:
        os.chdir(cwd)
    except FileNotFoundError:
        os.makedirs(cwd, exist_ok=True)
        os.chdir(cwd)
    env = dict(item.split("=", 1) if "=" in item else (item, "") for item in spec.get("env", []))
    args = [str(a) for a in spec["args"]]
    if not args:
        raise ValueError("no command specified: the image has no Entrypoint/Cmd and the pod gives no command")
    reset_signals()
    try:
        os.execvpe(args[0], args, env)
    except FileNotFoundError:
        raise ExecNotFoundError(f'exec: "{args[0]}": executable file not found in $PATH') from None


def attach_tty(fd: int) -> None:
    os.setsid()
    fcntl.ioctl(fd, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(fd, target)


def container_init(spec: dict[str, Any], sync_fd: int, error_fd: int, stdio: tuple[int, int, int]) -> None:
    """Never returns: exec()s the container command or _exit()s after reporting the error."""
    try:
        if spec.get("tty"):
            attach_tty(stdio[1])
        else:
            os.setsid()
            for target, fd in enumerate(stdio):
                os.dup2(fd, target)
        for ns in ("ipc", "uts", "net"):
            path = spec.get("namespaces", {}).get(ns)
            if path:
                linux.setns_path(path, linux.NS_FLAGS[ns])
        linux.unshare(linux.CLONE_NEWNS)
        setup_rootfs(spec)  # meanwhile the shim moves us into our cgroup: the two overlap
        if os.read(sync_fd, 1) != b"1":  # in our cgroup before anything of the user's runs
            os._exit(1)
        os.close(sync_fd)
        become(spec)
        exec_process(spec)
    except BaseException as error:  # noqa: BLE001 - everything goes to the shim
        plain = isinstance(error, (OSError, ExecNotFoundError))
        message = str(error) if plain else f"{type(error).__name__}: {error}"
        try:
            os.write(error_fd, message.encode(errors="replace")[:4000])
            if os.environ.get("MINIK_DEBUG"):
                os.write(2, traceback.format_exc().encode())
        finally:
            os._exit(127)
    os._exit(127)
