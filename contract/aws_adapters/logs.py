"""Reading a worker task's last log lines from CloudWatch Logs: once, when its outcome is known.

Never polled per task: per-run GetLogEvents polling exhausted an account's CloudWatch Logs quota
(GetLogEvents: 25 requests a second per account and Region; dagster-io/dagster#30032).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from aws_adapters.errors import ErrorAnswer, transient_as_unavailable
from ecs_contract.logs import LogLocation

# botocore logs model, GetLogEventsRequest.limit (EventsLimit): 1 to 10,000.
MAX_LINES = 10_000


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
