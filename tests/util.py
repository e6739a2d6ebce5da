"""Test helpers: deadline polling instead of sleeps, and free ports for real servers."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_UNSET = object()


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.05,
    message: str = "condition not met",
) -> T:
    """Poll `predicate` until it returns something truthy and return that value.

    An exception from the predicate counts as "not yet" (the server may still be starting). On
    timeout raise AssertionError with `message` plus the last value or exception, so a failing test
    says what it was waiting for and what it saw instead.
    """
    deadline = time.monotonic() + timeout
    last: object = _UNSET
    while True:
        try:
            value = predicate()
        except Exception as error:  # noqa: BLE001 - reported below if it never clears
            last = error
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            seen = (
                "nothing"
                if last is _UNSET
                else (f"{type(last).__name__}: {last}" if isinstance(last, BaseException) else repr(last))
            )
            raise AssertionError(f"{message} (after {timeout:g}s; last: {seen})")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel picks it, so parallel runs do not clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
