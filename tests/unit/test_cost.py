"""The estimate of an attempt's cost: Fargate's billing rule, the prices, a real task's figures."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ecs_contract.cost import (
    ATTEMPT,
    BACKOFF,
    RELAYED_ATTEMPT,
    STEP,
    TASK_STOPPED,
    US_EAST_1,
    AttemptCost,
    Spent,
    billed_seconds,
    estimate,
    total_usd,
)
from ecs_contract.task import parse_task
from ecs_contract.usage import TaskUsage

# A real STOPPED event, as published (shlomi-test-org/python-code- tests/mocks/batch_job_event_mock.py
# MOCK_ECS_EVENT @ f270dd62): an AWS Batch job on Fargate, us-east-1, 2022-11-23.
REAL_EVENT = Path(__file__).parent / "fixtures" / "02-fargate-batch-exit0-essential-exited.json"
REAL_TASK = TaskUsage(512, 2048, "FARGATE", "2022-11-23T16:36:31.21Z", "2022-11-23T16:37:19.295Z")


def usage(pulled: str | None, stopped: str | None, capacity: str | None = "FARGATE") -> TaskUsage:
    return TaskUsage(1024, 2048, capacity, pulled, stopped)


@pytest.mark.parametrize(
    ("pulled", "stopped", "seconds"),
    [
        ("2026-01-02T03:00:00Z", "2026-01-02T04:00:00Z", 3600),  # whole seconds: as they are
        ("2026-01-02T03:00:00Z", "2026-01-02T03:01:30.001Z", 91),  # a millisecond more: a second more
        ("2026-01-02T03:00:00.999Z", "2026-01-02T03:01:31Z", 91),  # 90.001 s: rounded up
        ("2026-01-02T03:00:00Z", "2026-01-02T03:00:10Z", 60),  # 10 s: the one-minute minimum
        ("2026-01-02T03:00:00Z", "2026-01-02T03:00:00Z", 60),  # pulled and stopped at once: still billed
        ("2026-01-02T03:00:00+00:00", "2026-01-02T04:00:00.000000+00:00", 3600),  # DescribeTasks' spelling
    ],
)
def test_fargate_bills_from_the_pull_to_the_stop_rounded_up_to_the_second_at_least_a_minute(
    pulled, stopped, seconds
):
    assert billed_seconds(usage(pulled, stopped)) == seconds


@pytest.mark.parametrize(
    ("pulled", "stopped"),
    [(None, "2026-01-02T03:05:00Z"), ("2026-01-02T03:00:00Z", None), ("yesterday", "2026-01-02T03:05:00Z")],
)
def test_a_task_that_never_pulled_its_image_costs_nothing(pulled, stopped):
    # (a task RunTask could not place, one that failed before its pull, or times that cannot be read)
    spent = estimate(usage(pulled, stopped), ATTEMPT)
    assert (spent.billed_seconds, spent.vcpu_seconds, spent.gb_seconds, spent.fargate_usd) == (0, 0, 0, 0)
    assert estimate(None, ATTEMPT).fargate_usd == 0
    # ... while its operations still cost what they cost
    assert spent.total_usd == spent.durable_operations_usd == 2 * 8.00 / 1e6


def test_spot_is_priced_at_spot_and_anything_else_at_on_demand():
    hour = ("2026-01-02T03:00:00Z", "2026-01-02T04:00:00Z")
    on_demand = estimate(usage(*hour, "FARGATE"), Spent())
    spot = estimate(usage(*hour, "FARGATE_SPOT"), Spent())
    launch_type = estimate(usage(*hour, None), Spent())  # launchType=FARGATE: no capacity provider
    # 1 vCPU and 2 GB for an hour
    assert on_demand.fargate_usd == pytest.approx(0.04048 + 2 * 0.004445)
    assert spot.fargate_usd == pytest.approx(0.3 * on_demand.fargate_usd)  # modelled: 70% off
    assert launch_type.fargate_usd == on_demand.fargate_usd
    assert [c.capacity_provider for c in (on_demand, spot, launch_type)] == ["FARGATE", "FARGATE_SPOT", None]


def test_the_estimate_of_a_real_task_from_its_stopped_event():
    # Given the STOPPED event of a real Fargate task: 512 CPU units, 2,048 MiB, on-demand, pulled at
    # 16:36:31.21 and stopped at 16:37:19.295 (48.085 s, so 49 s, so the minute)
    task = parse_task(json.loads(REAL_EVENT.read_text())["detail"]).usage
    assert task == REAL_TASK

    # When the relay estimates what its attempt cost
    spent = estimate(task, RELAYED_ATTEMPT)

    # Then: 60 s of 0.5 vCPU and 2 GB at the on-demand price
    assert (spent.capacity_provider, spent.billed_seconds) == ("FARGATE", 60)
    assert (spent.vcpu_seconds, spent.gb_seconds) == (30.0, 120.0)
    assert spent.fargate_usd == pytest.approx(30 / 3600 * 0.04048 + 120 / 3600 * 0.004445, abs=1e-9)
    assert spent.fargate_usd == 0.0004855
    # And its callback and start step at $8 a million, two invocations (the relay's and the
    # resume's) of 256 MB for the assumed 0.2 s at arm64's price, and a request each
    assert (spent.durable_operations, spent.durable_operations_usd) == (2, 0.000016)
    per_invocation = 0.20 / 1e6 + 0.25 * 0.2 * 0.0000133334
    assert (spent.invocations, spent.invocations_usd) == (2, round(2 * per_invocation, 9))
    assert spent.total_usd == 0.000503233


def test_what_an_attempt_spends_follows_its_history_path():
    path = (ATTEMPT, TASK_STOPPED, STEP, BACKOFF)
    assert path == (
        Spent(durable_operations=2),  # task-completion #N, start-task #N
        Spent(invocations=2),  # the relay's, the orchestrator's resume
        Spent(durable_operations=1),  # reconcile-task #N, stop-timed-out-task #N
        Spent(1, 1),  # backoff #N, and the resume that ends it
    )
    timed_out_and_stopped = ATTEMPT + TASK_STOPPED + STEP + STEP + BACKOFF
    assert timed_out_and_stopped == Spent(durable_operations=5, invocations=3)


def test_the_estimate_has_a_stable_wire_form_and_reads_back():
    spent = estimate(REAL_TASK, RELAYED_ATTEMPT)
    wire = spent.to_dict()
    assert list(wire) == [
        "capacityProvider",
        "billedSeconds",
        "vcpuSeconds",
        "gbSeconds",
        "fargateUsd",
        "durableOperations",
        "durableOperationsUsd",
        "invocations",
        "invocationsUsd",
        "totalUsd",
    ]
    assert AttemptCost.from_dict(json.loads(json.dumps(wire))) == spent
    assert total_usd([spent, spent]) == round(2 * spent.total_usd, 9)
    assert total_usd([]) == 0.0 and isinstance(total_usd([]), float)


def test_every_price_says_where_it_was_read_when_and_whether_on_aws_own_page():
    prices = US_EAST_1.to_dict()
    assert set(prices) == {
        "fargateVcpuHour",
        "fargateGbHour",
        "fargateSpotVcpuHour",
        "fargateSpotGbHour",
        "durableOperation",
        "lambdaRequest",
        "lambdaGbSecond",
        "stepFunctionsTransition",
    }
    for name, price in prices.items():
        assert price["amountUsd"] > 0 and price["per"] >= 1 and price["unit"], name
        assert price["source"].startswith("https://aws.amazon.com/"), name
        assert price["readOn"] == "2026-12-01", name
        # A price not read on AWS's own page says what was found instead
        assert price["verified"] or price["evidence"], name
    assert US_EAST_1.step_functions_transition.each == 0.000025


def test_a_bigger_task_costs_in_proportion_to_its_size_and_time():
    hour = usage("2026-01-02T03:00:00Z", "2026-01-02T04:00:00Z")
    doubled = replace(hour, cpu=2048, memory=4096)
    assert estimate(doubled, Spent()).fargate_usd == pytest.approx(2 * estimate(hour, Spent()).fargate_usd)
