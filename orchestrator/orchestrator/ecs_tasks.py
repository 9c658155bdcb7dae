"""The orchestrator's boto3 adapter for ECS. Called only from inside durable steps."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ecs_contract.aws_errors import ErrorAnswer
from ecs_contract.limits import LimitExceeded, check_overrides
from ecs_contract.names import (
    CALLBACK_ID_ENV,
    JOB_INPUT_ENV,
    RESULT_URI_ENV,
    WORKER_CONTAINER_NAME,
    client_token,
)
from ecs_contract.outcome import ErrorType, TaskFailed
from orchestrator.aws_errors import transient_as_unavailable
from orchestrator.config import OrchestratorConfig

# StopTask's answer for a task ECS no longer knows (stopped tasks are kept about an hour).
_UNKNOWN_TASK_CODES = frozenset({"InvalidParameterException", "ClientException"})


def _throttling_in_disguise(answer: ErrorAnswer) -> bool:
    """RunTask throttling reported under another code, with only the message to tell.

    Seen as "InvalidParameterException: Error retrieving subnet information for [subnet-...]: Rate
    exceeded (ErrorCode: Throttling)": ECS wraps EC2's throttling of its subnet lookup
    (dagster-io/dagster#33439). RunTask allows 20 calls a second per account and Region (burst 20).
    """
    text = answer.message.lower()
    return "rate exceeded" in text or "errorcode: throttling" in text


def container_overrides(callback_id: str, job_json: str, result_uri: str) -> dict[str, Any]:
    overrides = {
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
    check_overrides(overrides)
    return overrides


def result_uri(config: OrchestratorConfig, callback_id: str) -> str:
    """Where the worker writes its result: one object per task, under the results prefix."""
    return f"s3://{config.results_bucket}/{config.results_prefix}{client_token(callback_id)}.json"


def run_task(
    ecs: Any, config: OrchestratorConfig, *, callback_id: str, job_json: str, started_by: str
) -> dict[str, Any]:
    """Start the worker task once per callback id.

    Returns {"taskArn": ...} or {"failure": TaskFailed fields} for a start ECS refused; raises
    AwsUnavailable for throttling, 5xx and network errors, which the step's retry strategy asks
    again with the same clientToken. The clientToken makes a retried step (e.g. after a Lambda
    timeout between RunTask and the checkpoint) return the task it already started instead of
    starting a second one.
    """
    network: dict[str, Any] = {
        "subnets": list(config.subnets),
        "assignPublicIp": config.assign_public_ip,
    }
    if config.security_groups:
        network["securityGroups"] = list(config.security_groups)
    try:
        overrides = container_overrides(callback_id, job_json, result_uri(config, callback_id))
    except LimitExceeded as e:
        return _failure(ErrorType.TASK_START_REJECTED, str(e), retryable=False)
    try:
        with transient_as_unavailable("RunTask", also_transient=_throttling_in_disguise):
            response = ecs.run_task(
                cluster=config.cluster_arn,
                taskDefinition=config.task_definition,
                launchType="FARGATE",
                count=1,
                startedBy=started_by,
                clientToken=client_token(callback_id),
                networkConfiguration={"awsvpcConfiguration": network},
                overrides=overrides,
            )
    except ClientError as e:  # what is left no retry can change: a bad parameter, access, a conflict
        answer = ErrorAnswer.of(e.response)
        return _failure(
            ErrorType.TASK_START_REJECTED,
            f"RunTask rejected the request ({answer.code}): {answer.message}",
            retryable=False,
        )
    if response.get("failures") or not response.get("tasks"):
        reasons = "; ".join(
            f"{f.get('reason', '?')}" + (f" ({f['detail']})" if f.get("detail") else "")
            for f in response.get("failures", [])
        )
        return _failure(
            ErrorType.CAPACITY_UNAVAILABLE,
            f"RunTask started no task: {reasons or 'no reason given'}",
            retryable=True,
        )
    return {"taskArn": response["tasks"][0]["taskArn"]}


def describe_task(ecs: Any, config: OrchestratorConfig, task_arn: str) -> dict[str, Any] | None:
    """The task as ECS sees it now; None if ECS no longer knows it (stopped tasks are kept about an hour)."""
    with transient_as_unavailable("DescribeTasks"):
        answer = ecs.describe_tasks(cluster=config.cluster_arn, tasks=[task_arn])
    tasks = answer.get("tasks") or []
    return tasks[0] if tasks else None


def stop_task(ecs: Any, config: OrchestratorConfig, task_arn: str, reason: str) -> bool:
    """Stop the task; False if ECS no longer knows it (stopped tasks are kept about an hour)."""
    try:
        with transient_as_unavailable("StopTask"):
            ecs.stop_task(cluster=config.cluster_arn, task=task_arn, reason=reason[:255])
    except ClientError as e:
        if ErrorAnswer.of(e.response).code in _UNKNOWN_TASK_CODES:
            return False
        raise
    return True


def _failure(error_type: ErrorType, message: str, *, retryable: bool) -> dict[str, Any]:
    # Checkpointed in the same form as a callback failure, so one decoder reads both.
    failure = TaskFailed(error_type, message, retryable=retryable)
    return {"failure": failure.callback_error()}
