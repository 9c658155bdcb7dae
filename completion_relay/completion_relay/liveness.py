"""The relay's third job: a worker's progress lines are its heartbeat.

The worker log group's subscription filter (template.yaml, WorkerProgressSubscription) invokes the
relay with the progress lines (`ecs_contract.progress`) in CloudWatch Logs' payload:
{"awslogs": {"data": base64(gzip(JSON))}}, the JSON naming logGroup, logStream and logEvents. A
stream is one task's ("worker/worker/TASK_ID", `ecs_contract.logs`): the relay reads the task's
callback id from its overrides (ONE DescribeTasks for every task of the payload, up to 100) and
sends SendDurableExecutionCallbackHeartbeat once per task and payload, however many lines it had.

A heartbeat is worth only its moment: one that fails is not retried (Lambda's async retries would
deliver it minutes late, the dead-letter queue hours late, each time telling the orchestrator that a
task is alive when it may no longer be). It is counted and logged, and the worker's next progress
line heartbeats again. So this path never raises for AWS' errors: throttling, 5xx, a refusal.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent

from aws_adapters.ecs import DESCRIBE_TASKS_MAX
from aws_adapters.errors import AwsUnavailable
from completion_relay.config import RelayConfig
from completion_relay.gateways import CallbackNotDelivered, CallbackRejected, Delivery
from completion_relay.relay import Gateways, RelayAction, RelayResult
from ecs_contract.logs import WORKER_LOG_STREAM_PREFIX
from ecs_contract.names import WORKER_CONTAINER_NAME, has_marker, is_callback_id, redact
from ecs_contract.progress import Progress, parse_progress
from ecs_contract.task import MalformedTask, Task, parse_task

DATA_MESSAGE = "DATA_MESSAGE"  # CONTROL_MESSAGE: CloudWatch Logs checking that the destination answers
STREAM_PREFIX = f"{WORKER_LOG_STREAM_PREFIX}/{WORKER_CONTAINER_NAME}/"


def is_logs_payload(event: object) -> bool:
    """A CloudWatch Logs subscription's invocation (not an EventBridge event)."""
    return isinstance(event, Mapping) and isinstance(event.get("awslogs"), Mapping)


@dataclass(frozen=True)
class TaskProgress:
    task_id: str
    progress: Progress  # the last progress line of the task in this payload


def progress_of(event: Mapping[str, Any]) -> list[TaskProgress]:
    """Each task's last progress in the payload (a ValueError for a payload that cannot be read)."""
    try:
        decoded = CloudWatchLogsEvent(dict(event)).parse_logs_data()
        if decoded.message_type != DATA_MESSAGE:
            return []
        stream, events = decoded.log_stream, decoded.log_events
    except (KeyError, TypeError, ValueError, zlib.error) as e:  # bad base64, gzip or JSON
        raise ValueError(f"not a CloudWatch Logs payload: {type(e).__name__}") from e
    task_id = stream[len(STREAM_PREFIX) :] if stream.startswith(STREAM_PREFIX) else ""
    if not task_id or "/" in task_id:
        return []
    found = [p for p in (parse_progress(str(e.get("message", ""))) for e in events) if p is not None]
    return [TaskProgress(task_id, found[-1])] if found else []


def relay_progress(event: Mapping[str, Any], config: RelayConfig, gateways: Gateways) -> RelayResult:
    try:
        reports = progress_of(event)
    except ValueError as e:
        return RelayResult(RelayAction.IGNORED, str(e))
    if not reports:
        return RelayResult(RelayAction.IGNORED, "no progress line of a worker task in the payload")
    by_id = {report.task_id: report for report in reports[:DESCRIBE_TASKS_MAX]}
    try:
        described = gateways.tasks.describe_many(config.cluster_arn, list(by_id))
    except AwsUnavailable as e:
        return RelayResult(RelayAction.IGNORED, f"no heartbeat: {e}")
    sent: list[tuple[Task, str]] = []
    skipped: list[str] = []
    for raw in described:
        task_or_why = _open_task(raw, config)
        if isinstance(task_or_why, str):
            skipped.append(task_or_why)
            continue
        task, callback_id = task_or_why
        not_sent = _heartbeat(gateways, callback_id)
        if not_sent is None:
            sent.append((task, callback_id))
        else:
            skipped.append(f"{task.task_arn}: {not_sent}")
    if not sent:
        return RelayResult(RelayAction.IGNORED, "; ".join(skipped) or "ECS no longer knows the tasks")
    task, callback_id = sent[-1]
    progress = by_id[task.task_arn.rsplit("/", 1)[-1]].progress
    reason = f"{len(sent)} heartbeat(s); last progress {progress.describe()}"
    if skipped:
        reason += f"; skipped: {'; '.join(skipped)}"
    return RelayResult(
        RelayAction.HEARTBEAT,
        reason,
        task_arn=", ".join(t.task_arn for t, _ in sent),
        callback=", ".join(redact(c) for _, c in sent),
    )


def _open_task(raw: object, config: RelayConfig) -> tuple[Task, str] | str:
    """The task and its callback id if it is a running task of ours, else why it is skipped."""
    try:
        task = parse_task(raw)
    except MalformedTask as e:
        return f"malformed DescribeTasks answer: {e}"
    callback_id = task.callback_id
    ours = task.cluster_arn == config.cluster_arn and has_marker(task.started_by, config.started_by_marker)
    if not ours:
        return f"{task.task_arn}: not a task of ours"
    if task.last_status == "STOPPED" or callback_id is None or not is_callback_id(callback_id):
        return f"{task.task_arn}: {task.last_status}, no open callback to heartbeat"
    return task, callback_id


def _heartbeat(gateways: Gateways, callback_id: str) -> str | None:
    """Send one heartbeat: None if it went, else why not (never raised: see the module's doc)."""
    try:
        delivery = gateways.callbacks.heartbeat(callback_id)
    except (CallbackNotDelivered, CallbackRejected) as e:  # their messages have the id redacted
        return f"heartbeat not sent: {e}"
    if delivery is Delivery.ALREADY_CLOSED:
        return "callback already closed"
    return None
