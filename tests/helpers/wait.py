"""Waiting for a condition with a deadline, instead of sleeping for a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 15.0, interval: float = 0.02, what: str = ""
) -> T:
    """Call `predicate` every `interval` seconds until it returns something true, and return
    that; fail the test (AssertionError) if it has not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            name = what or getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"not within {timeout} s: {name}")
        time.sleep(interval)
