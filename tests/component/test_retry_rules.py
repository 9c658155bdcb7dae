"""Retry rules the user sets (RETRY_RULES) and the retry with more memory after an OutOfMemory, in
the orchestrator under the durable runner, its tasks in moto and their events through the relay."""

from __future__ import annotations

import json

from aws_durable_execution_sdk_python.execution import InvocationStatus

from ecs_contract.documents import ExecutionResult, Operation
from testkit.paths import load_event

SUCCESS = load_event("invoke/success")
SPOT = {"exit_code": 143, "stop_code": "SpotInterruption"}
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"


def rules(monkeypatch, *given: dict[str, str]) -> None:
    monkeypatch.setenv("RETRY_RULES", json.dumps(list(given)))
    monkeypatch.setenv("RETRY_DELAY_SECONDS", "1")  # the backoff a RETRY rule waits
    monkeypatch.setenv("RETRY_MAX_DELAY_SECONDS", "1")


def test_an_exit_rule_ends_a_retryable_outcome_on_its_first_attempt(world, monkeypatch):
    # Given a rule that gives up on Spot interruptions (retried on on-demand without it)
    rules(monkeypatch, {"onStatusReason": "Your Spot Task*", "action": "EXIT"})
    arn = world.start(SUCCESS)

    # When the first task is interrupted
    first = world.started_task(1)
    world.stop(first, **SPOT, stopped_reason="Your Spot Task was interrupted.")
    result = world.runner.wait_for_result(arn, timeout=30)

    # Then the execution fails with the outcome, and no second task starts
    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "orchestrator.errors.TaskInterrupted"
    assert result.error.message.endswith("(attempt 1 of 3; retry rule 1: EXIT)")  # says who ended it
    assert len(world.run_task_calls) == 1
    assert [op.name for op in result.operations] == [
        Operation.TASK_COMPLETION.named(1),
        Operation.START_TASK.named(1),
    ]


def test_a_retry_rule_retries_a_worker_exit_code_after_the_backoff(world, monkeypatch):
    # Given a rule that retries exit code 75 (EX_TEMPFAIL), a WorkerFailed the table calls final
    rules(monkeypatch, {"onExitCode": "75", "onErrorType": "WorkerFailed", "action": "RETRY"})
    arn = world.start(SUCCESS)

    # When the first task exits 75 and the second succeeds
    world.stop(world.started_task(1), exit_code=75)
    second = world.started_task(2)
    world.stop(second, exit_code=0, result={"ok": 2})
    result = world.runner.wait_for_result(arn, timeout=30)

    # Then the execution succeeds on attempt 2, after a backoff, at the same size and capacity
    assert result.status is InvocationStatus.SUCCEEDED
    body = ExecutionResult.from_dict(json.loads(result.result))
    assert (body.attempts, body.completion.task_arn) == (2, second["taskArn"])
    assert [op.name for op in result.operations] == [
        Operation.TASK_COMPLETION.named(1),
        Operation.START_TASK.named(1),
        Operation.BACKOFF.named(1),
        Operation.TASK_COMPLETION.named(2),
        Operation.START_TASK.named(2),
    ]
    first_call, second_call = world.run_task_calls
    assert first_call["capacityProviderStrategy"] == second_call["capacityProviderStrategy"]
    assert "cpu" not in second_call["overrides"]


def test_a_worker_exit_code_no_rule_names_stays_final(world, monkeypatch):
    rules(monkeypatch, {"onExitCode": "75", "action": "RETRY"})
    arn = world.start(SUCCESS)
    world.stop(world.started_task(1), exit_code=76)
    result = world.runner.wait_for_result(arn, timeout=30)
    assert result.error.type == "orchestrator.errors.WorkerFailed"
    assert len(world.run_task_calls) == 1


def test_an_out_of_memory_retries_with_more_memory_until_the_ceiling_then_fails(world, monkeypatch):
    # Given a ceiling of 1 GiB: the first retry doubles 512 MiB to it, the next has nowhere to go
    monkeypatch.setenv("MEMORY_RETRY_MAX_MIB", "1024")
    arn = world.start(SUCCESS)
    first = world.started_task(1)
    world.stop({**first, "cpu": "256", "memory": "512"}, exit_code=137, reason=OOM_REASON)
    second = world.started_task(2)
    world.stop({**second, "cpu": "256", "memory": "1024"}, exit_code=137, reason=OOM_REASON)
    result = world.runner.wait_for_result(arn, timeout=30)

    assert result.error.type == "orchestrator.errors.OutOfMemory"
    assert result.error.message.endswith("(attempt 2 of 3)")
    assert [call.get("overrides", {}).get("memory") for call in world.run_task_calls] == [None, "1024"]
    assert world.run_task_calls[1]["overrides"]["containerOverrides"][0]["memory"] == 1024
    assert Operation.BACKOFF.named(1) not in [op.name for op in result.operations]  # at once
