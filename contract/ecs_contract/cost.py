"""What a task's attempt cost: Fargate's vCPU- and GB-seconds at its capacity provider's price, plus
the durable operations and Lambda invocations it caused. An estimate, from labelled prices.

Pure and stdlib only: the orchestrator (for the result document), the relay (for the metric) and
the bench (for the 1,000-job table) compute it the same way.

Fargate's billing rule (aws.amazon.com/fargate/pricing): "from the time you start to download your
container image until the Amazon ECS Task terminates, rounded up to the nearest second. A minimum
charge of 1 minute applies." So: Task.pullStartedAt to Task.stoppedAt, rounded up to the second,
at least 60 s; a task that never pulled its image (no pullStartedAt) is not billed.

Every price is a `Price`: its amount as published, its unit, where it was read and when, and
whether it was read on AWS's own page (`verified`) or only in third-party copies of it (this
machine has no network but the search index; see BENCHMARKS.md "8. Cost").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ecs_contract.usage import CapacityProvider, TaskUsage

# The metric the relay (and the reconcile step) emit once per stopped task. Powertools' units have
# no currency: MetricUnit.NoUnit ("None", CloudWatch's unit for a plain number) and the currency in
# the name. Not Count, which would claim discrete things and sum as such on dashboards.
TASK_COST_METRIC = "EstimatedTaskCostUSD"

READ_ON = "2026-12-01"
FARGATE_PRICING = "https://aws.amazon.com/fargate/pricing/"
LAMBDA_PRICING = "https://aws.amazon.com/lambda/pricing/"
STEP_FUNCTIONS_PRICING = "https://aws.amazon.com/step-functions/pricing/"

BILLING_MINIMUM_SECONDS = 60  # Fargate: "A minimum charge of 1 minute applies"
_SECOND = timedelta(seconds=1)
_HOUR = 3600.0


@dataclass(frozen=True)
class Price:
    """A published price: `amount` USD per `per` `unit` (as published: "$8.00 per 1M operations")."""

    amount: float
    unit: str
    source: str
    read_on: str
    verified: bool  # read on AWS's own page (or a capture of it); False: third-party copies only
    evidence: str = ""  # what was found, where it is not AWS's page
    per: int = 1

    @property
    def each(self) -> float:
        """USD per one unit."""
        return self.amount / self.per

    def to_dict(self) -> dict[str, Any]:
        return {
            "amountUsd": self.amount,
            "per": self.per,
            "unit": self.unit,
            "source": self.source,
            "readOn": self.read_on,
            "verified": self.verified,
            "evidence": self.evidence,
        }


_FARGATE_THIRD_PARTY = (
    "AWS's page not readable here; the same figures in vantage.sh/blog/fargate-pricing, "
    "fortem.dev/fargate-spot ('verified June 2026 from aws.amazon.com/fargate/pricing'), "
    "wring.co (March 2026), factualminds.com (June 2026)"
)
_SPOT_MODELLED = (
    "Fargate Spot's price moves with supply and demand (the page's 'Current Spot price' table, not "
    "readable here); modelled as 70% off on-demand, AWS's 'up to 70%' (the figure fortem.dev and "
    "wring.co quote), so the Spot rows are a lower bound of the cost"
)
_LAMBDA_THIRD_PARTY = (
    "the page renders its rate tables client-side; the figures as transcribed from it in "
    "api-evangelist/aws-lambda plans/aws-lambda-plans-pricing.yml (read 2026-09-20) and "
    "lambda_local_runner docs (2026-05)"
)


@dataclass(frozen=True)
class Prices:
    """us-east-1, Linux/x86 Fargate; the functions are arm64 (template.yaml Globals)."""

    fargate_vcpu_hour: Price
    fargate_gb_hour: Price
    fargate_spot_vcpu_hour: Price
    fargate_spot_gb_hour: Price
    durable_operation: Price
    lambda_request: Price
    lambda_gb_second: Price
    step_functions_transition: Price

    def fargate(self, capacity_provider: str | None) -> tuple[Price, Price]:
        """(per vCPU-hour, per GB-hour) on this capacity provider; a launch-type task is on-demand."""
        if capacity_provider == CapacityProvider.FARGATE_SPOT:
            return self.fargate_spot_vcpu_hour, self.fargate_spot_gb_hour
        return self.fargate_vcpu_hour, self.fargate_gb_hour

    def to_dict(self) -> dict[str, Any]:
        return {
            "fargateVcpuHour": self.fargate_vcpu_hour.to_dict(),
            "fargateGbHour": self.fargate_gb_hour.to_dict(),
            "fargateSpotVcpuHour": self.fargate_spot_vcpu_hour.to_dict(),
            "fargateSpotGbHour": self.fargate_spot_gb_hour.to_dict(),
            "durableOperation": self.durable_operation.to_dict(),
            "lambdaRequest": self.lambda_request.to_dict(),
            "lambdaGbSecond": self.lambda_gb_second.to_dict(),
            "stepFunctionsTransition": self.step_functions_transition.to_dict(),
        }


_ON_DEMAND_VCPU_HOUR = 0.04048
_ON_DEMAND_GB_HOUR = 0.004445
_SPOT_DISCOUNT = 0.70

US_EAST_1 = Prices(
    fargate_vcpu_hour=Price(
        _ON_DEMAND_VCPU_HOUR, "vCPU-hour", FARGATE_PRICING, READ_ON, False, _FARGATE_THIRD_PARTY
    ),
    fargate_gb_hour=Price(
        _ON_DEMAND_GB_HOUR, "GB-hour", FARGATE_PRICING, READ_ON, False, _FARGATE_THIRD_PARTY
    ),
    fargate_spot_vcpu_hour=Price(
        round(_ON_DEMAND_VCPU_HOUR * (1 - _SPOT_DISCOUNT), 8),
        "vCPU-hour",
        FARGATE_PRICING,
        READ_ON,
        False,
        _SPOT_MODELLED,
    ),
    fargate_spot_gb_hour=Price(
        round(_ON_DEMAND_GB_HOUR * (1 - _SPOT_DISCOUNT), 8),
        "GB-hour",
        FARGATE_PRICING,
        READ_ON,
        False,
        _SPOT_MODELLED,
    ),
    durable_operation=Price(
        8.00,
        "durable operation",
        LAMBDA_PRICING,
        READ_ON,
        False,
        "the page's durable functions example rate ('$8.00/M'), " + _LAMBDA_THIRD_PARTY,
        per=1_000_000,
    ),
    lambda_request=Price(0.20, "request", LAMBDA_PRICING, READ_ON, False, _LAMBDA_THIRD_PARTY, per=1_000_000),
    lambda_gb_second=Price(
        0.0000133334, "GB-second (arm64, first tier)", LAMBDA_PRICING, READ_ON, False, _LAMBDA_THIRD_PARTY
    ),
    step_functions_transition=Price(
        0.025,
        "state transition (Standard)",
        STEP_FUNCTIONS_PRICING,
        READ_ON,
        True,
        "the page's table: US East (N. Virginia) $0.0250 per 1,000 state transitions",
        per=1_000,
    ),
)


@dataclass(frozen=True)
class InvocationShape:
    """What one invocation of our functions bills: its memory and an assumed billed duration.

    256 MB is template.yaml's MemorySize. 0.2 s is an assumption: a warm resume replays a handful of
    checkpoints and calls at most one AWS API (the relay: ~0.1 ms of its own work, BENCHMARKS.md
    measurement 4, plus its network calls); a cold start is ~0.4 s on this machine (measurement 3).
    """

    memory_mb: int = 256
    seconds: float = 0.2

    @property
    def gb_seconds(self) -> float:
        return self.memory_mb / 1024 * self.seconds


DEFAULT_INVOCATION = InvocationShape()


@dataclass(frozen=True)
class Spent:
    """The durable operations and Lambda invocations one attempt caused."""

    durable_operations: int = 0
    invocations: int = 0

    def __add__(self, other: Spent) -> Spent:
        return Spent(self.durable_operations + other.durable_operations, self.invocations + other.invocations)


# An attempt, from its history path (ecs_contract.documents.Operation). The execution's own start
# (1 operation, 1 invocation) is the caller's, not an attempt's: the bench adds it per job.
ATTEMPT = Spent(durable_operations=2)  # its callback and its start step
# A task that started ends in two invocations: the relay's, on its STOPPED event (even when the
# callback already closed), and the orchestrator's resume, on the callback's completion or timeout.
# In a fan-out (run_tasks) one resume may serve several items: there, an upper bound.
TASK_STOPPED = Spent(invocations=2)
STEP = Spent(durable_operations=1)  # a reconcile step, a stop step (after either timeout)
# With a start timeout (StartTimeoutSeconds): a second callback; the relay completes it on the
# task's RUNNING event (its invocation, then the orchestrator's resume), or it times out (a resume).
# A task that stops before it runs has both callbacks completed by one relay invocation, which one
# resume finds: there the counts are an upper bound.
START_CALLBACK = Spent(durable_operations=1)
TASK_RUNNING = Spent(invocations=2)
START_TIMED_OUT = Spent(invocations=1)
BACKOFF = Spent(durable_operations=1, invocations=1)  # the wait, and the resume that ends it
# What the relay knows of an attempt it completes: started, stopped, no timeout, no backoff yet.
RELAYED_ATTEMPT = ATTEMPT + TASK_STOPPED
# What the reconcile step knows of an attempt whose task it found stopped: the same, and itself.
RECONCILED_ATTEMPT = RELAYED_ATTEMPT + STEP


def billed_seconds(usage: TaskUsage | None) -> int:
    """Fargate's billed seconds: pullStartedAt to stoppedAt, rounded up, at least a minute; 0 when
    the task never pulled its image (or its times are unknown or unreadable)."""
    if usage is None or not usage.pull_started_at or not usage.stopped_at:
        return 0
    start, stop = _instant(usage.pull_started_at), _instant(usage.stopped_at)
    if start is None or stop is None:
        return 0
    whole = -((start - stop) // _SECOND)  # ceil, on exact microseconds (never a float)
    return max(whole, BILLING_MINIMUM_SECONDS)


def _instant(timestamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def _usd(value: float) -> float:
    """USD to the nano-dollar: stable in JSON, and far below what any price here can tell apart."""
    return round(value, 9)


@dataclass(frozen=True)
class AttemptCost:
    """One attempt's estimate. USD to the nano-dollar."""

    capacity_provider: str | None
    billed_seconds: int
    vcpu_seconds: float
    gb_seconds: float
    fargate_usd: float
    durable_operations: int
    durable_operations_usd: float
    invocations: int
    invocations_usd: float

    @property
    def total_usd(self) -> float:
        return _usd(self.fargate_usd + self.durable_operations_usd + self.invocations_usd)

    def to_dict(self) -> dict[str, Any]:
        return {
            "capacityProvider": self.capacity_provider,
            "billedSeconds": self.billed_seconds,
            "vcpuSeconds": self.vcpu_seconds,
            "gbSeconds": self.gb_seconds,
            "fargateUsd": self.fargate_usd,
            "durableOperations": self.durable_operations,
            "durableOperationsUsd": self.durable_operations_usd,
            "invocations": self.invocations,
            "invocationsUsd": self.invocations_usd,
            "totalUsd": self.total_usd,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttemptCost:
        cp = data.get("capacityProvider")
        return cls(
            capacity_provider=cp if isinstance(cp, str) else None,
            billed_seconds=int(data.get("billedSeconds") or 0),
            vcpu_seconds=float(data.get("vcpuSeconds") or 0),
            gb_seconds=float(data.get("gbSeconds") or 0),
            fargate_usd=float(data.get("fargateUsd") or 0),
            durable_operations=int(data.get("durableOperations") or 0),
            durable_operations_usd=float(data.get("durableOperationsUsd") or 0),
            invocations=int(data.get("invocations") or 0),
            invocations_usd=float(data.get("invocationsUsd") or 0),
        )


def estimate(
    usage: TaskUsage | None,
    spent: Spent,
    prices: Prices = US_EAST_1,
    invocation: InvocationShape = DEFAULT_INVOCATION,
) -> AttemptCost:
    """One attempt's cost: its task's Fargate seconds at its capacity provider's price (a size ECS
    did not report counts 0), plus the operations and invocations it caused."""
    seconds = billed_seconds(usage)
    cpu = usage.cpu if usage and usage.cpu else 0
    memory = usage.memory if usage and usage.memory else 0
    vcpu_seconds = seconds * cpu / 1024  # 1,024 CPU units a vCPU (ECS TaskDefinition.cpu)
    gb_seconds = seconds * memory / 1024  # Fargate's GB is 1,024 MiB (512 MiB = 0.5 GB)
    capacity = usage.capacity_provider if usage else None
    per_vcpu_hour, per_gb_hour = prices.fargate(capacity)
    fargate = vcpu_seconds / _HOUR * per_vcpu_hour.each + gb_seconds / _HOUR * per_gb_hour.each
    per_invocation = prices.lambda_request.each + invocation.gb_seconds * prices.lambda_gb_second.each
    return AttemptCost(
        capacity_provider=capacity,
        billed_seconds=seconds,
        vcpu_seconds=vcpu_seconds,
        gb_seconds=gb_seconds,
        fargate_usd=_usd(fargate),
        durable_operations=spent.durable_operations,
        durable_operations_usd=_usd(spent.durable_operations * prices.durable_operation.each),
        invocations=spent.invocations,
        invocations_usd=_usd(spent.invocations * per_invocation),
    )


def total_usd(costs: Iterable[AttemptCost]) -> float:
    return _usd(sum((c.total_usd for c in costs), 0.0))
