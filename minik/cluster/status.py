"""`minik status`: which cluster processes run, with their pids and logs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from minik.cluster.components import all_components
from minik.cluster.config import ClusterConfig, default_state_dir, load_saved


def status_rows(cfg: ClusterConfig) -> list[tuple[str, str, str, str]]:
    """(COMPONENT, STATE, PID, LOG) per component; a stale pid file reads as stopped.

    A component of a node held down by `minik node stop` reads "node stopped", not "stopped".
    """
    rows = []
    for component in all_components(cfg):
        process = component.process(cfg)
        pid = process.pid()
        held = component.node is not None and component.node.stopped_marker.exists()
        rows.append((
            component.name,
            "running" if pid is not None else "node stopped" if held else "stopped",
            str(pid) if pid is not None else "-",
            str(process.log_path),
        ))  # fmt: skip
    return rows


def print_table(rows: list[tuple[str, ...]], out: TextIO) -> None:
    """Columns padded like kubectl's tables: the widest cell plus three spaces."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        print("   ".join(cells).rstrip(), file=out)


def main(argv: list[str]) -> int:
    """Print the table; exit 0 when every component runs, 3 otherwise (like `systemctl status`)."""
    parser = argparse.ArgumentParser(prog="minik status", description="Show the local cluster's processes.")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="cluster state directory (default: $MINIK_STATE_DIR or /var/lib/minik)",
    )
    args = parser.parse_args(argv)
    cfg = load_saved(args.state_dir.absolute()) or ClusterConfig(state_dir=args.state_dir)
    rows = status_rows(cfg)
    print_table([("COMPONENT", "STATE", "PID", "LOG"), *rows], sys.stdout)
    if not cfg.state_dir.exists():
        print(f"\nno cluster in {cfg.state_dir}: start one with `minik up`", file=sys.stderr)
    return 0 if all(row[1] == "running" for row in rows) else 3
