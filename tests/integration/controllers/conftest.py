"""Controller integration tests: the real apiserver, the controller-manager in-process (threads),
and `ctrltest.FakeCluster` playing scheduler and kubelets."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `from ctrltest import ...` in the tests

from ctrltest import FakeCluster  # noqa: E402

from minik.client.rest import Client  # noqa: E402
from minik.controllers.manager import ControllerManager, Options  # noqa: E402

# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def cluster(client: Client, ns: str) -> Iterator[FakeCluster]:
    fake = FakeCluster(client, ns).start()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def start_manager(apiserver: Any) -> Iterator[Callable[..., ControllerManager]]:
    """Run a controller-manager in this process (threads); stopped when the test ends."""
    started: list[tuple[ControllerManager, Client]] = []

    def start(controllers: list[str] | None = None, **options: Any) -> ControllerManager:
        client = Client(apiserver.url, token=apiserver.token, ca_data=apiserver.ca_data,
                        user_agent="minik-controller-manager")
        manager = ControllerManager(client, Options(**options), controllers)
        started.append((manager, client))
        manager.start(timeout=30)
        return manager

    try:
        yield start
    finally:
        for manager, client in reversed(started):
            manager.stop()
            client.close()
