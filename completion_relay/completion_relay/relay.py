"""The relay's two jobs, one per EventBridge rule.

- "ECS Task State Change" (STOPPED): complete the task's durable callback, at most once. With a
  start timeout, RUNNING too: complete the task's start callback, which the orchestrator waits on
  first (and on STOPPED, the start callback of a task that stopped before it ever ran).
- "Durable Execution Status Change" (STOPPED, TIMED_OUT, FAILED): stop the ECS tasks the ended
  execution still runs, since no code of the execution runs any more to do it (cancellation).

An event may be a duplicate, arrive out of order, or not be ours at all: every path ends in a
RelayResult that says what was done and why, which the handler logs and counts. What a later try
may fix (throttling, 5xx, network, a permission to grant) is raised instead: Lambda retries the
event, then keeps it in the dead-letter queue for a redrive, so nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import partial
from typing import Any

from aws_adapters.ecs import EcsGateway
from aws_adapters.logs import failure_with_log
from completion_relay.config import RelayConfig
from completion_relay.gateways import CallbackGateway, CallbackRejected, Delivery
from ecs_contract.completion import ResultReader, success_completion
from ecs_contract.cost import RELAYED_ATTEMPT, estimate
from ecs_contract.decide import decide
from ecs_contract.logs import NO_LOGS, LogReader, worker_log
from ecs_contract.names import (
    EXECUTION_STATUS_CHANGE,
    TASK_STATE_CHANGE,
    has_marker,
    is_callback_id,
    redact,
    started_by,
)
from ecs_contract.outcome import Ignored, TaskFailed, encode_callback_result
from ecs_contract.task import MalformedTask, Task, parse_task
from ecs_contract.trace import TraceContext

# An execution in one of these states runs no more code: its tasks would run on, unwatched.
ENDED_STATUSES = frozenset({"STOPPED", "TIMED_OUT", "FAILED"})


@dataclass(frozen=True)
class Gateways:
    callbacks: CallbackGateway
    tasks: EcsGateway
    results: ResultReader
    logs: LogReader = NO_LOGS  # the worker's log, read once per failed task (aws_adapters.logs)


class RelayAction(StrEnum):
    """What the relay did with an event: logged, returned, and counted (one metric each)."""

    SUCCEEDED = "succeeded"  # the callback was completed with the task's success
    FAILED = "failed"  # the callback was completed with the task's typed failure
    ALREADY_CLOSED = "already-closed"  # a duplicate event, or the callback timed out first
    REJECTED = "rejected"  # the callback API refused the completion for good (not retried)
    CANCELLED = "cancelled"  # an ended execution's tasks were stopped
    STARTED = "started"  # the task reached RUNNING: its start callback was completed
    HEARTBEAT = "heartbeat"  # a task's progress lines: its callback was heartbeated (liveness.py)
    IGNORED = "ignored"  # not an event of ours, or nothing to do


@dataclass(frozen=True)
class RelayResult:
    action: RelayAction
    reason: str = ""
    task_arn: str | None = None
    error_type: str | None = None
    callback: str | None = None  # redacted, for logs
    stopped_at: str | None = None
    trace_id: str | None = None  # the orchestrator's trace the task was given (X-Ray form)
    # The task's estimated cost (ecs_contract.cost): counted by the handler when the completion is
    # delivered, which happens once per task (a duplicate event finds the callback closed).
    cost_usd: float | None = None
    # Why a failed task's log tail is not in its failure (the read was denied, throttled...).
    log_tail_unread: str | None = None

    def as_dict(self) -> dict[str, Any]:
        fields = {k: v for k, v in self.__dict__.items() if v not in (None, "")}
        return {**fields, "action": self.action.value}


def relay_event(event: object, config: RelayConfig, gateways: Gateways) -> RelayResult:
    if not isinstance(event, Mapping):
        return RelayResult(RelayAction.IGNORED, "event is not an object")
    if EXECUTION_STATUS_CHANGE.of(event):
        return stop_tasks_of_ended_execution(event.get("detail"), config, gateways)
    if not TASK_STATE_CHANGE.of(event):
        return RelayResult(
            RelayAction.IGNORED, f"not an event the relay handles: {event.get('detail-type')!r}"
        )
    try:
        task = parse_task(event.get("detail"))
    except MalformedTask as e:
        return RelayResult(RelayAction.IGNORED, f"malformed task detail: {e}")
    return relay_task(task, config, gateways)


def relay_task(task: Task, config: RelayConfig, gateways: Gateways) -> RelayResult:
    not_ours = _why_not_ours(task, config)
    if not_ours is not None:
        return RelayResult(RelayAction.IGNORED, not_ours, task.task_arn)
    if task.callback_id is None:
        # Events can omit overrides; the task itself still has them. Only the overrides are taken
        # from DescribeTasks: the event is the authoritative record of how the task stopped.
        described = gateways.tasks.describe(config.cluster_arn, task.task_arn)
        if described is not None:
            try:
                task = replace(task, environment=parse_task(described).environment)
            except MalformedTask as e:
                return RelayResult(RelayAction.IGNORED, f"malformed DescribeTasks answer: {e}", task.task_arn)
    callback_id = task.callback_id
    if callback_id is None or not is_callback_id(callback_id):
        reason = "task carries no callback id" if callback_id is None else "callback id is malformed"
        return RelayResult(RelayAction.IGNORED, reason, task.task_arn)

    if task.last_status != "STOPPED":
        return _tell_started(task, gateways)
    outcome = decide(task)
    trace = TraceContext.of_env(task.environment_of())
    common: dict[str, Any] = {
        "task_arn": task.task_arn,
        "callback": redact(callback_id),
        "stopped_at": task.stopped_at,
        "trace_id": trace.xray_trace_id if trace else None,
    }
    if isinstance(outcome, Ignored):
        return RelayResult(RelayAction.IGNORED, outcome.reason, **common)
    common["cost_usd"] = estimate(task.usage, RELAYED_ATTEMPT).total_usd
    if isinstance(outcome, TaskFailed):
        # One GetLogEvents per failed task, never a poll; a failed read never holds the completion.
        outcome, tail = failure_with_log(
            outcome, task, config.worker_log_group, config.log_tail_lines, gateways.logs
        )
        send_failure = partial(gateways.callbacks.fail, callback_id, outcome.callback_error())
        done = _deliver(
            send_failure,
            RelayAction.FAILED,
            error_type=outcome.error_type.value,
            log_tail_unread=tail.unread,
            **common,
        )
    else:
        # Raises ResultAccessDenied on an S3 403: retried, then dead-lettered, never a success without it.
        log = worker_log(config.worker_log_group, task.task_arn)
        completion = success_completion(outcome, task, gateways.results, config.results_bucket, log)
        send_success = partial(gateways.callbacks.succeed, callback_id, completion.payload)
        done = _deliver(send_success, RelayAction.SUCCEEDED, reason=completion.reason, **common)
    if not task.started:
        # Stopped before it ran (no RUNNING event will come): the orchestrator waits on the start
        # callback first. After the completion, so that the one resume finds both.
        _tell_started(task, gateways)
    return done


def _tell_started(task: Task, gateways: Gateways) -> RelayResult:
    """Complete the task's start callback (a task run with a start timeout): it has RUNNING, or
    has stopped without ever running. The document says which, for the history."""
    start_callback = task.start_callback_id
    if start_callback is None or not is_callback_id(start_callback):
        return RelayResult(
            RelayAction.IGNORED, f"task is {task.last_status}; it has no start callback", task.task_arn
        )
    if not task.started and task.last_status != "STOPPED":
        return RelayResult(RelayAction.IGNORED, f"task is {task.last_status}, not started", task.task_arn)
    document = {"taskArn": task.task_arn, "lastStatus": task.last_status, "startedAt": task.started_at}
    send = partial(gateways.callbacks.succeed, start_callback, encode_callback_result(document))
    return _deliver(send, RelayAction.STARTED, task_arn=task.task_arn, callback=redact(start_callback))


def _why_not_ours(task: Task, config: RelayConfig) -> str | None:
    """Why the relay must leave this task alone; None when it is a stopped task of ours.

    The rule already filters on these; checking again keeps a misconfigured rule harmless."""
    if task.cluster_arn != config.cluster_arn:
        return "task of another cluster"
    if not has_marker(task.started_by, config.started_by_marker):
        return "task not started by us (startedBy marker)"
    if task.last_status not in ("RUNNING", "STOPPED"):
        return f"task is {task.last_status}, not RUNNING or STOPPED"
    return None


def stop_tasks_of_ended_execution(detail: object, config: RelayConfig, gateways: Gateways) -> RelayResult:
    """Stop what an ended execution left running: the tasks whose startedBy names that execution.

    Found with ListTasks(startedBy=...) in our cluster, never by scanning it. An execution that
    ended normally has no task left, so this costs one ListTasks call.
    """
    if not isinstance(detail, Mapping):
        return RelayResult(RelayAction.IGNORED, "execution status change without a detail object")
    execution_arn, status = detail.get("durableExecutionArn"), detail.get("status")
    function_arn = detail.get("functionArn")
    if not isinstance(execution_arn, str) or not execution_arn or not isinstance(function_arn, str):
        return RelayResult(
            RelayAction.IGNORED, "execution status change without durableExecutionArn / functionArn"
        )
    if not config.is_durable_function(function_arn):
        return RelayResult(RelayAction.IGNORED, "execution of another function")
    if not isinstance(status, str) or status not in ENDED_STATUSES:  # a list or dict is unhashable
        return RelayResult(RelayAction.IGNORED, f"execution is {status}, which leaves nothing to stop")
    marker = started_by(config.started_by_marker, execution_arn)
    tasks = gateways.tasks.running(config.cluster_arn, marker)
    reason = f"durable execution {status}"
    stopped = [arn for arn in tasks if gateways.tasks.stop(config.cluster_arn, arn, reason)]
    if not stopped:
        return RelayResult(RelayAction.IGNORED, f"execution {status}; no task of it is running")
    return RelayResult(
        RelayAction.CANCELLED,
        f"execution {status}; stopped {len(stopped)} task(s)",
        task_arn=", ".join(stopped),
    )


def _deliver(send: Callable[[], Delivery], action: RelayAction, **fields: Any) -> RelayResult:
    """Complete the callback; `action` if it was, else why not (closed already, or refused)."""
    try:
        delivery = send()
    except CallbackRejected as refused:  # a 4xx no retry can change: recorded, not dead-lettered
        fields["reason"] = f"the callback API refused the completion, not retried: {refused}"
        return RelayResult(RelayAction.REJECTED, **fields)
    if delivery is Delivery.ALREADY_CLOSED:
        fields["reason"] = "callback already closed (duplicate event or timed out)"
        return RelayResult(RelayAction.ALREADY_CLOSED, **fields)
    return RelayResult(action, **fields)
