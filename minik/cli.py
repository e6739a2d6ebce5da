"""`minik`: one entry point for every component and for local cluster management.

Each component is a separate process (so a lab can run them on different machines), but all are
started the same way: `minik <component> [flags]` runs that component's `main(argv)` in this process.
Modules are imported lazily so `minik down` works even when a component is broken or not written yet.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable

from minik import __version__

MainFunc = Callable[[list[str]], int]

COMPONENTS: dict[str, tuple[str, str]] = {
    "apiserver": ("minik.apiserver.main", "serve the Kubernetes API, state in etcd"),
    "scheduler": ("minik.scheduler.main", "bind pending pods to nodes"),
    "controller-manager": ("minik.controllers.main", "run the controllers (replicaset, deployment, ...)"),
    "runtime": ("minik.runtime.main", "the container runtime of a node"),
    "kubelet": ("minik.kubelet.main", "the node agent: run the pods bound to this node"),
    "proxy": ("minik.proxy.main", "program Services into iptables on this node"),
    "network-agent": ("minik.cni.agent", "route pod traffic between nodes (host-gw or vxlan)"),
    "dns": ("minik.dns.main", "cluster DNS: <service>.<namespace>.svc.cluster.local"),
    "hollow-nodes": ("minik.hollow.main", "benchmarking only: N fake kubelets in one process (kubemark)"),
}

CLUSTER_COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("minik.cluster.up", "start a local cluster"),
    "down": ("minik.cluster.down", "stop the local cluster and delete its state"),
    "status": ("minik.cluster.status", "show the local cluster's processes"),
    "logs": ("minik.cluster.logs", "print a component's log (-f follows)"),
    "crictl": ("minik.runtime.crictl", "inspect a node's runtime like crictl (ps, pods, images, inspect, ...)"),
    "node": ("minik.cluster.node", "failure drills on a local node: minik node stop|start NAME"),
    "supervise": ("minik.cluster.supervise", "restart crashed cluster components (started by minik up)"),
    "token": ("minik.cluster.bootstrap", "minik token create: print the join command for another machine"),
    "join": ("minik.cluster.join", "add this machine to a cluster as a node"),
    "install-service": ("minik.cluster.service", "write systemd units for this node's components"),
}


def usage() -> str:
    lines = ["usage: minik <command> [flags]", "", "Components (each runs in this process):"]
    lines += [f"  {name:<20}{text}" for name, (_, text) in COMPONENTS.items()]
    lines += ["", "Cluster:"]
    lines += [f"  {name:<20}{text}" for name, (_, text) in CLUSTER_COMMANDS.items()]
    lines += [
        "",
        "  minik --version     print the version",
        "  minik <command> -h  help for one command",
    ]
    return "\n".join(lines)


def load_main(module_name: str) -> MainFunc | None:
    """The module's `main`, or None when the module (or its package) does not exist yet.

    Only a missing module counts as "not available"; an import error inside an existing module is a
    bug and propagates with its traceback.
    """
    try:
        spec = importlib.util.find_spec(module_name)
    except ModuleNotFoundError:
        return None
    if spec is None:
        return None
    main = getattr(importlib.import_module(module_name), "main", None)
    return main if callable(main) else None


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage(), file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command in ("--version", "version"):
        print(f"minik {__version__}")
        return 0
    entry = COMPONENTS.get(command) or CLUSTER_COMMANDS.get(command)
    if entry is None:
        print(f'minik: unknown command "{command}"\n\n{usage()}', file=sys.stderr)
        return 2
    run = load_main(entry[0])
    if run is None:
        print(f'minik: component "{command}" is not available yet', file=sys.stderr)
        return 2
    try:
        return int(run(rest) or 0)
    except BrokenPipeError:  # `minik logs apiserver | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
