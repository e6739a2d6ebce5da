"""`minik logs COMPONENT [-f]`: print (and follow) a component's log file."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import BinaryIO

from minik.cluster.components import all_components
from minik.cluster.config import ClusterConfig, default_state_dir, load_saved

FOLLOW_INTERVAL = 0.2


def copy_log(path: Path, out: BinaryIO, follow: bool) -> None:
    """Copy the log to `out`; with `follow`, keep copying what is appended until interrupted."""
    with path.open("rb") as log:
        while True:
            chunk = log.read(65536)
            if chunk:
                out.write(chunk)
                out.flush()
                continue
            if not follow:
                return
            if path.stat().st_size < log.tell():  # truncated or recreated by a fresh `minik up`
                log.seek(0)
            time.sleep(FOLLOW_INTERVAL)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="minik logs", description="Print a cluster component's log.")
    parser.add_argument("component", help="a component as `minik status` names it: apiserver, worker1/kubelet, ...; "
                        "a node component alone (kubelet) means the control-plane node's")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines (Ctrl-C stops)")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="cluster state directory (default: $MINIK_STATE_DIR or /var/lib/minik)",
    )
    args = parser.parse_args(argv)
    cfg = load_saved(args.state_dir.absolute()) or ClusterConfig(state_dir=args.state_dir)
    components = all_components(cfg)
    names = [c.name for c in components]
    component = next((c for c in components if args.component in (c.name, c.name.split("/")[-1])), None)
    if component is None:
        print(f'minik: unknown component "{args.component}"; one of: {", ".join(names)}', file=sys.stderr)
        return 2
    path = component.process(cfg).log_path
    if not path.exists():
        print(f"minik: no log for {component.name} at {path} (has `minik up` run?)", file=sys.stderr)
        return 1
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how -f ends
        copy_log(path, sys.stdout.buffer, args.follow)
    return 0
