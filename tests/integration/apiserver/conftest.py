"""Raw HTTP access to the test apiserver: these tests pin the wire contract, not a client library."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.apiserver.objects import APIClient


@pytest.fixture(scope="session")
def http(apiserver: Any) -> Iterator[APIClient]:
    with APIClient(apiserver.url, apiserver.token, str(apiserver.ca_file)) as c:
        yield c
