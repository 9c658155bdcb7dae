"""How long to wait before the next attempt: exponential, capped, with jitter that replays identically.

Jitter must not come from `random` (code outside steps runs again on every replay and must decide
the same): it is derived from the execution ARN and the attempt number, so attempts of different
executions still spread out, and a replay computes the very same wait.
"""

from __future__ import annotations

import hashlib


def backoff_seconds(execution_arn: str, attempt: int, base: int, cap: int) -> int:
    """Seconds to wait after failed attempt `attempt` (1-based).

    In [ceiling/2, ceiling], where ceiling = min(cap, base * 2^(attempt-1)).
    """
    ceiling = max(1, min(cap, base * 2 ** (attempt - 1)))
    digest = hashlib.sha256(f"{execution_arn}#{attempt}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return max(1, round(ceiling / 2 + fraction * ceiling / 2))
