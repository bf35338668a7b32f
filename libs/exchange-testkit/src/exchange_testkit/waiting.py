"""Bounded polling for tests that wait on another process or thread."""

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], bool], timeout_s: float = 30.0,
               interval_s: float = 0.05) -> None:
    """Poll ``predicate`` until it holds; AssertionError after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {timeout_s} s")
        time.sleep(interval_s)
