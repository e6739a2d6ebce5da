"""Calling a CNI plugin the way containerd (libcni) does: exec it with CNI_* env and config on stdin.

The plugin is a separate process on purpose: it enters other network namespaces (pyroute2
forks helpers to do so), which is unsafe inside a multi-threaded daemon like the runtime.
With `node_netns` the plugin runs inside that network namespace, so a node that is a namespace
of one host gets its bridge, sysctls and iptables there, never on the host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import minik
from minik.proxy.iptables import netns_path

# -S: no `site` (its .pth files, the editable-install finder): a third of a bare interpreter's start,
# paid on every pod. The plugin finds minik and its site-packages through PYTHONPATH instead.
PLUGIN_ARGV: tuple[str, ...] = (sys.executable, "-S", "-m", "minik.cni")
SOURCE_ROOT = str(Path(minik.__file__).resolve().parent.parent)
SITE_DIRS = tuple(p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages"))


class CNIInvokeError(Exception):
    """The plugin answered with a CNI error (or did not answer properly)."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(f"{msg}: {details}" if details else msg)
        self.code = code
        self.msg = msg
        self.details = details


def cni_args(metadata: Mapping[str, Any], container_id: str) -> dict[str, str]:
    """CNI_ARGS the kubelet's CNI path passes for a pod (plugins may ignore them)."""
    return {
        "IgnoreUnknown": "1",
        "K8S_POD_NAMESPACE": str(metadata.get("namespace") or ""),
        "K8S_POD_NAME": str(metadata.get("name") or ""),
        "K8S_POD_INFRA_CONTAINER_ID": container_id,
        "K8S_POD_UID": str(metadata.get("uid") or ""),
    }


def exec_plugin(command: str, conf: Mapping[str, Any], *, container_id: str = "", netns: str = "",
                ifname: str = "eth0", args: Mapping[str, str] | None = None, node_netns: str | None = None,
                argv: Sequence[str] = PLUGIN_ARGV, timeout: float = 120.0) -> dict[str, Any] | None:
    """Run one CNI command; returns the parsed result (None when the plugin prints nothing)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CNI_")}
    env.update({
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container_id,
        "CNI_NETNS": netns,
        "CNI_IFNAME": ifname,
        "CNI_PATH": os.path.dirname(sys.executable),
        "CNI_ARGS": ";".join(f"{k}={v}" for k, v in (args or {}).items() if ";" not in v and "=" not in v),
    })
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SOURCE_ROOT, env.get("PYTHONPATH", ""), *SITE_DIRS) if p)
    full = list(argv)
    if node_netns:
        full = ["nsenter", f"--net={netns_path(node_netns)}", "--", *full]
    try:
        proc = subprocess.run(full, input=json.dumps(dict(conf)).encode(), env=env, capture_output=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise CNIInvokeError(5, f"cannot run CNI plugin {command}", str(error)) from None
    out = proc.stdout.decode(errors="replace").strip()
    try:
        result = json.loads(out) if out else None
    except ValueError:
        result = None
        if proc.returncode == 0:
            raise CNIInvokeError(6, f"CNI {command}: plugin printed invalid JSON", out[:500]) from None
    if proc.returncode != 0:
        if isinstance(result, dict) and "code" in result:
            raise CNIInvokeError(int(result.get("code") or 999), str(result.get("msg") or ""),
                                 str(result.get("details") or ""))
        raise CNIInvokeError(999, f"CNI {command} failed with exit status {proc.returncode}",
                             proc.stderr.decode(errors="replace").strip()[-500:])
    return result if isinstance(result, dict) else None
