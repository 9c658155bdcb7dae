"""Lambda's quota of 3,000 durable operations per durable execution, as the local cloud's durable
runner enforces it (local/dex_runner.py wraps the runner's checkpoint write, CheckpointCore.apply):
first the seam on an Execution of the runner's own, then durable functions under the SDK's
in-process test runner with the seam installed as the local cloud installs it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.execution import InvocationStatus
from aws_durable_execution_sdk_python.lambda_service import (
    ErrorObject,
    OperationAction,
    OperationType,
    OperationUpdate,
    StepOptions,
)
from aws_durable_execution_sdk_python.types import StepContext
from aws_durable_execution_sdk_python_testing.checkpoint.core import CheckpointCore, CheckpointResult
from aws_durable_execution_sdk_python_testing.checkpoint.effects import Failed
from aws_durable_execution_sdk_python_testing.checkpoint.transformer import CheckpointRequestDispatcher
from aws_durable_execution_sdk_python_testing.exceptions import InvalidParameterValueException
from aws_durable_execution_sdk_python_testing.execution import Execution
from aws_durable_execution_sdk_python_testing.model import StartDurableExecutionInput
from aws_durable_execution_sdk_python_testing.runner import (
    DurableFunctionTestResult,
    DurableFunctionTestRunner,
)

from ecs_contract.limits import DURABLE_OPERATIONS_MAX
from local.dex_runner import (
    QUOTA_ERROR_TYPE,
    limit_operations,
    metered_operations,
    new_execution,
    operation_limit,
)
from local.durable import MAX_OPERATIONS_ENV

NOW = datetime(2026, 12, 1, tzinfo=UTC)


# -- the seam, on an Execution -------------------------------------------------------------------
def started_execution() -> Execution:
    execution = new_execution(
        StartDurableExecutionInput(
            account_id="123456789012",
            function_name="Fanout",
            function_qualifier="1",
            execution_name="quota",
            execution_timeout_seconds=900,
            execution_retention_period_days=1,
            invocation_id="11111111-2222-3333-4444-555555555555",
            input="{}",
        )
    )
    execution.start(NOW)
    return execution


def step(operation_id: str, action: OperationAction) -> OperationUpdate:
    return OperationUpdate(
        operation_id=operation_id,
        operation_type=OperationType.STEP,
        action=action,
        name=operation_id,
        # a retry at once: the runner makes it READY within the same checkpoint
        step_options=StepOptions(next_attempt_delay_seconds=0) if action is OperationAction.RETRY else None,
        error=ErrorObject(message="boom", type="Boom", data=None, stack_trace=None)
        if action is OperationAction.RETRY
        else None,
    )


def checkpoint(execution: Execution, limit: int, *updates: OperationUpdate) -> CheckpointResult:
    apply = limit_operations(CheckpointCore.apply, limit)
    token = execution.get_new_checkpoint_token()
    return apply(execution, token, list(updates), None, CheckpointRequestDispatcher(), NOW)


def quota_failure(result: CheckpointResult) -> str:
    """The execution failed for the quota: no token, nothing delivered, one Failed effect; its message."""
    assert result.checkpoint_token is None and result.operations == [], result
    (failed,) = result.effects
    assert isinstance(failed, Failed) and failed.error is not None, failed
    assert failed.error.type == QUOTA_ERROR_TYPE and failed.error.message is not None
    return failed.error.message


def test_a_checkpoint_up_to_the_limit_passes_and_the_one_past_it_fails_the_execution() -> None:
    execution = started_execution()  # its start: 1
    passed = checkpoint(execution, 4, *(step(f"s{i}", OperationAction.START) for i in range(3)))
    assert passed.checkpoint_token is not None and passed.effects == []
    assert metered_operations(execution) == 4

    refused = checkpoint(execution, 4, step("s3", OperationAction.START))

    message = quota_failure(refused)
    assert "5 durable operations, over the limit of 4 per durable execution" in message
    assert "split the work across child executions" in message.lower()
    assert "gettingstarted-limits.html" in message
    assert f"AWS's is {DURABLE_OPERATIONS_MAX:,}" in message  # a lowered limit says so
    assert "s3" not in {op.operation_id for op in execution.operations}  # nothing of it applied
    assert metered_operations(execution) == 4


def test_each_step_retry_counts_one() -> None:
    execution = started_execution()
    checkpoint(execution, 3, step("s0", OperationAction.START))
    assert checkpoint(execution, 3, step("s0", OperationAction.RETRY)).checkpoint_token is not None
    assert metered_operations(execution) == 3  # start, the step, its retry

    checkpoint(execution, 3, step("s0", OperationAction.START))  # the second attempt: no new op
    message = quota_failure(checkpoint(execution, 3, step("s0", OperationAction.RETRY)))

    assert "4 durable operations, over the limit of 3" in message


def test_at_the_limit_completions_and_the_executions_own_result_still_pass() -> None:
    execution = started_execution()
    checkpoint(execution, 2, step("s0", OperationAction.START))

    done = checkpoint(
        execution,
        2,
        OperationUpdate(
            operation_id="s0", operation_type=OperationType.STEP, action=OperationAction.SUCCEED, payload="1"
        ),
        OperationUpdate(
            operation_id=execution.start_input.invocation_id or "",
            operation_type=OperationType.EXECUTION,
            action=OperationAction.SUCCEED,
            payload="1",
        ),
    )

    assert [type(e).__name__ for e in done.effects] == ["Completed"]
    assert metered_operations(execution) == 2


def test_a_malformed_checkpoint_is_refused_as_the_runner_refuses_it_whatever_its_size() -> None:
    execution = started_execution()
    twice = [step("s0", OperationAction.START), step("s0", OperationAction.START)]  # a duplicate id

    with pytest.raises(InvalidParameterValueException):
        checkpoint(execution, 1, *twice)


def test_the_limit_is_awss_unless_the_local_cloud_sets_one() -> None:
    assert DURABLE_OPERATIONS_MAX == 3000  # Lambda quotas, "Durable functions"; cannot be increased
    assert operation_limit({}) == DURABLE_OPERATIONS_MAX
    assert operation_limit({MAX_OPERATIONS_ENV: "20"}) == 20


# -- durable functions under the test runner, the seam installed -------------------------------
@pytest.fixture
def runner_limited_to(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    def install(limit: int) -> None:
        limited = limit_operations(CheckpointCore.apply, limit)
        monkeypatch.setattr(CheckpointCore, "apply", staticmethod(limited))

    return install


@durable_execution
def fan_out(event: dict[str, Any], ctx: DurableContext) -> list[int]:
    """A map of one step per item: the map's context 1, each item's child context 1 and its step 1."""

    def item(child: DurableContext, value: int, index: int, items: Sequence[int]) -> int:
        return child.step(lambda _: value * 2, name=f"double {index}")

    return ctx.map(list(range(event["items"])), item, name="items").get_results()


@durable_execution
def sequence(event: dict[str, Any], ctx: DurableContext) -> int:
    for i in range(event["steps"]):
        ctx.step(number(i), name=f"step {i}")
    return int(event["steps"])


def number(i: int) -> Callable[[StepContext], int]:
    return lambda _: i


def run(handler: Callable[[Any, Any], Any], event: dict[str, Any]) -> DurableFunctionTestResult:
    with DurableFunctionTestRunner(handler=handler, poll_interval=0.02) as runner:
        arn = runner.run_async(input=json.dumps(event), timeout=120)
        return runner.wait_for_result(arn, timeout=120)


def test_a_fan_out_under_the_limit_succeeds_and_past_it_fails_with_the_quota_error(
    runner_limited_to: Callable[[int], None],
) -> None:
    runner_limited_to(20)  # 1 + 1 + 2 per item: 9 items use 20

    fits = run(fan_out, {"items": 9})
    too_many = run(fan_out, {"items": 10})

    assert fits.status is InvocationStatus.SUCCEEDED, fits.error
    assert json.loads(fits.result or "") == [2 * i for i in range(9)]
    assert too_many.status is InvocationStatus.FAILED and too_many.error is not None
    assert too_many.error.type == QUOTA_ERROR_TYPE
    # The count it names is the batch's: the SDK checkpoints an item's context and step together
    assert "durable operations, over the limit of 20 per durable execution" in str(too_many.error.message)


@pytest.mark.slow  # 3,000 steps under the in-process runner: about 8 s
def test_at_awss_3000_the_3001st_operation_fails_the_execution(
    runner_limited_to: Callable[[int], None],
) -> None:
    runner_limited_to(DURABLE_OPERATIONS_MAX)

    failed = run(sequence, {"steps": DURABLE_OPERATIONS_MAX})  # its start and 3,000 steps: 3,001

    assert failed.status is InvocationStatus.FAILED and failed.error is not None, failed.result
    assert failed.error.type == QUOTA_ERROR_TYPE
    assert "over the limit of 3,000 per durable execution, which cannot" in str(failed.error.message)
