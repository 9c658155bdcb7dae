"""Turn one "ECS Task State Change" event into at most one durable callback completion.

The event may be a duplicate, arrive out of order, or not be ours at all: every path ends in a
RelayResult that says what was done and why, which the handler logs and counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from completion_relay.config import RelayConfig
from completion_relay.gateways import CallbackGateway, Delivery, TaskGateway
from ecs_contract.completion import ResultReader, success_completion
from ecs_contract.decide import decide
from ecs_contract.names import has_marker, is_callback_id, redact
from ecs_contract.outcome import Ignored, TaskFailed
from ecs_contract.task import MalformedTask, Task, parse_task

ECS_SOURCE = "aws.ecs"
TASK_STATE_CHANGE = "ECS Task State Change"


@dataclass(frozen=True)
class Gateways:
    callbacks: CallbackGateway
    tasks: TaskGateway
    results: ResultReader


@dataclass(frozen=True)
class RelayResult:
    action: str  # "succeeded" | "failed" | "already-closed" | "ignored"
    reason: str = ""
    task_arn: str | None = None
    error_type: str | None = None
    callback: str | None = None  # redacted, for logs
    stopped_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


def relay_event(event: object, config: RelayConfig, gateways: Gateways) -> RelayResult:
    if not isinstance(event, Mapping):
        return RelayResult("ignored", "event is not an object")
    if event.get("source") != ECS_SOURCE or event.get("detail-type") != TASK_STATE_CHANGE:
        return RelayResult("ignored", f"not an ECS task state change: {event.get('detail-type')!r}")
    try:
        task = parse_task(event.get("detail"))
    except MalformedTask as e:
        return RelayResult("ignored", f"malformed task detail: {e}")
    return relay_task(task, config, gateways)


def relay_task(task: Task, config: RelayConfig, gateways: Gateways) -> RelayResult:
    # The rule already filters on these; checking again keeps a misconfigured rule harmless.
    if task.cluster_arn != config.cluster_arn:
        return RelayResult("ignored", "task of another cluster", task.task_arn)
    if not has_marker(task.started_by, config.started_by_marker):
        return RelayResult("ignored", "task not started by us (startedBy marker)", task.task_arn)
    if task.last_status != "STOPPED":
        return RelayResult("ignored", f"task is {task.last_status}, not STOPPED", task.task_arn)

    if task.callback_id is None:
        # Events can omit overrides; the task itself still has them. Only the overrides are taken
        # from DescribeTasks: the event is the authoritative record of how the task stopped.
        described = gateways.tasks.describe(config.cluster_arn, task.task_arn)
        if described is not None:
            try:
                task = replace(task, environment=parse_task(described).environment)
            except MalformedTask as e:
                return RelayResult("ignored", f"malformed DescribeTasks answer: {e}", task.task_arn)
    callback_id = task.callback_id
    if callback_id is None:
        return RelayResult("ignored", "task carries no callback id", task.task_arn)
    if not is_callback_id(callback_id):
        return RelayResult("ignored", "callback id is malformed", task.task_arn)

    outcome = decide(task)
    common = {"task_arn": task.task_arn, "callback": redact(callback_id), "stopped_at": task.stopped_at}
    if isinstance(outcome, Ignored):
        return RelayResult("ignored", outcome.reason, **common)
    if isinstance(outcome, TaskFailed):
        delivery = gateways.callbacks.fail(callback_id, outcome.callback_error())
        return _delivered(delivery, "failed", error_type=outcome.error_type.value, **common)
    completion = success_completion(
        outcome, task, gateways.results, config.results_bucket, config.results_prefix
    )
    delivery = gateways.callbacks.succeed(callback_id, completion.payload)
    return _delivered(delivery, "succeeded", reason=completion.reason, **common)


def _delivered(delivery: Delivery, action: str, **fields: Any) -> RelayResult:
    if delivery is Delivery.ALREADY_CLOSED:
        fields["reason"] = "callback already closed (duplicate event or timed out)"
        return RelayResult("already-closed", **fields)
    return RelayResult(action, **fields)
