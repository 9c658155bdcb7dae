"""``python -m bench``: run the benchmark suite (or one part of it), write results, redraw the figures.

``make bench`` runs ``python -m bench all``: every measurement at full size, raw results in
``bench/results/results.json``, then ``report`` redraws ``bench/results/chart.png`` and the
figures between the markers of ``BENCHMARKS.md``. ``--smoke`` runs everything at tiny sizes
(what ``tests/bench/test_bench_smoke.py`` does).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import coldstart, cost, fanout, onlocal, ops, relay_warm, report, size
from local.template import ROOT

RESULTS = ROOT / "bench" / "results"
MARKDOWN = ROOT / "BENCHMARKS.md"


@dataclass(frozen=True)
class Sizes:
    durations: dict[str, int]
    repeats: int
    polling_measured_up_to: int  # seconds of task; longer polling runs are extrapolated
    coldstart_repeats: int
    relay_events: int
    latency_orchestrations: int
    latency_concurrency: int
    scale: list[int]
    build: bool
    fan_out_parts: int
    fan_out_concurrency: int
    fan_out_rate: str  # the local ECS's RunTask rate, BURST/PER_SECOND (up --run-task-rate)
    fan_out_store: str = "memory"  # the durable runner's store (up --durable-store)


FULL = Sizes(
    durations=ops.DURATIONS,
    repeats=3,
    polling_measured_up_to=3600,
    coldstart_repeats=10,
    relay_events=5000,
    latency_orchestrations=100,
    latency_concurrency=4,
    scale=[50, 200, 500],
    build=True,
    fan_out_parts=1000,
    fan_out_concurrency=1000,  # every part at once: the start is paced by RunTask's rate alone
    fan_out_rate="100/20",  # AWS Fargate's: 100 at once, then 20 a second
)
SMOKE = Sizes(
    durations={"10 s": 10, "1 min": 60, "10 min": 600},
    repeats=1,
    polling_measured_up_to=60,
    coldstart_repeats=1,
    relay_events=50,
    latency_orchestrations=2,
    latency_concurrency=2,
    scale=[3],
    build=False,
    fan_out_parts=12,
    fan_out_concurrency=6,
    fan_out_rate="4/4",  # small enough that the smoke's starts are throttled too
)


def run_ops(s: Sizes, _: Path) -> dict[str, Any]:
    return ops.measure(s.durations, s.repeats, s.polling_measured_up_to)


def run_coldstart(s: Sizes, _: Path) -> dict[str, Any]:
    return coldstart.measure(s.coldstart_repeats)


def run_relay(s: Sizes, _: Path) -> dict[str, Any]:
    return relay_warm.measure(s.relay_events, warmup=min(200, s.relay_events))


def run_local(s: Sizes, out: Path) -> dict[str, Any]:
    """Latency then scale, on one local cloud (its folder kept under the results for inspection)."""
    state_dir = Path(tempfile.mkdtemp(prefix="bench-cloud-"))
    with onlocal.local_cloud(state_dir) as cloud:
        warm = onlocal.latency(cloud, 1, 1)  # first invocations are cold starts: not in the sample
        lat = onlocal.latency(cloud, s.latency_orchestrations, s.latency_concurrency)
        lat["cold_first"] = {
            "ours_ms": warm["ours"]["total"]["p50"],
            "polling_ms": warm["polling"]["total"]["p50"],
        }
        # Ours again, one at a time: the design's latency without our own other workers on the CPU.
        alone = onlocal.latency(cloud, s.latency_orchestrations, 1, kinds=(onlocal.OURS,))
        lat["ours_alone"] = alone["ours"]
        scale = onlocal.scale(cloud, s.scale, timeout=max(300.0, 3.0 * max(s.scale)))
    return {"latency": lat, "scale": scale, "state_dir": str(state_dir)}


def run_fan_out(s: Sizes, _: Path) -> dict[str, Any]:
    """One fan-out of `fan_out_parts` on a fresh local cloud (its folder kept for inspection)."""
    state_dir = Path(tempfile.mkdtemp(prefix="bench-fan-out-"))
    with fanout.fan_out_cloud(state_dir, s.fan_out_rate, s.fan_out_store) as cloud:
        measured = fanout.measure(
            cloud,
            s.fan_out_parts,
            s.fan_out_concurrency,
            s.fan_out_rate,
            s.fan_out_store,
            timeout=max(300.0, 1.0 * s.fan_out_parts),
        )
    return {**measured, "state_dir": str(state_dir)}


def run_cost(_: Sizes, __: Path) -> dict[str, Any]:
    """Arithmetic on the published prices: the same figures at every size (--smoke too)."""
    return cost.measure()


def run_size(s: Sizes, _: Path) -> dict[str, Any]:
    return size.measure() if s.build else {"skipped": "not at this size (--smoke)"}


PARTS: dict[str, Callable[[Sizes, Path], dict[str, Any]]] = {
    "ops": run_ops,
    "coldstart": run_coldstart,
    "relay": run_relay,
    "local": run_local,
    "fanout": run_fan_out,
    "size": run_size,
    "cost": run_cost,
}


def meta(sizes: Sizes) -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, as make finds it
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "sizes": {k: v for k, v in sizes.__dict__.items()},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("parts", nargs="*", default=["all"], help=f"all, report, or some of: {', '.join(PARTS)}")
    p.add_argument("--smoke", action="store_true", help="tiny sizes: checks the suite runs, not the figures")
    p.add_argument("--out", type=Path, default=RESULTS, help="where results.json and chart.png go")
    p.add_argument("--markdown", type=Path, default=MARKDOWN, help="the page whose figures are redrawn")
    p.add_argument(
        "--price-per-million-ops",
        type=float,
        default=report.PRICE_PER_MILLION_OPS,
        help="USD per million durable operations (default: the published us-east-1 rate, BENCHMARKS.md)",
    )
    p.add_argument(
        "--durable-store",
        choices=["memory", "sqlite"],
        default="memory",
        help="the durable runner's store for the fan-out (default memory: see bench/fanout.py)",
    )
    args = p.parse_args(argv)
    sizes = replace(SMOKE if args.smoke else FULL, fan_out_store=args.durable_store)
    parts = list(PARTS) if "all" in args.parts else [x for x in args.parts if x != "report"]
    unknown = [x for x in parts if x not in PARTS]
    if unknown:
        p.error(f"unknown part(s): {', '.join(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    results_file = args.out / "results.json"
    results: dict[str, Any] = json.loads(results_file.read_text()) if results_file.exists() else {}
    if parts:
        results["meta"] = meta(sizes)
    for part in parts:  # each part says when and at which commit it ran: parts can be rerun alone
        results.setdefault("runs", {})[part] = {k: results["meta"][k] for k in ("date", "commit")}
    for part in parts:
        started = time.monotonic()
        print(f"bench: {part} ...", flush=True)
        results[part] = PARTS[part](sizes, args.out)
        results.setdefault("seconds", {})[part] = round(time.monotonic() - started, 1)
        results_file.write_text(
            json.dumps(results, indent=1, sort_keys=True) + "\n"
        )  # kept if a later part fails
        print(f"bench: {part} done in {time.monotonic() - started:.1f} s", flush=True)
    if not results:
        print("bench: no results yet; run `python -m bench all`", file=sys.stderr)
        return 1
    report.write(results, args.out, args.markdown, args.price_per_million_ops)
    print(f"bench: wrote {results_file}, {args.out / 'chart.png'} and the figures of {args.markdown}")
    return 0
