"""What each attempt spent, as the success document reports it, against its history.

Every durable operation of the history is some attempt's (the execution's own start aside): the
counts the document prices add up to the history's length, whatever path the attempts took.
"""

from __future__ import annotations

import json

import pytest
from aws_durable_execution_sdk_python.execution import InvocationStatus
from botocore.stub import Stubber

from ecs_contract.cost import RECONCILED_ATTEMPT, RELAYED_ATTEMPT, TASK_COST_METRIC, estimate
from ecs_contract.documents import CallbackSuccess, CompletedBy, ExecutionResult, Operation
from ecs_contract.outcome import encode_callback_result
from testkit.paths import load_event

SUCCESS = load_event("invoke/success")
SPOT = {"exit_code": 143, "stop_code": "SpotInterruption"}


def succeeded(world, arn: str):
    result = world.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.SUCCEEDED
    return result, ExecutionResult.from_dict(json.loads(result.result))


def test_a_spot_interruption_then_an_on_demand_success_costs_two_attempts_at_their_own_prices(world):
    # Given a Spot task that Spot interrupts, then its on-demand successor that succeeds
    arn = world.start(SUCCESS)
    first = world.started_task(1)
    world.stop(first, **SPOT)
    second = world.started_task(2)
    world.stop(second, exit_code=0, result={"ok": 2})

    result, body = succeeded(world, arn)

    # Then each attempt is priced on its own capacity provider, from its own task's usage
    assert [c.capacity_provider for c in body.costs] == ["FARGATE_SPOT", "FARGATE"]
    # And each spent its callback and start step, and two invocations (the relay's, the resume)
    assert [(c.durable_operations, c.invocations) for c in body.costs] == [(2, 2), (2, 2)]
    assert sum(c.durable_operations for c in body.costs) == len(result.operations)
    # And the on-demand attempt's figure is the one the relay counted for it
    assert body.costs[1] == estimate(body.completion.usage, RELAYED_ATTEMPT)
    assert json.loads(result.result)["cost"]["totalUsd"] == pytest.approx(
        sum(c.total_usd for c in body.costs)
    )


def test_an_attempt_that_started_no_task_spends_its_operations_and_its_backoff_but_no_fargate(
    world, monkeypatch
):
    # Given RunTask failing past the start step's retries (EcsUnavailable: retryable, after a backoff)
    monkeypatch.setenv("MAX_ATTEMPTS", "2")
    with Stubber(world.orchestrator_ecs) as ecs:
        for _ in range(4):  # the step's own retry strategy asks 4 times
            ecs.add_client_error("run_task", service_error_code="ServerException", http_status_code=500)
        ecs.add_response("run_task", {"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/w/t2"}]})
        arn = world.start(SUCCESS)
        callback_id = world.runner.wait_for_callback(arn, name=Operation.TASK_COMPLETION.named(2), timeout=10)
        world.runner.send_callback_success(
            callback_id, encode_callback_result(CallbackSuccess("t2", 0).to_dict())
        )
        result, body = succeeded(world, arn)

    # Then the first attempt: its callback, its start step and its backoff wait, whose end resumed
    # the function; no task, so no relay, no resume on a completion and nothing billed by Fargate
    first, second = body.costs
    assert (first.durable_operations, first.invocations, first.billed_seconds, first.fargate_usd) == (
        3,
        1,
        0,
        0,
    )
    assert (second.durable_operations, second.invocations) == (2, 2)
    assert first.durable_operations + second.durable_operations == len(result.operations)


@pytest.mark.parametrize("task_timeout", [2])
def test_an_attempt_completed_by_reconcile_spends_its_reconcile_step(world, capsys):
    # Given a task whose STOPPED event is lost: the callback times out and the reconcile finds it
    arn = world.start({"message": "event lost", "processingTime": 1})
    world.finish_without_event(world.started_task(), exit_code=0, result={"recovered": True})

    result, body = succeeded(world, arn)

    # Then the attempt spent its callback, start and reconcile steps; two invocations all the same
    # (the resume on the callback's timeout, and the relay's when the event comes after all)
    [attempt] = body.costs
    assert body.completed_by is CompletedBy.RECONCILE
    assert (attempt.durable_operations, attempt.invocations) == (3, 2) == (len(result.operations), 2)
    assert attempt == estimate(body.completion.usage, RECONCILED_ATTEMPT)
    # And the reconcile step counted the task's cost, the relay having delivered nothing
    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    counted = [v for doc in emf for v in doc.get(TASK_COST_METRIC, [])]
    assert counted == [attempt.total_usd]
