"""Reading a worker task's last log lines from CloudWatch Logs: once, when its outcome is known.

Never polled per task: per-run GetLogEvents polling exhausted an account's CloudWatch Logs quota
(GetLogEvents: 25 requests a second per account and Region; dagster-io/dagster#30032).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from aws_adapters.errors import AwsUnavailable, ErrorAnswer, transient_as_unavailable
from ecs_contract.logs import LOG_TAIL_LINES_MAX, LogLocation, LogReader, LogTail, worker_log
from ecs_contract.outcome import TaskFailed
from ecs_contract.task import Task

MAX_LINES = LOG_TAIL_LINES_MAX  # botocore logs model, GetLogEventsRequest.limit (EventsLimit)


@dataclass
class LogGateway:
    """The `ecs_contract.logs.LogReader` both functions read the worker's log with."""

    logs_client: Any

    def tail(self, location: LogLocation, lines: int) -> list[str]:
        """The last `lines` lines, oldest first; [] if the stream does not exist (yet).

        One GetLogEvents with startFromHead=false ("the latest log events are returned first").
        The model warns that a page "might only be partially full, or even empty": a tail is a
        best effort, never a reason to fail. Raises AwsUnavailable on throttling, 5xx, network.
        """
        if not 1 <= lines <= MAX_LINES:
            raise ValueError(f"lines is 1 to {MAX_LINES}, got {lines}")
        try:
            with transient_as_unavailable("GetLogEvents"):
                answer = self.logs_client.get_log_events(
                    logGroupName=location.group,
                    logStreamName=location.stream,
                    limit=lines,
                    startFromHead=False,
                )
        except ClientError as e:
            if ErrorAnswer.of(e.response).code == "ResourceNotFoundException":
                return []
            raise
        events = sorted(answer.get("events") or [], key=lambda event: event.get("timestamp", 0))
        return [str(event.get("message", "")) for event in events][-lines:]


def read_tail(reader: LogReader, location: LogLocation, lines: int) -> LogTail:
    """The last `lines` lines (0: none, no call), or why they could not be read.

    A failed read (throttled past botocore's own retries, denied, a network error) never fails or
    delays the completion it would have decorated: the failure goes without its tail, which is best
    effort, and names the stream, so the lines stay one click away. Asking again would add calls
    against the account's GetLogEvents quota exactly when a burst of failures throttles it.
    """
    if lines <= 0:
        return LogTail()
    try:
        return LogTail(tuple(reader.tail(location, min(lines, MAX_LINES))))
    except (AwsUnavailable, ClientError, BotoCoreError) as e:
        return LogTail(unread=f"{type(e).__name__}: {e}")


def failure_with_log(
    failure: TaskFailed, task: Task, group: str, lines: int, reader: LogReader
) -> tuple[TaskFailed, LogTail]:
    """The failure of a stopped task with its log stream and last lines (one GetLogEvents). A task
    that never started has no stream (the awslogs driver makes it when the container starts): no
    call, and no link to a stream that is not there."""
    if not task.started:
        return failure, LogTail()
    location = worker_log(group, task.task_arn)
    tail = read_tail(reader, location, lines)
    return failure.with_log(location, tail.lines), tail
