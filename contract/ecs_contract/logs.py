"""Where a worker task's log lines are, and how a progress line is spelled: what the worker, the
relay and the orchestrator agree on about the worker's CloudWatch Logs.

The awslogs driver writes each container's output to the stream "PREFIX/CONTAINER/TASK_ID" of the
task definition's log group (AmazonECS developerguide, using_awslogs.html, awslogs-stream-prefix):
template.yaml sets the group (WorkerLogGroup) and the prefix ("worker"), so a task's stream follows
from its ARN, with no API call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlsplit

from ecs_contract.names import WORKER_CONTAINER_NAME

# template.yaml, WorkerTaskDefinition: awslogs-stream-prefix (a test holds the two together).
WORKER_LOG_STREAM_PREFIX = "worker"
# The variables template.yaml sets on the relay and the durable functions: the worker's log group
# (WorkerLogGroup) and how many of a failed task's last lines to read (LogTailLines; 0: none).
WORKER_LOG_GROUP_ENV = "WORKER_LOG_GROUP"
LOG_TAIL_LINES_ENV = "LOG_TAIL_LINES"
# GetLogEventsRequest.limit (botocore logs model, EventsLimit): 1 to 10,000 events a call.
LOG_TAIL_LINES_MAX = 10_000


def parse_tail_lines(value: str) -> int:
    """LOG_TAIL_LINES: 0 (off) to LOG_TAIL_LINES_MAX; ValueError naming the variable otherwise."""
    try:
        lines = int(value)
    except ValueError:
        raise ValueError(f"{LOG_TAIL_LINES_ENV} must be an integer, got {value!r}") from None
    if not 0 <= lines <= LOG_TAIL_LINES_MAX:
        raise ValueError(f"{LOG_TAIL_LINES_ENV} must be 0 to {LOG_TAIL_LINES_MAX}, got {lines}")
    return lines


@dataclass(frozen=True)
class LogLocation:
    """One task's log stream."""

    group: str
    stream: str
    region: str

    @classmethod
    def of_task(cls, group: str, task_arn: str, region: str) -> LogLocation:
        task_id = task_arn.rsplit("/", 1)[-1]
        return cls(group, f"{WORKER_LOG_STREAM_PREFIX}/{WORKER_CONTAINER_NAME}/{task_id}", region)

    def console_url(self) -> str:
        """The stream in the CloudWatch console (its "$252F"-style escaping of the path)."""

        def esc(text: str) -> str:
            return quote(quote(text, safe=""), safe="").replace("%", "$")

        return (
            f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
            f"#logsV2:log-groups/log-group/{esc(self.group)}/log-events/{esc(self.stream)}"
        )

    def to_dict(self) -> dict[str, str]:
        return {"group": self.group, "stream": self.stream, "console": self.console_url()}

    @classmethod
    def from_dict(cls, data: object) -> LogLocation | None:
        """What `to_dict` wrote (the region is the console link's host); None for anything else."""
        if not isinstance(data, Mapping):
            return None
        group, stream, console = data.get("group"), data.get("stream"), data.get("console")
        if not (isinstance(group, str) and isinstance(stream, str) and isinstance(console, str)):
            return None
        host = urlsplit(console).hostname or ""
        return cls(group, stream, host.partition(".")[0])


def worker_log(group: str, task_arn: str) -> LogLocation:
    """The worker's stream of a task: the awslogs driver writes in the task's own Region
    (template.yaml: awslogs-region is the stack's), which its ARN names (arn:aws:ecs:REGION:...)."""
    parts = task_arn.split(":")
    return LogLocation.of_task(group, task_arn, parts[3] if len(parts) > 3 else "")


@dataclass(frozen=True)
class LogTail:
    """A task's last log lines, read once; `unread` says why there are none when the read failed."""

    lines: tuple[str, ...] = ()
    unread: str | None = None  # e.g. "AccessDeniedException ...": logged, never a reason to fail


class LogReader(Protocol):
    def tail(self, location: LogLocation, lines: int) -> list[str]:
        """The last `lines` lines of the stream, oldest first: one call, never a poll. [] when the
        stream does not exist (a task that never started has none)."""
        ...


@dataclass(frozen=True)
class NoLogs:
    """A LogReader with nothing to read: where no reader is handed in (tests, benchmarks)."""

    def tail(self, location: LogLocation, lines: int) -> list[str]:
        return []


NO_LOGS = NoLogs()
