"""Facts about this machine for the Node object: cpu, memory, disk, kernel, OS image, ids, addresses.

Read from /proc, /etc and the filesystem, the way cAdvisor feeds the kubelet; every read has a
fallback so a container-ish host (no DMI, no machine-id) still registers.
"""

from __future__ import annotations

import os
import platform
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MachineInfo:
    cpus: int
    memory_bytes: int
    machine_id: str
    system_uuid: str
    boot_id: str
    kernel_version: str
    os_image: str
    architecture: str


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def meminfo(path: str = "/proc/meminfo") -> dict[str, int]:
    """/proc/meminfo in bytes."""
    out: dict[str, int] = {}
    for line in _read(path).splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


def os_image(path: str = "/etc/os-release") -> str:
    for line in _read(path).splitlines():
        key, _, value = line.partition("=")
        if key == "PRETTY_NAME":
            return value.strip().strip('"')
    return "Linux"


def go_arch(machine: str | None = None) -> str:
    machine = machine or platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)


def machine_info() -> MachineInfo:
    return MachineInfo(
        cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
        memory_bytes=meminfo().get("MemTotal", 0),
        machine_id=_read("/etc/machine-id") or _read("/var/lib/dbus/machine-id"),
        system_uuid=_read("/sys/class/dmi/id/product_uuid"),
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        kernel_version=platform.release(),
        os_image=os_image(),
        architecture=go_arch(),
    )


def disk_usage(path: Path) -> tuple[int, int]:
    """(capacity, available) bytes of the filesystem holding `path` (its nearest existing parent)."""
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    stats = os.statvfs(current)
    return stats.f_blocks * stats.f_frsize, stats.f_bavail * stats.f_frsize


def pid_usage() -> tuple[int, int]:
    """(pid_max, processes running now)."""
    try:
        limit = int(_read("/proc/sys/kernel/pid_max") or 32768)
    except ValueError:
        limit = 32768
    running = sum(1 for entry in os.scandir("/proc") if entry.name.isdigit())
    return limit, running


def default_node_ip() -> str:
    """The address this host uses to reach other hosts (the source of its default route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))  # no packet is sent: this only picks a route
            address = str(sock.getsockname()[0])
        except OSError:
            return "127.0.0.1"
    return address if address != "0.0.0.0" else "127.0.0.1"
