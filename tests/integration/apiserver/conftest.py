"""Raw HTTP access to the test apiserver: these tests pin the wire contract, not a client library."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest


@pytest.fixture(scope="session")
def http(apiserver: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=apiserver.url, headers={"Authorization": f"Bearer {apiserver.token}"},
                      verify=ssl.create_default_context(cafile=apiserver.ca_file), timeout=30) as c:
        yield c
