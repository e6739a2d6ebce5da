"""Step-by-step progress for `minik up`: a spinner on a terminal, plain lines in logs and tests."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator
from typing import TextIO

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Step:
    """What a step reports when it ends: `done("ready at ...")` sets the text after the label."""

    def __init__(self) -> None:
        self.detail = ""

    def done(self, detail: str) -> None:
        self.detail = detail


class Progress:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = hasattr(out, "isatty") and out.isatty()

    def note(self, text: str) -> None:
        print(f"  {text}", file=self.out, flush=True)

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[Step]:
        """Show `label` while the block runs, then ✓ with its detail, or ✗ when it raises."""
        step = Step()
        started = time.monotonic()
        stop = threading.Event()
        spinner: threading.Thread | None = None
        if self.tty:
            spinner = threading.Thread(target=self._spin, args=(label, stop), daemon=True)
            spinner.start()
        else:
            print(f"  {label} ...", end=" ", file=self.out, flush=True)
        ok = False
        try:
            yield step
            ok = True
        finally:
            stop.set()
            if spinner is not None:
                spinner.join()
            took = f" [{time.monotonic() - started:.1f}s]"
            text = f"{step.detail}{took}" if ok else "failed"
            if self.tty:
                print(f"\r\033[K  {'✓' if ok else '✗'} {label}: {text}", file=self.out, flush=True)
            else:
                print(text, file=self.out, flush=True)

    def _spin(self, label: str, stop: threading.Event) -> None:
        for frame in itertools.cycle(SPINNER):
            print(f"\r\033[K  {frame} {label} ...", end="", file=self.out, flush=True)
            if stop.wait(0.1):
                return
