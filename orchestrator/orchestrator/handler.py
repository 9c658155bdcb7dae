"""Lambda entry point of the orchestrator (a durable function): the simplest user of `durable_ecs`.

Parse the job, run one task named DEFAULT_TASK_NAME (its history keeps the names "start-task #1",
...), return its result. Shaped like the relay's: `build_handler` takes what builds the AWS
gateways, so tests hand in their own; Lambda runs `handler`, whose boto3 clients are built once per
execution environment, on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution

from durable_ecs import DEFAULT_TASK_NAME, Gateways, TaskError, TaskRequest, run_task
from durable_ecs.task import aws_gateways
from orchestrator.config import OrchestratorConfig
from orchestrator.errors import as_orchestrator_error
from orchestrator.job import parse_job, rules_for
from orchestrator.observability import logger, metrics, traced

__all__ = ["aws_gateways", "build_handler", "handler"]


def build_handler(gateways: Callable[[], Gateways]) -> Callable[[Any, Any], Any]:
    @metrics.log_metrics
    @traced
    @durable_execution
    def handler(event: Any, context: DurableContext) -> dict[str, Any]:
        context.set_logger(logger)
        config = OrchestratorConfig.from_env()
        job = parse_job(event, config.task_timeout_seconds, rules_for(config.job_choice))
        try:
            result = run_task(
                context,
                DEFAULT_TASK_NAME,
                TaskRequest(job=job.payload, overrides=job.overrides, tags=job.tags),
                config,
                gateways(),
            )
        except TaskError as e:  # an Exception: the SDK's suspension (a BaseException) passes through
            raise as_orchestrator_error(e) from e
        return result.to_dict()

    return handler


handler = build_handler(aws_gateways)
