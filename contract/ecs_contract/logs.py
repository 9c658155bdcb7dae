"""Where a worker task's log lines are, and how a progress line is spelled: what the worker, the
relay and the orchestrator agree on about the worker's CloudWatch Logs.

The awslogs driver writes each container's output to the stream "PREFIX/CONTAINER/TASK_ID" of the
task definition's log group (AmazonECS developerguide, using_awslogs.html, awslogs-stream-prefix):
template.yaml sets the group (WorkerLogGroup) and the prefix ("worker"), so a task's stream follows
from its ARN, with no API call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from ecs_contract.names import WORKER_CONTAINER_NAME

# template.yaml, WorkerTaskDefinition: awslogs-stream-prefix (a test holds the two together).
WORKER_LOG_STREAM_PREFIX = "worker"


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


class LogReader(Protocol):
    def tail(self, location: LogLocation, lines: int) -> list[str]:
        """The last `lines` lines of the stream, oldest first: one call, never a poll. [] when the
        stream does not exist (a task that never started has none)."""
        ...
