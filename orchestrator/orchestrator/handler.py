"""Lambda entry point of the orchestrator (a durable function). Thin: parse, delegate, return."""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution

from orchestrator.config import OrchestratorConfig
from orchestrator.job import parse_job, rules_for
from orchestrator.observability import logger, metrics, traced
from orchestrator.workflow import run_job


@metrics.log_metrics
@traced
@durable_execution
def handler(event: Any, context: DurableContext) -> dict[str, Any]:
    context.set_logger(logger)
    config = OrchestratorConfig.from_env()
    job = parse_job(event, config.task_timeout_seconds, rules_for(config.job_choice))
    return run_job(context, job, config)
