"""What a stopped task means, and how that crosses the durable callback.

The relay turns a `TaskFailed` into SendDurableExecutionCallbackFailure (ErrorType, ErrorMessage,
ErrorData) and a `TaskSucceeded` into SendDurableExecutionCallbackSuccess (whose document is
`ecs_contract.documents.CallbackSuccess`); the orchestrator turns the callback back into the same
types. Both sides use the functions here, so they cannot drift.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any

from ecs_contract.limits import (
    CALLBACK_ERROR_MAX_BYTES,
    ERROR_MESSAGE_MAX_CHARS,
    FAILURE_MAX_BYTES,
    MESSAGE_TAIL_LINE_CHARS,
    MESSAGE_TAIL_LINES,
    LimitExceeded,
    clip,
    fit_tail,
)
from ecs_contract.logs import LogLocation
from ecs_contract.usage import TaskUsage


class ErrorType(StrEnum):
    WORKER_FAILED = "WorkerFailed"
    OUT_OF_MEMORY = "OutOfMemory"
    TASK_FAILED_TO_START = "TaskFailedToStart"
    TASK_INTERRUPTED = "TaskInterrupted"
    TASK_STOPPED = "TaskStopped"
    NO_EXIT_CODE = "NoExitCode"
    TASK_TIMED_OUT = "TaskTimedOut"
    TASK_HUNG = "TaskHung"  # no progress within LivenessTimeoutSeconds: stopped (durable_ecs.task)
    CAPACITY_UNAVAILABLE = "CapacityUnavailable"  # RunTask answered failures[]
    TASK_START_REJECTED = "TaskStartRejected"  # RunTask raised ClientException / InvalidParameter
    ECS_UNAVAILABLE = "EcsUnavailable"  # an ECS call kept failing with throttling / 5xx / network
    RESULT_UNREADABLE = "ResultUnreadable"  # the task exited 0 but S3 refused to read its result (403)
    INVALID_INPUT = "InvalidInput"
    UNKNOWN = "Unknown"  # a callback failure that did not come from our relay

    @property
    def remedy(self) -> str:
        """The next step for whoever reads this failure: one line."""
        return REMEDIES[self]


REMEDIES: dict[ErrorType, str] = {
    ErrorType.WORKER_FAILED: "read the worker's log (its last lines and link are in the error data) and fix "
    "the job or its input",
    ErrorType.OUT_OF_MEMORY: "raise the task's memory (the job's cpu/memory overrides, or WorkerMemory)",
    ErrorType.TASK_FAILED_TO_START: "check that the image exists and can be pulled from the task's subnets, "
    "and the task's roles; a capacity failure is retried on its own",
    ErrorType.TASK_INTERRUPTED: "nothing to fix (Fargate Spot took the capacity back): raise MaxAttempts, or "
    "set Capacity=OnDemand for jobs that must not be interrupted",
    ErrorType.TASK_STOPPED: "something called StopTask: the stopped reason says who or why",
    ErrorType.NO_EXIT_CODE: "the container never ran to an exit: read the reason (often it could not start)",
    ErrorType.TASK_TIMED_OUT: "raise TaskTimeoutSeconds, or make the job faster or split it",
    ErrorType.TASK_HUNG: "find where the job stalls (the message has its last progress); report progress "
    "more often, or raise LivenessTimeoutSeconds",
    ErrorType.CAPACITY_UNAVAILABLE: "run it again later, give the tasks subnets in more Availability Zones, "
    "or ask for a higher Fargate quota",
    ErrorType.TASK_START_REJECTED: "fix what RunTask refused: the message names the parameter",
    ErrorType.ECS_UNAVAILABLE: "ECS kept failing: check the AWS Health Dashboard, then run the job again",
    ErrorType.RESULT_UNREADABLE: "grant the function s3:GetObject on the results prefix (and kms:Decrypt for "
    "a KMS-encrypted bucket), then run the job again",
    ErrorType.INVALID_INPUT: "fix the job input as the message says; no task was started",
    ErrorType.UNKNOWN: "something other than the relay completed the callback: read the message",
}


@dataclass(frozen=True)
class TaskSucceeded:
    task_arn: str
    exit_code: int
    started_at: str | None = None
    stopped_at: str | None = None
    usage: TaskUsage | None = None


def encode_callback_result(document: dict[str, Any]) -> bytes:
    """The bytes of SendDurableExecutionCallbackSuccess's Result (UTF-8 JSON, as compact as it gets)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str).encode()


@dataclass(frozen=True)
class TaskFailed:
    error_type: ErrorType
    message: str
    retryable: bool = False
    task_arn: str | None = None
    exit_code: int | None = None
    stop_code: str | None = None
    reason: str | None = None
    usage: TaskUsage | None = None  # what the task used (None: no task, or not known)
    # The task's stoppedReason and its worker container's reason apart (`reason` is whichever
    # explains the outcome): the retry rules match each (ecs_contract.retry_rules).
    stopped_reason: str | None = None
    container_reason: str | None = None
    log: LogLocation | None = None  # the worker's log stream (None: no task, or it never started)
    log_tail: tuple[str, ...] = ()  # its last lines, oldest first, within LOG_TAIL_MAX_BYTES

    def with_log(self, log: LogLocation, tail: Iterable[str] = ()) -> TaskFailed:
        """This failure with the task's log stream and its last lines (cut to fit the limits)."""
        return replace(self, log=log, log_tail=fit_tail(tail))

    def error_message(self) -> str:
        """The message, then the newest few log lines, each clipped: readable in a console."""
        message = clip(self.message) or ""
        if self.log_tail:
            shown = self.log_tail[-MESSAGE_TAIL_LINES:]
            lines = "\n".join(f"  {clip(line, MESSAGE_TAIL_LINE_CHARS)}" for line in shown)
            message = f"{message}\nlast {len(shown)} line(s) of the worker's log:\n{lines}"
        return clip(message, ERROR_MESSAGE_MAX_CHARS) or ""

    def callback_error(self) -> dict[str, str]:
        """The Error object of SendDurableExecutionCallbackFailure, within FAILURE_MAX_BYTES: a
        failure of garbage sizes (a malformed event's) goes without its log, its texts clipped,
        rather than not at all."""
        error = self._error_object()
        if _size(error) > FAILURE_MAX_BYTES:
            clipped = replace(
                self,
                message=clip(self.message) or "",
                log=None,
                log_tail=(),
                task_arn=clip(self.task_arn),
                stop_code=clip(self.stop_code),
                usage=None,
            )
            error = clipped._error_object()
        if _size(error) > CALLBACK_ERROR_MAX_BYTES:  # unreachable: every text above is clipped
            raise LimitExceeded(
                f"a callback failure of {_size(error)} bytes; at most {CALLBACK_ERROR_MAX_BYTES}"
            )
        return error

    def _error_object(self) -> dict[str, str]:
        data = asdict(self)
        data["error_type"] = self.error_type.value
        data["reason"] = clip(self.reason)
        data["stopped_reason"] = clip(self.stopped_reason)
        data["container_reason"] = clip(self.container_reason)
        data["usage"] = self.usage.to_dict() if self.usage else None
        data["remedy"] = self.error_type.remedy
        data["log"] = self.log.to_dict() if self.log else None
        data["log_tail"] = list(fit_tail(self.log_tail))
        return {
            "ErrorType": self.error_type.value,
            "ErrorMessage": self.error_message(),
            "ErrorData": json.dumps(data, separators=(",", ":")),
        }

    def details(self, attempt: int, max_attempts: int) -> str:
        """The ErrorData of the execution this failure ends: the callback's, and the attempt."""
        data = json.loads(self.callback_error()["ErrorData"])
        return json.dumps({**data, "attempt": attempt, "max_attempts": max_attempts}, separators=(",", ":"))

    @classmethod
    def from_callback_error(cls, message: str | None, data: str | None) -> TaskFailed:
        """Rebuild the failure the relay sent; anything else becomes ErrorType.UNKNOWN."""
        try:
            sent = json.loads(data) if data else None
            if isinstance(sent, dict):
                # Only the fields this version knows: a newer relay may send more (an execution
                # replays with the code it started with while the relay is already updated).
                known = {k: v for k, v in sent.items() if k in _FAILURE_FIELDS}
                known["error_type"] = ErrorType(sent["error_type"])
                known["usage"] = TaskUsage.from_dict(sent.get("usage"))
                known["log"] = LogLocation.from_dict(sent.get("log"))
                known["log_tail"] = tuple(str(line) for line in sent.get("log_tail") or ())
                return cls(**known)
        except (ValueError, KeyError, TypeError):
            pass
        return cls(ErrorType.UNKNOWN, message or "callback failed without a message")


_FAILURE_FIELDS = frozenset(f.name for f in fields(TaskFailed))


def _size(error: dict[str, str]) -> int:
    """The Error object's size as the callback API counts it: its fields' bytes."""
    return sum(len(value.encode()) for value in error.values())


@dataclass(frozen=True)
class Ignored:
    """The event is not a completion of ours; `reason` is logged and counted."""

    reason: str


Outcome = TaskSucceeded | TaskFailed | Ignored
