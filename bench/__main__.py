"""`python -m bench [scenario ...] [--quick]`: run scenarios, write bench/results/<name>.json, print tables."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from bench.framework import (
    RESULTS_DIR,
    BenchError,
    Options,
    load_scenarios,
    machine_info,
    markdown_table,
    progress,
    write_result,
)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM cleans up like Ctrl-C: every scenario stops what it started in `finally` blocks."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    scenarios = load_scenarios()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "scenarios", nargs="*", metavar="scenario", help=f"what to run (default: all of {', '.join(scenarios)})"
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run, not a measurement")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help=f"default: {RESULTS_DIR}")
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in scenarios]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)} (known: {', '.join(scenarios)})")
    names = list(dict.fromkeys(args.scenarios)) or list(scenarios)
    signal.signal(signal.SIGTERM, _interrupt)
    machine = machine_info()
    options = Options(quick=args.quick)
    try:
        failed = []
        for name in names:
            progress(f"scenario {name}{' (quick)' if args.quick else ''}")
            try:
                result = scenarios[name](options)
            except BenchError as error:  # one scenario that cannot run must not hide the others' figures
                print(f"bench: {name}: {error}", file=sys.stderr)
                failed.append(name)
                continue
            path = write_result(result, machine, args.results_dir)
            print(f"## {name}{' (quick)' if args.quick else ''}\n")
            print(markdown_table(result))
            print(flush=True)
            progress(f"wrote {path}")
    except KeyboardInterrupt:
        progress("interrupted; everything started was stopped and removed")
        return 130
    if failed:
        print(f"bench: not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
