"""Median, spread and percentiles of repeated measurements (stdlib only)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    """Median with its spread (min, max, and p25..p75 when there are enough runs)."""
    if not values:
        return {"n": 0}
    out: dict[str, Any] = {
        "n": len(values),
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }
    if len(values) >= 4:
        out["p25"] = round(percentile(values, 25), digits)
        out["p75"] = round(percentile(values, 75), digits)
    return out


def tail(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    """p50 / p95 / p99 (and max) of a latency sample."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), digits),
        "p95": round(percentile(values, 95), digits),
        "p99": round(percentile(values, 99), digits),
        "max": round(max(values), digits),
    }
