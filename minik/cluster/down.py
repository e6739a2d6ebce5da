"""`minik down`: stop every component, take the nodes' network and cgroups apart, forget the
kubeconfig context, delete the state directory.

Idempotent and tolerant of a half-dead cluster: each step works from whatever is left (a pid file
without a process, a process without a pid file, a state dir without certificates, a namespace
without a process). `minik up` runs the same sweep before it starts.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from minik.client import kubeconfig
from minik.cluster import labnet
from minik.cluster.components import all_components, component_names
from minik.cluster.config import CONTEXT_NAME, MARKER_FILE, ClusterConfig, default_state_dir, load_saved
from minik.cluster.nodes import NodeSpec, cluster_nodes
from minik.cluster.process import component_of, find_strays, terminate
from minik.cluster.service import UNIT_DIR
from minik.cluster.service import uninstall as uninstall_services
from minik.cni.cleanup import cleanup as cni_cleanup
from minik.proxy.cleanup import cleanup as proxy_cleanup
from minik.runtime.cgroups import open_cgroups
from minik.runtime.cleanup import kill_recorded_processes, remove_root
from minik.runtime.state import CRIError


def stop_components(cfg: ClusterConfig, out: TextIO) -> int:
    """Stop the components in reverse start order, then any stray; return how many were running."""
    stopped = 0
    for component in reversed(all_components(cfg)):
        pid = component.process(cfg).stop()
        if pid is not None:
            print(f"  stopped {component.name} (pid {pid})", file=out, flush=True)
            stopped += 1
    names = component_names()
    for pid, argv in find_strays(cfg.state_dir, names):
        if terminate(pid, argv):
            print(f"  stopped stray {component_of(argv, names)} (pid {pid})", file=out, flush=True)
            stopped += 1
    return stopped


def _remove_node_cgroups(node: NodeSpec) -> None:
    with contextlib.suppress(CRIError, OSError):
        open_cgroups(node.cgroup_parent).remove_parent()


def kill_node_containers(node: NodeSpec) -> None:
    """Kill every pod process of the node and drop its cgroups: a power cut, as far as pods can tell."""
    kill_recorded_processes(node.runtime_root)
    _remove_node_cgroups(node)


def clean_node(node: NodeSpec) -> list[str]:
    """Remove what a node left on the host: containers, mounts, cgroups, its network. Idempotent."""
    removed: list[str] = []
    remove_root(node.runtime_root)  # kills what the runtime recorded, then unmounts and deletes
    _remove_node_cgroups(node)
    if node.netns is None:
        # the host node shares the host's network: remove exactly what the CNI plugin, the network
        # agent and the proxy put there; a worker's namespace takes all of that with it
        with contextlib.suppress(OSError, RuntimeError):
            removed += cni_cleanup(data_dir=node.cni_data_dir, conf_file=node.cni_conf_file)
        with contextlib.suppress(OSError, RuntimeError):
            if proxy_cleanup():
                removed.append("proxy iptables chains")
    elif labnet.remove_node_netns(node):
        removed.append(f"netns {node.netns}")
    return removed


def clean_nodes(cfg: ClusterConfig, out: TextIO, sweep_stale: bool = False) -> None:
    """Every node of `cfg`, then the lab bridge; with `sweep_stale` also any `minik-worker*` namespace.

    Only `minik up` sweeps namespaces it did not record: it is about to create those names itself.
    """
    removed: list[str] = []
    for node in cluster_nodes(cfg):
        removed += clean_node(node)
    if sweep_stale:
        for name in labnet.stale_worker_namespaces():
            labnet.remove_node_netns(NodeSpec(name.removeprefix("minik-"), "", cfg.state_dir, name))
            removed.append(f"netns {name}")
    if not cfg.joined:  # a joined machine has no lab bridge of its own
        removed += labnet.remove_lab(cfg)
    if removed:
        print(f"  removed {', '.join(dict.fromkeys(removed))}", file=out, flush=True)


def _ca_data(path: Path, name: str) -> str | None:
    """The base64 CA of cluster `name` in a kubeconfig file, if any."""
    try:
        raw = kubeconfig.read_raw(path)
    except kubeconfig.ConfigError:
        return None
    for entry in raw.get("clusters", []):
        if isinstance(entry, dict) and entry.get("name") == name and isinstance(entry.get("cluster"), dict):
            value = entry["cluster"].get("certificate-authority-data")
            return str(value) if value else None
    return None


def remove_user_context(cfg: ClusterConfig, out: TextIO) -> None:
    """Remove the `minik` context from the user's kubeconfig, unless it belongs to another cluster.

    Two clusters can share a host (a test cluster next to a learner's); a context whose CA is not this
    cluster's CA is left alone.
    """
    path = kubeconfig.default_path()
    if not path.exists():
        return
    theirs = _ca_data(path, CONTEXT_NAME)
    try:
        ours: str | None = base64.b64encode(cfg.pki.ca_cert.read_bytes()).decode()
    except OSError:
        ours = None
    if theirs is not None and ours is not None and theirs != ours:
        print(f'  kept context "{CONTEXT_NAME}" in {path}: it belongs to another cluster', file=out)
        return
    try:
        kubeconfig.remove_context(path, CONTEXT_NAME)
    except kubeconfig.ConfigError as error:
        print(f"  could not edit {path}: {error}", file=out)
        return
    print(f'  removed context "{CONTEXT_NAME}" from {path}', file=out, flush=True)


def _mounts_under(directory: Path) -> list[str]:
    """Mount points inside `directory`, deepest first, so deletion never reaches through a mount."""
    prefix = str(directory) + "/"
    points: list[str] = []
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return points
    for line in lines:
        fields = line.split()
        if len(fields) > 1:
            point = fields[1].replace("\\040", " ")
            if point == str(directory) or point.startswith(prefix):
                points.append(point)
    return sorted(set(points), key=len, reverse=True)


def remove_state_dir(cfg: ClusterConfig, out: TextIO) -> bool:
    """Delete the state dir if it is one `minik up` made (it holds the marker file)."""
    state = cfg.state_dir
    if not state.exists():
        return True
    if not cfg.marker.exists() and any(state.iterdir()):
        print(f"minik: {state} has no {MARKER_FILE} file: not a minik state dir, not deleting it", file=out)
        return False
    for point in _mounts_under(state):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    shutil.rmtree(state)
    print(f"  removed {state}", file=out, flush=True)
    return True


def down(cfg: ClusterConfig, keep_state: bool, out: TextIO, unit_dir: Path = UNIT_DIR) -> int:
    """Stop and remove the cluster in `cfg.state_dir`; on a joined machine, just this machine's node."""
    what = f"node {cfg.node_name}" if cfg.joined else "cluster"
    print(f"minik: deleting {what} in {cfg.state_dir}", file=out, flush=True)
    units = uninstall_services(cfg, unit_dir, out) if cfg.joined else []
    stopped = stop_components(cfg, out)
    if stopped == 0 and not units:
        print("  no component was running", file=out)
    if cfg.saved_path.exists():  # only a dir `minik up` used says which nodes, bridge and chains are ours
        clean_nodes(cfg, out)
    if not cfg.joined:  # `minik join` never touches the user's kubeconfig
        remove_user_context(cfg, out)
    if keep_state:
        print(f"  kept {cfg.state_dir} (--keep-state)", file=out)
        return 0
    return 0 if remove_state_dir(cfg, out) else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="minik down", description="Stop the local cluster and delete it.")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="cluster state directory (default: $MINIK_STATE_DIR or /var/lib/minik)",
    )
    parser.add_argument(
        "--keep-state",
        action="store_true",
        help="keep certificates, etcd data and logs for the next `minik up`",
    )
    parser.add_argument("--unit-dir", type=Path, default=UNIT_DIR, help=argparse.SUPPRESS)  # tests
    args = parser.parse_args(argv)
    try:
        cfg = load_saved(args.state_dir.absolute()) or ClusterConfig(state_dir=args.state_dir)
        if not cfg.saved_path.exists() and not args.state_dir.exists():
            print(f"minik: no cluster in {args.state_dir}: nothing to delete")
            return 0
        return down(cfg, args.keep_state, sys.stdout, args.unit_dir)
    except PermissionError as error:
        print(f"minik: {error} (run as root or pick --state-dir)", file=sys.stderr)
        return 1
