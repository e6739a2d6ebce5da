"""Kernel settings a bridge pod network needs, in the namespace the plugin runs in.

- net.ipv4.ip_forward: the node routes between its bridge, other nodes and the outside;
- net.bridge.bridge-nf-call-iptables: traffic between two pods of the same bridge must pass
  iptables, or a Service reply from a pod on the same node skips the conntrack reverse-NAT.
  It comes with the br_netfilter module, loaded on demand.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from minik.cni.errors import IO_FAILURE, CNIError

log = logging.getLogger(__name__)

PROC_SYS = Path("/proc/sys")
IP_FORWARD = "net/ipv4/ip_forward"
BRIDGE_NF = "net/bridge/bridge-nf-call-iptables"


def set_sysctl(key: str, value: str, root: Path = PROC_SYS) -> bool:
    """Write the value unless it is already set; False if the key does not exist."""
    path = root / key
    try:
        if path.read_text().strip() == value:
            return True
        path.write_text(value)
        return True
    except FileNotFoundError:
        return False
    except OSError as error:
        raise CNIError(IO_FAILURE, f"cannot set {key.replace('/', '.')}={value}", str(error)) from None


def load_br_netfilter() -> None:
    modprobe = shutil.which("modprobe")
    if modprobe:
        subprocess.run([modprobe, "br_netfilter"], capture_output=True, timeout=30)


def ensure_forwarding(root: Path = PROC_SYS) -> list[str]:
    """Turn on forwarding and bridge netfilter; returns warnings for what could not be set."""
    warnings = []
    if not set_sysctl(IP_FORWARD, "1", root):
        raise CNIError(IO_FAILURE, "net.ipv4.ip_forward is missing", "is /proc mounted?")
    if not set_sysctl(BRIDGE_NF, "1", root):
        load_br_netfilter()
        if not set_sysctl(BRIDGE_NF, "1", root):
            warnings.append("br_netfilter is not available: Service traffic between pods of one node "
                            "may bypass iptables")
    return warnings
