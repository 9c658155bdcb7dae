"""Lambda entry point of the orchestrator (a durable function). Thin: parse, delegate, return.

Shaped like the relay's: `build_handler` takes what builds the AWS gateways, so tests hand in their
own; Lambda runs `handler`, whose boto3 clients are built once per execution environment, on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution

from aws_adapters.clients import ClientOnFirstUse
from aws_adapters.ecs import EcsGateway
from aws_adapters.s3 import ResultGateway
from orchestrator.config import OrchestratorConfig
from orchestrator.job import parse_job, rules_for
from orchestrator.observability import logger, metrics, traced
from orchestrator.workflow import Gateways, run_job


@cache
def aws_gateways() -> Gateways:
    """Built once per execution environment (not at import); each client on its first call, inside a
    step: an invocation that only replays builds none."""
    return Gateways(tasks=EcsGateway(ClientOnFirstUse("ecs")), results=ResultGateway(ClientOnFirstUse("s3")))


def build_handler(gateways: Callable[[], Gateways]) -> Callable[[Any, Any], Any]:
    @metrics.log_metrics
    @traced
    @durable_execution
    def handler(event: Any, context: DurableContext) -> dict[str, Any]:
        context.set_logger(logger)
        config = OrchestratorConfig.from_env()
        job = parse_job(event, config.task_timeout_seconds, rules_for(config.job_choice))
        return run_job(context, job, config, gateways())

    return handler


handler = build_handler(aws_gateways)
