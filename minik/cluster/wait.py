"""Deadline polling: bring-up waits for conditions, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.05) -> T | None:
    """Poll `predicate` until it returns something truthy or `timeout` seconds pass.

    Returns the truthy value, or None on timeout. Exceptions from the predicate propagate: callers
    decide which failures mean "not yet" by catching them inside the predicate.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)
