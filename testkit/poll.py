"""The one way a test or a benchmark waits: ask until the answer comes or a deadline passes (no fixed
sleeps). The local cloud has its own, local/proc.py wait_for: product code the CLI uses, whose
NotReady the CLI reports to a user; this one fails a test."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class PollTimeout(AssertionError):
    """The deadline passed: a test fails (an AssertionError, as pytest reports it), a benchmark stops."""


def poll(
    probe: Callable[[], T | None], timeout: float = 10.0, what: str = "condition", interval: float = 0.02
) -> T:
    """Return probe()'s first truthy value; raise PollTimeout after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise PollTimeout(f"timed out after {timeout} s waiting for {what}")
