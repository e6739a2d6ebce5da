"""The kubelet's settings (flags of `minik kubelet`) and the parsers for their value formats."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from minik.api.quantity import milli_value, value

DEFAULT_ROOT_DIR = Path("/var/lib/minik/kubelet")
DEFAULT_MANIFEST_PATH = Path("/etc/minik/manifests")
DEFAULT_PORT = 10250
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


class ConfigError(ValueError):
    """A flag value that cannot be used; the message names the flag."""


def parse_key_values(text: str, flag: str) -> dict[str, str]:
    """`a=1,b=2` (empty values allowed: `role=`)."""
    out: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag}: {item!r} is not key=value")
        out[key.strip()] = val.strip()
    return out


def parse_taints(text: str) -> list[dict[str, str]]:
    """`key=value:Effect,key2:Effect` like --register-with-taints."""
    taints = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        left, sep, effect = item.rpartition(":")
        if not sep or effect not in TAINT_EFFECTS:
            raise ConfigError(f"--register-with-taints: {item!r}: effect must be one of {', '.join(TAINT_EFFECTS)}")
        key, _, val = left.partition("=")
        if not key:
            raise ConfigError(f"--register-with-taints: {item!r} has no key")
        taint = {"key": key, "effect": effect}
        if val:
            taint["value"] = val
        taints.append(taint)
    return taints


def parse_reserved(text: str) -> dict[str, int]:
    """`cpu=100m,memory=256Mi` -> cpu in millicores, memory in bytes."""
    out: dict[str, int] = {}
    for name, amount in parse_key_values(text, "--system-reserved").items():
        try:
            out[name] = milli_value(amount) if name == "cpu" else value(amount)
        except ValueError as error:
            raise ConfigError(f"--system-reserved: {name}={amount}: {error}") from None
    return out


@dataclass
class KubeletConfig:
    kubeconfig: Path | None = None
    node_name: str = field(default_factory=lambda: socket.gethostname().lower())
    runtime_endpoint: str = "unix:///run/minik/runtime.sock"
    root_dir: Path = DEFAULT_ROOT_DIR
    pod_manifest_path: Path | None = DEFAULT_MANIFEST_PATH
    node_ip: str = ""
    node_labels: dict[str, str] = field(default_factory=dict)
    register_with_taints: list[dict[str, str]] = field(default_factory=list)
    cpu: str | None = None  # capacity overrides, as quantities
    memory: str | None = None
    max_pods: int = 110
    system_reserved: dict[str, int] = field(default_factory=dict)
    node_status_update_frequency: float = 10.0
    node_lease_duration: int = 40
    lease_renew_interval: float = 10.0
    crash_loop_backoff_initial: float = 10.0
    crash_loop_backoff_max: float = 300.0
    port: int = DEFAULT_PORT
    address: str = "0.0.0.0"
    tls_cert_file: Path | None = None
    tls_private_key_file: Path | None = None
    sync_frequency: float = 60.0
    file_check_frequency: float = 20.0
    pleg_relist_period: float = 1.0
    housekeeping_interval: float = 2.0
    cluster_dns: list[str] = field(default_factory=list)
    cluster_domain: str = "cluster.local"
    verbosity: int = 0

    @property
    def pod_logs_dir(self) -> Path:
        return self.root_dir / "pod-logs"
