"""Fixtures for the CNI integration tests: `lab`, network namespaces removed after each test."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # netlab.py, in every pytest import mode

from netlab import lab_fixture  # noqa: E402,F401 - the `lab` fixture
