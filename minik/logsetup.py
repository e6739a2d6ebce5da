"""One log format for every component, and the HTTP client's per-request lines only when debugging.

httpx logs every request at INFO: a kubelet or controller talking to the apiserver would write a
line per call, megabytes an hour of noise that costs the CPU the component needs.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: int | str) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    numeric = logging.getLevelName(level) if isinstance(level, str) else level
    if not isinstance(numeric, int) or numeric > logging.DEBUG:
        for noisy in ("httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
