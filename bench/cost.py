"""What 1,000 one-hour jobs cost, four ways (``python -m bench cost``): pure arithmetic, no cloud.

Every figure comes from `ecs_contract.cost` (the prices, Fargate's billing rule, what an attempt
spends), the same code that prices each run in the success document, applied to the assumptions
below, each stated with its row. Nothing here is measured: the durable operations of ours and of
the polling baseline are the counts `python -m bench ops` measures (ours: the execution, a callback
and a start step; polling: 2 a poll, 720 polls an hour, BENCHMARKS.md table 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.ops import POLL_SECONDS, polls_for
from ecs_contract.cost import (
    ATTEMPT,
    TASK_STOPPED,
    US_EAST_1,
    AttemptCost,
    Spent,
    estimate,
)
from ecs_contract.usage import CapacityProvider, TaskUsage

JOBS = 1000
JOB_SECONDS = 3600  # from the image pull to the stop, what Fargate bills
# The worker's size: template.yaml's defaults, WorkerCpu 256 (0.25 vCPU) and WorkerMemory 512 MiB.
CPU, MEMORY = 256, 512
# AWS publishes no interruption rate for Fargate Spot. The EC2 Spot Instance Advisor's lowest band
# of "frequency of interruption" is "<5%" (aws.amazon.com/ec2/spot/instance-advisor/): 5% is that
# band's top, an assumption to replace with your own TasksFailedTaskInterrupted / TasksStartedOnSpot.
INTERRUPTION_RATE = 0.05
# An interruption comes, on average, half-way through (uniformly in the hour): 30 min billed on
# Spot; the job then runs again from its start, a whole hour, on on-demand Fargate (ours moves the
# next attempt there at once, without a backoff, `durable_ecs.attempts`; the worker keeps no
# checkpoint of its own).
INTERRUPTED_AFTER = 0.5
# The execution's own start: one operation (BENCHMARKS.md counts it for ours and polling alike)
# and its first invocation. Not an attempt's: added once per job here.
EXECUTION = Spent(durable_operations=1, invocations=1)
# Step Functions Standard, a state machine of one Task state (arn:aws:states:::ecs:runTask.sync)
# then the end: "Step Functions counts a state transition each time a step of your workflow is
# executed" (aws.amazon.com/step-functions/pricing/); the start and the Task state are counted
# here, 2 a job. The .sync wait itself is Step Functions' own polling, not billed per poll.
SFN_TRANSITIONS = 2
_T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _task(seconds: float, capacity: CapacityProvider) -> TaskUsage:
    stop = _T0 + timedelta(seconds=seconds)
    return TaskUsage(CPU, MEMORY, capacity.value, _T0.isoformat(), stop.isoformat())


@dataclass(frozen=True)
class Row:
    name: str
    assumptions: str
    attempts: tuple[tuple[float, AttemptCost], ...]  # (jobs, the cost of one such attempt)
    state_transitions: float = 0.0  # a job

    def total(self, key: str) -> float:
        return sum(jobs * getattr(cost, key) for jobs, cost in self.attempts)

    def to_dict(self, jobs: int) -> dict[str, Any]:
        transitions = self.state_transitions * jobs
        transitions_usd = transitions * US_EAST_1.step_functions_transition.each
        figures = {
            "fargate_usd": self.total("fargate_usd"),
            "durable_operations": self.total("durable_operations"),
            "durable_operations_usd": self.total("durable_operations_usd"),
            "invocations": self.total("invocations"),
            "invocations_usd": self.total("invocations_usd"),
            "state_transitions": transitions,
            "state_transitions_usd": transitions_usd,
        }
        total = sum(v for k, v in figures.items() if k.endswith("_usd"))
        return {
            "name": self.name,
            "assumptions": self.assumptions,
            **{k: round(v, 6) for k, v in figures.items()},
            "total_usd": round(total, 4),
            "usd_per_job": round(total / jobs, 6),
        }


def rows(jobs: int = JOBS, seconds: int = JOB_SECONDS, interrupted: float = INTERRUPTION_RATE) -> list[Row]:
    hour = {c: _task(seconds, c) for c in CapacityProvider}
    # Ours: the execution, then per attempt its callback, its start step and the two invocations
    # of its end (the relay's, the resume's).
    attempt = ATTEMPT + TASK_STOPPED
    first = EXECUTION + attempt
    on_demand = estimate(hour[CapacityProvider.FARGATE], first)
    spot_whole = estimate(hour[CapacityProvider.FARGATE_SPOT], first)
    spot_cut = estimate(_task(seconds * INTERRUPTED_AFTER, CapacityProvider.FARGATE_SPOT), first)
    again = estimate(hour[CapacityProvider.FARGATE], attempt)
    polls = polls_for(seconds)
    # The seeds' polling pattern (bench/polling): a start step, then a wait and a DescribeTasks step
    # a poll; every wait ends in a resume. launchType=FARGATE: on-demand, no fallback.
    polling = estimate(hour[CapacityProvider.FARGATE], Spent(1 + 1 + 2 * polls, 1 + polls))
    sfn = estimate(hour[CapacityProvider.FARGATE], Spent())
    size = f"{CPU / 1024:g} vCPU, {MEMORY / 1024:g} GB, {seconds / 3600:g} h billed"
    return [
        Row(
            "ours, Spot first, on-demand after an interruption",
            f"{size}; {interrupted:.0%} of Spot tasks interrupted (assumed: AWS publishes no Fargate "
            f"Spot rate; the EC2 Spot Instance Advisor's lowest band is <5%), half-way on average, "
            f"then the whole job again on on-demand; Spot at 70% off on-demand (modelled); Spot never "
            "short of capacity at the start (a shortage would add an attempt's operations, no Fargate)",
            (
                (jobs * (1 - interrupted), spot_whole),
                (jobs * interrupted, spot_cut),
                (jobs * interrupted, again),
            ),
        ),
        Row(
            "ours, on-demand only",
            f"{size}; the execution, a callback, a start step; the relay's and the resume's invocations",
            ((jobs, on_demand),),
        ),
        Row(
            f"polling baseline, every {POLL_SECONDS} s (the seeds' pattern)",
            f"{size}, on-demand; a start step, then {polls} polls of a wait and a DescribeTasks step, "
            "each wait ending in an invocation",
            ((jobs, polling),),
        ),
        Row(
            "Step Functions Standard, ecs:runTask.sync",
            f"{size}, on-demand; {SFN_TRANSITIONS} state transitions a job (start, the Task state); "
            "no Lambda",
            ((jobs, sfn),),
            state_transitions=SFN_TRANSITIONS,
        ),
    ]


def break_even_interruption_rate() -> float:
    """The share of Spot tasks interrupted at which Spot first costs what on-demand does (Fargate
    only): (1 - p) S + p (S/2 + D) = D, with S and D an hour's price on each."""
    spot = estimate(_task(JOB_SECONDS, CapacityProvider.FARGATE_SPOT), Spent()).fargate_usd
    on_demand = estimate(_task(JOB_SECONDS, CapacityProvider.FARGATE), Spent()).fargate_usd
    return (on_demand - spot) / (on_demand - spot * INTERRUPTED_AFTER)


def measure(
    jobs: int = JOBS, seconds: int = JOB_SECONDS, interrupted: float = INTERRUPTION_RATE
) -> dict[str, Any]:
    return {
        "jobs": jobs,
        "job_seconds": seconds,
        "cpu": CPU,
        "memory": MEMORY,
        "interruption_rate": interrupted,
        "break_even_interruption_rate": round(break_even_interruption_rate(), 4),
        "rows": [row.to_dict(jobs) for row in rows(jobs, seconds, interrupted)],
        "prices": US_EAST_1.to_dict(),
    }
