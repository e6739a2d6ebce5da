"""Controller unit tests: fake client (recorded actions), fake recorder, hand-filled caches."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `from ctrlfake import ...` in the tests

from ctrlfake import Harness  # noqa: E402


@pytest.fixture
def harness() -> Harness:
    return Harness()
