"""Fixtures for the proxy integration tests: the CNI tests' namespace lab (../cni/netlab.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cni"))  # netlab.py

from netlab import lab_fixture  # noqa: E402,F401 - the `lab` fixture
