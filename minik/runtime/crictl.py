"""`minik crictl`: look inside a node's runtime the way `crictl` does on a Kubernetes node.

    minik crictl ps [-a] [--pod ID]     containers        minik crictl pods       pod sandboxes
    minik crictl images                 images            minik crictl stats      cpu/memory per container
    minik crictl inspect ID             a container (or pod): pids, namespace inodes, cgroup dirs and
                                        limits, overlay lowerdir/upperdir/merged, as JSON
    minik crictl logs [-f] [--tail N] ID
    minik crictl exec [-it] ID CMD...

IDs may be abbreviated to any unique prefix.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from minik.runtime.client import DEFAULT_SOCKET, RuntimeClient
from minik.runtime.logs import read_lines
from minik.runtime.process import helper_argv, helper_env
from minik.runtime.state import CRIError, NotFoundError


def ago(ns: int) -> str:
    if not ns:
        return "-"
    seconds = max(0, int(time.time() - ns / 1e9))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return f"{seconds} seconds ago"


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)


def human_size(value: int) -> str:
    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.3g}{unit}"
        size /= 1000
    return str(value)


def cmd_ps(client: RuntimeClient, args: argparse.Namespace) -> int:
    filt: dict[str, Any] = {}
    if args.pod:
        filt["pod_sandbox_id"] = args.pod
    if not args.all:
        filt["state"] = {"state": "CONTAINER_RUNNING"}
    pods = {p["id"]: p for p in client.list_pod_sandbox()}
    rows = [["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD"]]
    for c in sorted(client.list_containers(filt), key=lambda c: -int(c.get("created_at", 0))):
        pod = pods.get(c["pod_sandbox_id"], {})
        rows.append([c["id"][:13], str(c.get("image", {}).get("image", ""))[:40], ago(c["created_at"]),
                     c["state"].removeprefix("CONTAINER_").capitalize(), c["metadata"].get("name", ""),
                     str(c["metadata"].get("attempt", 0)), c["pod_sandbox_id"][:13],
                     pod.get("metadata", {}).get("name", "")])
    print(table(rows))
    return 0


def cmd_pods(client: RuntimeClient, args: argparse.Namespace) -> int:
    rows = [["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT"]]
    for p in sorted(client.list_pod_sandbox(), key=lambda p: -int(p.get("created_at", 0))):
        meta = p.get("metadata", {})
        rows.append([p["id"][:13], ago(p["created_at"]), p["state"].removeprefix("SANDBOX_").capitalize(),
                     meta.get("name", ""), meta.get("namespace", ""), str(meta.get("attempt", 0))])
    print(table(rows))
    return 0


def cmd_images(client: RuntimeClient, args: argparse.Namespace) -> int:
    rows = [["IMAGE", "TAG", "IMAGE ID", "SIZE"]]
    for image in client.list_images():
        tags = image.get("repo_tags") or ["<none>:<none>"]
        for tag in tags:
            name, _, version = tag.rpartition(":")
            rows.append([name, version, image["id"].removeprefix("sha256:")[:13], human_size(int(image["size"]))])
    print(table(rows))
    return 0


def cmd_stats(client: RuntimeClient, args: argparse.Namespace) -> int:
    rows = [["CONTAINER", "NAME", "CPU TIME", "MEM", "PIDS"]]
    for s in client.list_container_stats():
        attrs = s["attributes"]
        cpu = s["cpu"]["usage_core_nano_seconds"]["value"] / 1e9
        rows.append([attrs["id"][:13], attrs["metadata"].get("name", ""), f"{cpu:.2f}s",
                     human_size(s["memory"]["working_set_bytes"]["value"]), str(s.get("pids", 0))])
    print(table(rows))
    return 0


def cmd_inspect(client: RuntimeClient, args: argparse.Namespace) -> int:
    try:
        found = client.container_status(args.id, verbose=True)
    except NotFoundError:
        found = client.pod_sandbox_status(args.id, verbose=True)
    print(json.dumps(found, indent=2, sort_keys=True, default=str))
    return 0


def cmd_logs(client: RuntimeClient, args: argparse.Namespace) -> int:
    path = Path(client.container_status(args.id)["status"]["log_path"])

    def show(records: list[tuple[str, str, bytes]]) -> None:
        for stamp, stream, content in records:
            out = sys.stdout if stream == "stdout" else sys.stderr
            out.write((f"{stamp} " if args.timestamps else "") + content.decode(errors="replace") + "\n")
            out.flush()

    records = list(read_lines(path))
    tail = len(records) if args.tail is None or args.tail < 0 else args.tail
    show(records[len(records) - tail :] if tail else [])
    seen = len(records)
    while args.follow:  # poll the file like `crictl logs -f`, until the container exits
        running = client.container_status(args.id)["status"]["state"] == "CONTAINER_RUNNING"
        records = list(read_lines(path))
        show(records[seen:])
        seen = len(records)
        if not running:
            break
        time.sleep(0.2)
    return 0


def cmd_exec(client: RuntimeClient, args: argparse.Namespace) -> int:
    if not args.command:
        print("exec needs a command", file=sys.stderr)
        return 2
    if args.interactive or args.tty:
        info = client.container_status(args.id, verbose=True)["info"]
        argv = helper_argv("nsexec", info["spec_path"], str(info["pid"]), *args.command)
        return subprocess.call(argv, env=helper_env())
    result = client.exec_sync(args.id, args.command, args.timeout)
    sys.stdout.buffer.write(result["stdout"])
    sys.stderr.buffer.write(result["stderr"])
    return int(result["exit_code"])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minik crictl", description="inspect a node's container runtime")
    p.add_argument("-r", "--runtime-endpoint",
                   default=os.environ.get("MINIK_RUNTIME_ENDPOINT", os.environ.get("CONTAINER_RUNTIME_ENDPOINT",
                                                                                   DEFAULT_SOCKET)))
    p.add_argument("--node", help="a node of the local `minik up` cluster (master, worker1, ...): use its runtime")
    p.add_argument("--state-dir", type=Path, help="that cluster's state dir (default: $MINIK_STATE_DIR or "
                   "/var/lib/minik)")
    sub = p.add_subparsers(dest="command_name", required=True)
    ps = sub.add_parser("ps", help="list containers")
    ps.add_argument("-a", "--all", action="store_true")
    ps.add_argument("-p", "--pod", default="")
    ps.set_defaults(func=cmd_ps)
    sub.add_parser("pods", help="list pod sandboxes").set_defaults(func=cmd_pods)
    sub.add_parser("images", help="list images").set_defaults(func=cmd_images)
    sub.add_parser("stats", help="cpu and memory of running containers").set_defaults(func=cmd_stats)
    inspect = sub.add_parser("inspect", help="a container or pod: namespaces, cgroups, overlay")
    inspect.add_argument("id")
    inspect.set_defaults(func=cmd_inspect)
    logs = sub.add_parser("logs", help="a container's log")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-t", "--timestamps", action="store_true")
    logs.add_argument("--tail", type=int, default=None)
    logs.add_argument("id")
    logs.set_defaults(func=cmd_logs)
    exe = sub.add_parser("exec", help="run a command in a container")
    exe.add_argument("-i", "--interactive", action="store_true")
    exe.add_argument("-t", "--tty", action="store_true")
    exe.add_argument("--timeout", type=int, default=0)
    exe.add_argument("id")
    exe.add_argument("command", nargs=argparse.REMAINDER)
    exe.set_defaults(func=cmd_exec)
    return p


def node_endpoint(node: str, state_dir: Path | None) -> str:
    """The runtime socket of a local cluster's node, found from the cluster's saved settings."""
    from minik.cluster.config import default_state_dir, load_saved
    from minik.cluster.nodes import find_node

    state = (state_dir or default_state_dir()).absolute()
    cfg = load_saved(state)
    spec = find_node(cfg, node) if cfg is not None else None
    if spec is None:
        raise SystemExit(f"error: no node {node!r} in the cluster at {state} (see `minictl get nodes`)")
    return str(spec.runtime_socket)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    endpoint = node_endpoint(args.node, args.state_dir) if args.node else args.runtime_endpoint
    with RuntimeClient(endpoint, timeout=60) as client:
        try:
            return int(args.func(client, args))
        except CRIError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main())
