"""Fixture: a scheduler running in-process against the session apiserver, stopped after each test."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # schedcluster, in every pytest import mode
from schedcluster import NODES, Cluster  # noqa: E402

from minik.api.errors import NotFoundError  # noqa: E402
from minik.client.rest import Client  # noqa: E402
from minik.scheduler.scheduler import Scheduler  # noqa: E402


@pytest.fixture
def cluster(apiserver: Any, ns: str) -> Iterator[Cluster]:
    """A started scheduler (short back-offs) for this test; stopped, and its nodes deleted, after."""
    client = Client(apiserver.url, token=apiserver.token, ca_data=apiserver.ca_data)
    scheduler = Scheduler(client, scheduler_name=f"{ns}-scheduler", pod_initial_backoff=0.2, pod_max_backoff=1.0)
    c = Cluster(client, ns, scheduler)
    try:
        scheduler.start(sync_timeout=30)
        yield c
    finally:
        scheduler.stop()
        for name in c.nodes:
            with contextlib.suppress(NotFoundError):
                client.delete(NODES, name)
        client.close()
    threads = [t for t in (*scheduler._threads,) if t.is_alive()]
    assert not threads, f"scheduler threads still running after stop: {threads}"
