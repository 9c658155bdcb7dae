"""The worker task run_task starts: how it is launched, what its container is told, where it
writes its result. The ECS calls themselves are `aws_adapters.ecs.EcsGateway`'s. Called only from
inside durable steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_adapters.ecs import EcsGateway, TaskLaunch
from durable_ecs.settings import EcsSettings
from ecs_contract.documents import StartTaskResult
from ecs_contract.names import CALLBACK_ID_MAX, RESULTS_PREFIX, client_token
from ecs_contract.outcome import ErrorType, TaskFailed
from ecs_contract.overrides import InvalidOverrides, TaskOverrides
from ecs_contract.usage import CapacityProvider

NO_OVERRIDES = TaskOverrides()


def container_overrides(callback_id: str, job_json: str, result_uri: str) -> dict[str, Any]:
    """RunTask's overrides of a job without overrides of its own: the worker container's
    environment (ECS checks their size: 8,192 chars)."""
    return NO_OVERRIDES.to_run_task(
        callback_id=callback_id, job_json=job_json, result_uri=result_uri
    ).overrides


def check_overrides_at_the_door(
    config: EcsSettings, overrides: TaskOverrides, job_json: str, task_env: Mapping[str, str]
) -> None:
    """Raise InvalidOverrides unless the task could start with these overrides: the allow-list,
    and ECS's 8,192 chars with the longest callback id (and so the longest result URI: the client
    token is a fixed-length hash) and `task_env` at its longest (the last attempt). Pure: run_task
    calls it before any step, on every replay."""
    longest = "A" * CALLBACK_ID_MAX
    overrides.check(
        config.allowed_task_definitions,
        job_json=job_json,
        result_uri=result_uri(config, longest),
        task_env=task_env,
    )


def result_uri(config: EcsSettings, callback_id: str) -> str:
    """Where the worker writes its result: one object per task, under the results prefix."""
    return f"s3://{config.results_bucket}/{RESULTS_PREFIX}{client_token(callback_id)}.json"


def launch(
    config: EcsSettings,
    task_definition: str | None = None,
    capacity: CapacityProvider = CapacityProvider.FARGATE,
) -> TaskLaunch:
    """RunTask's fixed part: the deployment's task definition unless the job chose another, on the
    attempt's capacity provider."""
    return TaskLaunch(
        cluster_arn=config.cluster_arn,
        task_definition=task_definition or config.task_definition,
        subnets=config.subnets,
        security_groups=config.security_groups,
        assign_public_ip=config.assign_public_ip,
        capacity=capacity,
    )


def run_task(
    tasks: EcsGateway,
    config: EcsSettings,
    *,
    callback_id: str,
    job_json: str,
    started_by: str,
    overrides: TaskOverrides = NO_OVERRIDES,
    task_env: Mapping[str, str] | None = None,
    capacity: CapacityProvider = CapacityProvider.FARGATE,
    tags: Mapping[str, str] | None = None,
) -> StartTaskResult:
    """Start the worker task once per callback id.

    Returns the task's ARN or, for a start ECS refused, a TaskFailed; raises
    AwsUnavailable for throttling, 5xx and network errors, which the step's retry strategy asks
    again with the same clientToken. The clientToken makes a retried step (e.g. after a Lambda
    timeout between RunTask and the checkpoint) return the task it already started instead of
    starting a second one. A job's `overrides` (checked at the door, check_overrides_at_the_door)
    size the task and may choose its task definition.
    """
    try:
        run = overrides.to_run_task(
            callback_id=callback_id,
            job_json=job_json,
            result_uri=result_uri(config, callback_id),
            task_env=task_env,
        )
    except InvalidOverrides as e:  # checked at the door with the longest callback id: not expected
        return StartTaskResult(TaskFailed(ErrorType.TASK_START_REJECTED, str(e), retryable=False))
    return StartTaskResult(
        tasks.start(
            launch(config, run.task_definition, capacity),
            started_by=started_by,
            client_token=client_token(callback_id),
            overrides=run.overrides,
            tags=tags,
        )
    )
