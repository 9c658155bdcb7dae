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
from ecs_contract.names import (
    CALLBACK_ID_ENV,
    JOB_INPUT_ENV,
    RESULT_URI_ENV,
    RESULTS_PREFIX,
    WORKER_CONTAINER_NAME,
    client_token,
)


def container_overrides(
    callback_id: str, job_json: str, result_uri: str, task_env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """RunTask's overrides: the worker container's environment (ECS checks their size: 8,192 chars).

    `task_env`: what the task knows of itself (its attempt, its index in a fan-out), after the rest.
    """
    overrides: dict[str, Any] = {
        "containerOverrides": [
            {
                "name": WORKER_CONTAINER_NAME,
                "environment": [
                    {"name": CALLBACK_ID_ENV, "value": callback_id},
                    {"name": JOB_INPUT_ENV, "value": job_json},
                    {"name": RESULT_URI_ENV, "value": result_uri},
                ],
            }
        ]
    }
    extra = [{"name": name, "value": value} for name, value in (task_env or {}).items()]
    overrides["containerOverrides"][0]["environment"].extend(extra)
    return overrides


def result_uri(config: EcsSettings, callback_id: str) -> str:
    """Where the worker writes its result: one object per task, under the results prefix."""
    return f"s3://{config.results_bucket}/{RESULTS_PREFIX}{client_token(callback_id)}.json"


def launch(config: EcsSettings) -> TaskLaunch:
    return TaskLaunch(
        cluster_arn=config.cluster_arn,
        task_definition=config.task_definition,
        subnets=config.subnets,
        security_groups=config.security_groups,
        assign_public_ip=config.assign_public_ip,
    )


def run_task(
    tasks: EcsGateway,
    config: EcsSettings,
    *,
    callback_id: str,
    job_json: str,
    started_by: str,
    task_env: Mapping[str, str] | None = None,
) -> StartTaskResult:
    """Start the worker task once per callback id.

    Returns the task's ARN or, for a start ECS refused, a TaskFailed; raises
    AwsUnavailable for throttling, 5xx and network errors, which the step's retry strategy asks
    again with the same clientToken. The clientToken makes a retried step (e.g. after a Lambda
    timeout between RunTask and the checkpoint) return the task it already started instead of
    starting a second one.
    """
    return StartTaskResult(
        tasks.start(
            launch(config),
            started_by=started_by,
            client_token=client_token(callback_id),
            overrides=container_overrides(callback_id, job_json, result_uri(config, callback_id), task_env),
        )
    )
