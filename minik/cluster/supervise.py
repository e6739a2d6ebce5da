"""`minik supervise`: keep a local cluster's components running, like systemd's Restart=on-failure.

Started last by `minik up` and stopped first by `minik down`. Once a second it walks the same
component list as `up`; a component whose process is gone is started again with the same command,
after a back-off that doubles from 1 s to 60 s and resets once it has stayed up for a minute. Nodes
held down by `minik node stop` are left alone. Each restart is logged here and in the component's
own log, so `minik logs supervise` tells the story of a crash loop.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from minik.cluster.components import SUPERVISOR, Component, all_components
from minik.cluster.config import ClusterConfig, default_state_dir, load_saved
from minik.cluster.process import reap_exited
from minik.logsetup import setup_logging

log = logging.getLogger("minik.supervise")

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 60.0
STABLE_AFTER = 60.0
INTERVAL = 1.0


@dataclass
class Watch:
    """What the supervisor remembers of one component between rounds."""

    backoff: float = INITIAL_BACKOFF
    next_start: float = 0.0
    up_since: float | None = None
    restarts: int = 0


class Supervisor:
    def __init__(self, cfg: ClusterConfig) -> None:
        self.cfg = cfg
        self.watches: dict[str, Watch] = {}
        self.stopping = threading.Event()

    def components(self) -> list[Component]:
        return [c for c in all_components(self.cfg) if c.name != SUPERVISOR.name]

    def check(self, component: Component, now: float) -> None:
        """One round for one component: note it is up, or restart it when its back-off allows."""
        watch = self.watches.setdefault(component.name, Watch())
        if component.node is not None and component.node.stopped_marker.exists():
            watch.up_since = None
            return
        process = component.process(self.cfg)
        if process.running():
            if watch.up_since is None:
                watch.up_since = now
            elif now - watch.up_since >= STABLE_AFTER:
                watch.backoff = INITIAL_BACKOFF
            return
        if watch.up_since is not None:  # it was up last round: it just died
            code = process.exit_code()
            log.warning("%s exited%s; restarting in %.0fs", component.name,
                        f" with code {code}" if code is not None else "", watch.backoff)
            watch.up_since = None
            watch.next_start = now + watch.backoff
            watch.backoff = min(watch.backoff * 2, MAX_BACKOFF)
        if now < watch.next_start:
            return
        component.prepare(self.cfg)
        env = component.env() if component.env is not None else None
        try:
            pid = process.start(component.command(self.cfg), env)
        except OSError as error:
            log.error("starting %s failed: %s", component.name, error)
            watch.next_start = now + watch.backoff
            watch.backoff = min(watch.backoff * 2, MAX_BACKOFF)
            return
        watch.restarts += 1
        watch.up_since = now
        log.info("started %s (pid %d, restart #%d)", component.name, pid, watch.restarts)

    def run(self) -> None:
        log.info("supervising %d components of %s", len(self.components()), self.cfg.state_dir)
        while not self.stopping.is_set():
            reap_exited()
            now = time.monotonic()
            for component in self.components():
                if self.stopping.is_set():
                    break
                try:
                    self.check(component, now)
                except Exception:  # one broken component must not stop the others' supervision
                    log.exception("supervising %s", component.name)
            self.stopping.wait(INTERVAL)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="minik supervise", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=default_state_dir(), help="cluster state directory")
    args = parser.parse_args(argv)
    setup_logging(logging.INFO)
    cfg = load_saved(args.state_dir.absolute())
    if cfg is None:
        log.error("no cluster config in %s (has `minik up` run?)", args.state_dir)
        return 1
    supervisor = Supervisor(cfg)

    def stop(signum: int, frame: FrameType | None) -> None:
        supervisor.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    supervisor.run()
    return 0
