"""Lambda entry point of the completion relay: EventBridge events -> callback completion / task stop.

Shaped like the orchestrator's: `build_handler` takes what builds the AWS gateways, so tests hand in
their own; Lambda runs `handler`, whose boto3 clients are built once per execution environment, on
first use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from aws_adapters.ecs import EcsGateway
from aws_adapters.logs import LogGateway
from aws_adapters.s3 import ResultGateway
from completion_relay.config import RelayConfig
from completion_relay.gateways import CallbackGateway
from completion_relay.liveness import is_logs_payload, relay_progress
from completion_relay.observability import annotate, logger, metrics, traced
from completion_relay.relay import Gateways, RelayAction, RelayResult, relay_event
from ecs_contract.cost import TASK_COST_METRIC

_METRIC_BY_ACTION = {
    RelayAction.SUCCEEDED: "TasksSucceeded",
    RelayAction.FAILED: "TasksFailed",
    RelayAction.ALREADY_CLOSED: "DuplicateCompletions",
    RelayAction.REJECTED: "CompletionsRejected",
    RelayAction.CANCELLED: "TasksCancelled",
    RelayAction.STARTED: "TasksStarted",
    RelayAction.HEARTBEAT: "Heartbeats",
    RelayAction.IGNORED: "IgnoredEvents",
}
_COMPLETED = frozenset({RelayAction.SUCCEEDED, RelayAction.FAILED})


@cache
def aws_gateways() -> Gateways:
    """Clients are built once per execution environment, on first use (not at import)."""
    return Gateways(
        callbacks=CallbackGateway(boto3.client("lambda")),
        tasks=EcsGateway(boto3.client("ecs")),
        results=ResultGateway(boto3.client("s3")),
        logs=LogGateway(boto3.client("logs")),
    )


def build_handler(gateways: Callable[[], Gateways]) -> Callable[[Any, Any], Any]:
    @logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
    @traced
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        config = RelayConfig.from_env()
        # The worker log group's subscription (progress lines), else an EventBridge event.
        if is_logs_payload(event):
            outcome = relay_progress(event, config, gateways())
        else:
            outcome = relay_event(event, config, gateways())
        record(outcome)
        return outcome.as_dict()

    return handler


handler = build_handler(aws_gateways)


def record(outcome: RelayResult) -> None:
    # A refused completion leaves the execution waiting for its timeout's reconcile: worth a look.
    # So is a failure sent without its log tail (the read was denied or throttled): the reason is in
    # the record's `log_tail_unread`.
    log = logger.warning if outcome.action is RelayAction.REJECTED or outcome.log_tail_unread else logger.info
    # The message is for people; tests, benchmarks and queries read the `action` field.
    log(f"relay: {outcome.action.value}", extra=outcome.as_dict())
    metrics.add_metric(name=_METRIC_BY_ACTION[outcome.action], unit=MetricUnit.Count, value=1)
    if outcome.trace_id:  # X-Ray: find this relay's trace by the orchestrator's (annotation search)
        annotate("task_trace_id", outcome.trace_id)
    if outcome.error_type and outcome.action is RelayAction.FAILED:
        metrics.add_metric(name=f"TasksFailed{outcome.error_type}", unit=MetricUnit.Count, value=1)
    if outcome.stopped_at and outcome.action in _COMPLETED:
        lag = _seconds_since(outcome.stopped_at)
        if lag is not None:
            metrics.add_metric(name="CompletionLag", unit=MetricUnit.Milliseconds, value=lag * 1000)
    if outcome.cost_usd is not None and outcome.action in _COMPLETED:
        # Once per task: only a delivered completion counts (a duplicate event is ALREADY_CLOSED; a
        # task whose callback timed out is counted by the orchestrator's reconcile step). No
        # currency among Powertools' units: NoUnit, the currency in the metric's name.
        metrics.add_metric(name=TASK_COST_METRIC, unit=MetricUnit.NoUnit, value=outcome.cost_usd)


def _seconds_since(timestamp: str) -> float | None:
    try:
        stopped = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stopped.tzinfo is None:
        stopped = stopped.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - stopped).total_seconds())
