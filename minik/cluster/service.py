"""`minik install-service`: this machine's node components as systemd services, so a VM keeps its
node across reboots and crashes like a kubeadm node keeps its kubelet.

One unit per component, `minik-<component>.service`, running exactly the command `minik join` (and
`minik up`) would start, so nothing is configured twice. systemd plays `minik supervise`'s part:
Restart=on-failure with a back-off that doubles from 1 s to 60 s (RestartSteps needs systemd 254;
older ones restart every second). Output goes to the same log files, so `minik logs vm1/kubelet`
works either way. The kubelet Requires= the runtime, which is started first.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from minik.cluster.components import Component, node_components
from minik.cluster.config import ClusterConfig, default_state_dir, load_saved
from minik.cluster.nodes import NodeSpec, cluster_nodes

UNIT_DIR = Path("/etc/systemd/system")
SYSTEMD_RUNTIME_DIR = Path("/run/systemd/system")  # exists only when systemd is PID 1
UNIT_PREFIX = "minik-"
_PLAIN_ARG = re.compile(r"^[A-Za-z0-9_@+=:,./-]+$")


def systemd_running() -> bool:
    """sd_booted()'s test: systemd is the init system here."""
    return SYSTEMD_RUNTIME_DIR.is_dir()


def unit_name(component: Component) -> str:
    """`vm1/kubelet` -> `minik-kubelet.service`: one node per machine, so the kind is enough."""
    return f"{UNIT_PREFIX}{component.name.rpartition('/')[2]}.service"


def exec_quote(arg: str) -> str:
    """One argument for a systemd command line: `%` and `$` doubled (specifiers, variables), quoted if needed."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if _PLAIN_ARG.match(arg):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exec_line(argv: Sequence[str]) -> str:
    return " ".join(exec_quote(arg) for arg in argv)


def render_unit(cfg: ClusterConfig, component: Component, runtime_unit: str) -> str:
    """The unit file for one node component."""
    is_runtime = unit_name(component) == runtime_unit
    after = "network-online.target" + ("" if is_runtime else f" {runtime_unit}")
    lines = [
        f"# Written by `minik install-service` for {cfg.state_dir}; `minik down --state-dir {cfg.state_dir}` "
        "removes it.",
        "[Unit]",
        f"Description=minik {component.name.rpartition('/')[2]} of node {component.name.rpartition('/')[0]}",
        f"After={after}",
        "Wants=network-online.target",
    ]
    if component.name.endswith("/kubelet"):
        lines.append(f"Requires={runtime_unit}")
    lines += [
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        f"ExecStart={exec_line(component.command(cfg))}",
        "Restart=on-failure",
        "RestartSec=1s",
        "RestartSteps=6",
        "RestartMaxDelaySec=60s",
        f"StandardOutput=append:{component.process(cfg).log_path}",
        "StandardError=inherit",
    ]
    if is_runtime:
        # pods outlive a runtime restart (containerd's unit does the same)
        lines += ["KillMode=process", "Delegate=yes"]
    lines += ["", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)


def this_node(cfg: ClusterConfig) -> NodeSpec:
    return cluster_nodes(cfg)[0]


def node_units(cfg: ClusterConfig) -> dict[str, str]:
    """unit file name -> content, in start order."""
    components = node_components(this_node(cfg))
    runtime_unit = unit_name(components[0])
    return {unit_name(c): render_unit(cfg, c, runtime_unit) for c in components}


def _systemctl(*args: str) -> None:
    result = subprocess.run(["systemctl", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"systemctl {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")


def install(cfg: ClusterConfig, unit_dir: Path, out: TextIO, start: bool | None = None) -> list[str]:
    """Write the units; enable and start them when systemd runs here (`start` None: decide by that).

    Started units take over from processes `minik join --no-service` left running, which stop first.
    """
    from minik.cluster.down import stop_components

    units = node_units(cfg)
    unit_dir.mkdir(parents=True, exist_ok=True)
    for component in node_components(this_node(cfg)):
        component.process(cfg).log_path.parent.mkdir(parents=True, exist_ok=True)
    for name, content in units.items():
        (unit_dir / name).write_text(content)
        print(f"  wrote {unit_dir / name}", file=out, flush=True)
    names = list(units)
    if start is None:
        start = systemd_running()
    if not start:
        print("systemd is not running here; to start the services where it is, run:", file=out)
        print(f"  systemctl daemon-reload && systemctl enable --now {' '.join(names)}", file=out)
        return names
    stop_components(cfg, out)
    _systemctl("daemon-reload")
    _systemctl("enable", *names)
    _systemctl("restart", *names)  # not just start: a rejoin may have changed the command lines
    print(f"  enabled and started {', '.join(names)}", file=out, flush=True)
    return names


def installed_units(cfg: ClusterConfig, unit_dir: Path) -> list[Path]:
    """Our unit files in `unit_dir` that belong to this state dir (their header names it)."""
    if not unit_dir.is_dir():
        return []
    marker = f"install-service` for {cfg.state_dir};"
    found = []
    for path in sorted(unit_dir.glob(f"{UNIT_PREFIX}*.service")):
        try:
            if marker in path.read_text().splitlines()[0]:
                found.append(path)
        except (OSError, IndexError):
            continue
    return found


def uninstall(cfg: ClusterConfig, unit_dir: Path, out: TextIO) -> list[str]:
    """Stop, disable and delete this state dir's units; what `minik down` does on a joined machine."""
    paths = installed_units(cfg, unit_dir)
    if not paths:
        return []
    names = [p.name for p in paths]
    if systemd_running():
        try:
            _systemctl("disable", "--now", *names)
        except RuntimeError as error:
            print(f"  {error}", file=out)
    for path in paths:
        path.unlink(missing_ok=True)
    if systemd_running():
        subprocess.run(["systemctl", "daemon-reload"], capture_output=True, check=False)
    print(f"  removed {', '.join(names)}", file=out, flush=True)
    return names


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="minik install-service",
                                     description="Write systemd units for this machine's node components.")
    parser.add_argument("--state-dir", type=Path, default=default_state_dir(),
                        help="the state dir `minik join` used (default: $MINIK_STATE_DIR or /var/lib/minik)")
    parser.add_argument("--unit-dir", type=Path, default=UNIT_DIR, help=f"where units go (default {UNIT_DIR})")
    parser.add_argument("--no-start", action="store_true", help="only write the files")
    args = parser.parse_args(argv)
    cfg = load_saved(args.state_dir.absolute())
    if cfg is None or not cfg.joined:
        print(f"minik: no joined node in {args.state_dir}: run `minik join` first (it can install the services "
              "itself)", file=sys.stderr)
        return 1
    try:
        install(cfg, args.unit_dir, sys.stdout, start=False if args.no_start else None)
    except (OSError, RuntimeError) as error:
        print(f"minik: {error}", file=sys.stderr)
        return 1
    return 0
