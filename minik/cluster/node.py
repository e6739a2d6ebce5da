"""`minik node stop|start NAME`: the course's node-failure drill on a local worker.

`stop` is a power cut, not a shutdown: the node's runtime, network agent, kubelet and proxy get
SIGKILL, its pods' processes are killed, and its cable to the lab bridge is pulled, so the control
plane hears nothing more from it. The node goes NotReady after the grace period, its pods are evicted
per their tolerations and replaced elsewhere. `start` plugs it back in and starts its components;
the kubelet re-registers and the node turns Ready again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minik.cluster import labnet
from minik.cluster.components import node_components
from minik.cluster.config import ClusterConfig, default_state_dir, load_saved
from minik.cluster.down import kill_node_containers
from minik.cluster.nodes import NodeSpec, cluster_nodes
from minik.cluster.progress import Progress
from minik.cluster.up import UpError, start_components


def stop_node(cfg: ClusterConfig, node: NodeSpec) -> list[str]:
    """Hold the node down and kill everything on it; returns the components that were running."""
    node.stopped_marker.parent.mkdir(parents=True, exist_ok=True)
    node.stopped_marker.write_text("held down by `minik node stop`; `minik node start` releases it\n")
    killed = [c.name for c in node_components(node) if c.process(cfg).kill() is not None]
    kill_node_containers(node)
    labnet.set_cable(node, up=False)
    return killed


def start_node(cfg: ClusterConfig, node: NodeSpec, progress: Progress) -> None:
    """Plug the node back in and start what is not running; the supervisor takes over from here."""
    labnet.set_cable(node, up=True)
    node.stopped_marker.unlink(missing_ok=True)
    start_components(cfg, [c for c in node_components(node) if not c.process(cfg).running()], progress)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="minik node", description="Failure drills on a local cluster's worker.")
    parser.add_argument("action", choices=("stop", "start"), help="stop: pull the plug; start: power it back on")
    parser.add_argument("name", help="a worker node, e.g. worker1")
    parser.add_argument("--state-dir", type=Path, default=default_state_dir(),
                        help="cluster state directory (default: $MINIK_STATE_DIR or /var/lib/minik)")
    args = parser.parse_args(argv)
    cfg = load_saved(args.state_dir.absolute())
    if cfg is None:
        print(f"minik: no cluster in {args.state_dir} (start one with `minik up --nodes 2`)", file=sys.stderr)
        return 1
    nodes = {node.name: node for node in cluster_nodes(cfg)}
    node = nodes.get(args.name)
    workers = [name for name, spec in nodes.items() if spec.netns]
    if node is None or node.netns is None:
        what = "is the control-plane host" if node is not None else "is not a node of this cluster"
        print(f'minik: "{args.name}" {what}; the drill works on workers: {", ".join(workers) or "none"} '
              "(`minik up --nodes N` adds them)", file=sys.stderr)
        return 1
    if args.action == "stop":
        killed = stop_node(cfg, node)
        print(f"node {node.name} stopped: killed {', '.join(killed) or 'nothing (already down)'}, "
              f"its pods' processes, and unplugged {labnet.host_link(node)}")
        return 0
    try:
        start_node(cfg, node, Progress(sys.stdout))
    except UpError as error:
        print(f"minik: {error}", file=sys.stderr)
        return 1
    print(f"node {node.name} started; `minictl get nodes -w` shows it turn Ready")
    return 0
