"""Turn a CRI container config plus an image config into the process a container runs (pure logic).

The rules are Kubernetes' (and containerd's): command replaces the image Entrypoint, args replace the
image Cmd; the container's env overrides the image's; runAsUser overrides the image User.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minik.runtime.state import CRIError

CAPABILITIES = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
]  # fmt: skip
CAP_NUMBER = {name: number for number, name in enumerate(CAPABILITIES)}

# Docker's (and containerd's) default set for unprivileged containers.
DEFAULT_CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP",
    "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)  # fmt: skip

# Docker's masked and read-only /proc and /sys paths (lifted for privileged containers).
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
)  # fmt: skip
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def merge_command(command: list[str], args: list[str], entrypoint: list[str], cmd: list[str]) -> list[str]:
    """Kubernetes' rule: command replaces Entrypoint (and drops Cmd); args replace Cmd."""
    if command:
        return [*command, *args]
    return [*entrypoint, *(args if args else cmd)]


def merge_env(image_env: list[str], envs: list[dict[str, Any]]) -> list[str]:
    """Image env first, then the container's; a later key replaces an earlier one in place."""
    merged: dict[str, str] = {}
    for item in image_env:
        key, sep, value = item.partition("=")
        if key:
            merged[key] = value if sep else ""
    for env in envs:
        key = str(env.get("key", ""))
        if key:
            merged[key] = str(env.get("value", ""))
    if "PATH" not in merged:
        merged["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return [f"{k}={v}" for k, v in merged.items()]


def capability_set(add: list[str], drop: list[str], privileged: bool) -> list[str]:
    """The container's capabilities: Docker's defaults with the securityContext's add/drop applied."""
    if privileged:
        return list(CAPABILITIES)
    normalize = [c.upper().removeprefix("CAP_") for c in add], [c.upper().removeprefix("CAP_") for c in drop]
    adds, drops = normalize
    for name in (*adds, *drops):
        if name != "ALL" and name not in CAP_NUMBER:
            raise CRIError(f"unknown capability {name!r}")
    caps = set(DEFAULT_CAPABILITIES)
    if "ALL" in drops:
        caps.clear()
    caps -= set(drops)
    caps |= set(CAPABILITIES) if "ALL" in adds else set(adds)
    return sorted(caps, key=CAP_NUMBER.__getitem__)


def secure_join(root: Path, path: str) -> Path:
    """`root/path` with every symlink resolved inside `root`, like runc's securejoin: an image
    symlink such as /data -> /etc can never make the runtime touch the host's /etc."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink():
            hops += 1
            if hops > 40:
                raise CRIError(f"too many symlinks resolving {path!r}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return root.joinpath(*resolved)


@dataclass
class User:
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)


def _passwd(rootfs: Path | None) -> list[list[str]]:
    return _colon_file(rootfs, "/etc/passwd")


def _colon_file(rootfs: Path | None, name: str) -> list[list[str]]:
    if rootfs is None:
        return []
    try:
        text = secure_join(rootfs, name).read_text(errors="replace")
    except OSError:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(
    image_user: str,
    run_as_user: int | None,
    run_as_group: int | None,
    run_as_username: str | None,
    supplemental: list[int],
    rootfs: Path | None,
) -> User:
    """uid/gid the container runs as: securityContext first, else the image's User (`name[:group]`)."""
    passwd = _passwd(rootfs)
    groups = _colon_file(rootfs, "/etc/group")
    user_part, _, group_part = (image_user or "").partition(":")
    username: str | None = None
    uid: int | None = None
    gid: int | None = None
    if run_as_user is not None:
        uid = run_as_user
        group_part = ""  # runAsUser replaces the image's whole User
    elif run_as_username:
        user_part, group_part = run_as_username, ""
    if uid is None and user_part:
        if user_part.isdigit():
            uid = int(user_part)
        else:
            entry = next((e for e in passwd if e[0] == user_part and len(e) >= 4), None)
            if entry is None:
                raise CRIError(f"unable to find user {user_part}: no matching entries in passwd file")
            uid, gid, username = int(entry[2]), int(entry[3]), entry[0]
    uid = 0 if uid is None else uid
    if username is None:
        entry = next((e for e in passwd if len(e) >= 4 and e[2] == str(uid)), None)
        if entry is not None:
            username = entry[0]
            if gid is None and entry[3].isdigit():
                gid = int(entry[3])
    if group_part:
        if group_part.isdigit():
            gid = int(group_part)
        else:
            group = next((g for g in groups if g[0] == group_part and len(g) >= 3), None)
            if group is None:
                raise CRIError(f"unable to find group {group_part}: no matching entries in group file")
            gid = int(group[2])
    if run_as_group is not None:
        gid = run_as_group
    gid = 0 if gid is None else gid
    extra = [int(g[2]) for g in groups if username and len(g) >= 4 and username in g[3].split(",") and g[2].isdigit()]
    additional = sorted({*extra, *supplemental} - {gid})
    return User(uid=uid, gid=gid, additional_gids=additional)


def clean_container_path(path: str) -> str:
    """Mount targets must be absolute and clean (Kubernetes validates the same)."""
    if not path.startswith("/"):
        raise CRIError(f"mount path {path!r} must be absolute")
    return posixpath.normpath(path)
