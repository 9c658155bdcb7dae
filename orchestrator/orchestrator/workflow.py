"""The durable workflow: create a callback, start the task in a step, suspend until it completes.

Replay rule: everything outside a step runs again on every replay, so only pure code lives here;
AWS calls, clocks and randomness happen inside the `@durable_step` functions.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_durable_execution_sdk_python import (
    CallbackExternalError,
    CallbackTimeoutError,
    DurableContext,
    StepContext,
    durable_step,
)
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from aws_durable_execution_sdk_python.serdes import JsonSerDes
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from ecs_contract.names import redact, started_by
from ecs_contract.outcome import ErrorType, TaskFailed
from orchestrator import ecs_tasks
from orchestrator.config import OrchestratorConfig
from orchestrator.errors import TaskTimedOut, error_for
from orchestrator.job import JobInput
from orchestrator.observability import metrics

# Only transient AWS errors are worth asking again inside a step; RunTask is idempotent through
# its clientToken, StopTask through ECS itself. Explicit: StepConfig(retry_strategy=None) would
# silently mean the SDK default (6 attempts on any error). Plain JSON keeps checkpoints small and
# the history readable (the default serdes tags every value with its type).
AWS_STEP_CONFIG = StepConfig(
    serdes=JsonSerDes(),
    retry_strategy=create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=4,
            initial_delay=Duration.from_seconds(2),
            max_delay=Duration.from_seconds(30),
            retryable_error_types=[ClientError, BotoCoreError],
        )
    ),
)


@cache
def ecs_client() -> Any:
    return boto3.client("ecs")


@durable_step
def start_task(
    step: StepContext, config: OrchestratorConfig, callback_id: str, job_json: str, execution_arn: str
) -> dict[str, Any]:
    started = ecs_tasks.run_task(
        ecs_client(),
        config,
        callback_id=callback_id,
        job_json=job_json,
        started_by=started_by(config.started_by_marker, execution_arn),
    )
    if "taskArn" in started:
        metrics.add_metric(name="TasksStarted", unit=MetricUnit.Count, value=1)
        step.logger.info(
            "task started", extra={"task_arn": started["taskArn"], "callback": redact(callback_id)}
        )
    return started


@durable_step
def stop_task(step: StepContext, config: OrchestratorConfig, task_arn: str, reason: str) -> bool:
    stopped = ecs_tasks.stop_task(ecs_client(), config, task_arn, reason)
    step.logger.info(
        "task stopped" if stopped else "task already gone", extra={"task_arn": task_arn, "reason": reason}
    )
    return stopped


def run_job(ctx: DurableContext, job: JobInput, config: OrchestratorConfig) -> dict[str, Any]:
    execution_arn = ctx.execution_context.durable_execution_arn
    callback = ctx.create_callback(
        name="task-completion",
        config=CallbackConfig(
            timeout=Duration.from_seconds(config.task_timeout_seconds), serdes=JsonSerDes()
        ),
    )
    started = ctx.step(
        start_task(config, callback.callback_id, job.to_json(), execution_arn),
        name="start-task",
        config=AWS_STEP_CONFIG,
    )
    if "failure" in started:
        error = started["failure"]
        raise error_for(TaskFailed.from_callback_error(error["ErrorMessage"], error["ErrorData"]))
    task_arn = started["taskArn"]

    try:
        completion = callback.result()  # suspends here, at no compute cost, until the relay answers
    except CallbackTimeoutError:
        message = f"task did not finish within {config.task_timeout_seconds} s"
        stopped = ctx.step(
            stop_task(config, task_arn, message), name="stop-timed-out-task", config=AWS_STEP_CONFIG
        )
        fate = "it was stopped" if stopped else "ECS no longer knows it"
        raise TaskTimedOut(f"{message}; {fate} ({task_arn})") from None
    except CallbackExternalError as e:
        raise error_for(TaskFailed.from_callback_error(e.message, e.data)) from None

    if not isinstance(completion, dict):
        raise error_for(TaskFailed(ErrorType.UNKNOWN, f"unexpected completion payload: {completion!r}"))
    return {
        "status": "SUCCEEDED",
        "taskArn": completion.get("taskArn", task_arn),
        "exitCode": completion.get("exitCode"),
        "result": completion.get("result"),
        "resultLocation": completion.get("resultLocation"),
        "startedAt": completion.get("startedAt"),
        "stoppedAt": completion.get("stoppedAt"),
        "attempts": 1,
    }
