"""What the orchestrator checkpoints and returns, and the names of its history's operations.

Deployed executions replay what an earlier version checkpointed, and callers read the execution's
result: every key and value here keeps its exact spelling (tests/unit/test_documents.py pins the
wire form of each). Each document has one `to_dict` and one `from_dict`, and nothing else in the
repository spells its keys.

- `StartTaskResult`: the "start-task #N" step's result (the task RunTask started, or why none).
- `ReconcileResult`: the "reconcile-task #N" step's result (what became of a task after a timeout).
- `CallbackSuccess`: the document of SendDurableExecutionCallbackSuccess; the relay sends it, the
  reconcile step builds the same one when the event never came.
- `ExecutionResult`: what a succeeded execution returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ecs_contract.cost import AttemptCost, total_usd
from ecs_contract.logs import LogLocation
from ecs_contract.outcome import TaskFailed, TaskSucceeded
from ecs_contract.usage import TaskUsage

# The name of a task whose operations keep the bare names ("start-task #1"): `durable_ecs.run_task`'s
# name for a workflow's only task, and the shipped orchestrator's.
DEFAULT_TASK_NAME = "task"


class Operation(StrEnum):
    """The operations of the durable history, each named with its attempt ("start-task #1").

    The names identify checkpoints on replay: renaming one breaks the executions in flight.
    """

    TASK_COMPLETION = "task-completion"  # the callback the relay completes
    START_TASK = "start-task"  # step: RunTask
    RECONCILE_TASK = "reconcile-task"  # step: DescribeTasks, only after a callback timeout
    STOP_TIMED_OUT_TASK = "stop-timed-out-task"  # step: StopTask, after the reconcile found it running
    BACKOFF = "backoff"  # wait before the next attempt
    # Only with a start timeout (StartTimeoutSeconds > 0):
    TASK_STARTED = "task-started"  # the callback the relay completes when the task reaches RUNNING
    RECONCILE_START = "reconcile-start"  # step: DescribeTasks, after the start callback timed out
    STOP_UNSTARTED_TASK = "stop-unstarted-task"  # step: StopTask, the task never reached RUNNING
    # Only with a liveness timeout (LivenessTimeoutSeconds > 0):
    STOP_HUNG_TASK = "stop-hung-task"  # step: its last progress from its log, StopTask: a TaskHung

    def named(self, attempt: int, task: str = DEFAULT_TASK_NAME) -> str:
        """ "start-task #1" for the task named DEFAULT_TASK_NAME (the shipped orchestrator's one task,
        whose executions in flight replay by these names), "prepare: start-task #1" for any other."""
        bare = f"{self.value} #{attempt}"
        return bare if task == DEFAULT_TASK_NAME else f"{task}: {bare}"

    def names(self, name: object) -> bool:
        """Whether an operation name is this operation (of any attempt, of any task)."""
        if not isinstance(name, str):
            return False
        bare = name.rpartition(": ")[2]
        return bare == self.value or bare.startswith(f"{self.value} #")


# A failure is checkpointed as the Error object of a callback failure, so one decoder reads both.
_FAILURE = "failure"


def _failure_from(error: Any) -> TaskFailed:
    fields = error if isinstance(error, Mapping) else {}
    return TaskFailed.from_callback_error(fields.get("ErrorMessage"), fields.get("ErrorData"))


@dataclass(frozen=True)
class StartTaskResult:
    """The start-task step's result: {"taskArn": ...} or {"failure": <callback Error object>}."""

    outcome: str | TaskFailed  # the started task's ARN, or why no task started

    def to_dict(self) -> dict[str, Any]:
        if isinstance(self.outcome, TaskFailed):
            return {_FAILURE: self.outcome.callback_error()}
        return {"taskArn": self.outcome}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StartTaskResult:
        if _FAILURE in data:
            return cls(_failure_from(data[_FAILURE]))
        return cls(str(data["taskArn"]))


@dataclass(frozen=True)
class CallbackSuccess:
    """The JSON document sent with SendDurableExecutionCallbackSuccess."""

    task_arn: str | None
    exit_code: int | None
    started_at: str | None = None
    stopped_at: str | None = None
    result: Any = None  # the worker's result, inline when it fits the callback's limit
    result_location: str | None = None  # else where it is (s3://...)
    usage: TaskUsage | None = None  # the task's size, capacity provider and billed times
    log: LogLocation | None = None  # the worker's log stream: group, stream, console link

    @classmethod
    def of(
        cls,
        outcome: TaskSucceeded,
        result: Any = None,
        result_location: str | None = None,
        log: LogLocation | None = None,
    ) -> CallbackSuccess:
        return cls(
            task_arn=outcome.task_arn,
            exit_code=outcome.exit_code,
            started_at=outcome.started_at,
            stopped_at=outcome.stopped_at,
            result=result,
            result_location=result_location,
            usage=outcome.usage,
            log=log,
        )

    def to_dict(self) -> dict[str, Any]:
        # This key order is the order of the bytes sent, whose size the callback limit counts.
        return {
            "taskArn": self.task_arn,
            "exitCode": self.exit_code,
            "startedAt": self.started_at,
            "stoppedAt": self.stopped_at,
            "result": self.result,
            "resultLocation": self.result_location,
            "usage": self.usage.to_dict() if self.usage else None,
            "log": self.log.to_dict() if self.log else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], task_arn: str | None = None) -> CallbackSuccess:
        """Read a completion; a key that is missing reads as None (`task_arn` for "taskArn").

        Anyone allowed to complete the callback (an operator with the CLI) may send less than
        the relay does: what is missing is taken as unknown, never as a failure.
        """
        return cls(
            task_arn=data.get("taskArn", task_arn),
            exit_code=data.get("exitCode"),
            started_at=data.get("startedAt"),
            stopped_at=data.get("stoppedAt"),
            result=data.get("result"),
            result_location=data.get("resultLocation"),
            usage=TaskUsage.from_dict(data.get("usage")),
            log=LogLocation.from_dict(data.get("log")),
        )


class TaskState(StrEnum):
    """What the reconcile step found."""

    RUNNING = "running"  # ECS still runs it: the orchestrator stops it
    UNKNOWN = "unknown"  # ECS no longer knows it (stopped tasks are kept about an hour)
    STOPPED = "stopped"  # it stopped, and its outcome is what the relay would have sent


@dataclass(frozen=True)
class ReconcileResult:
    """The reconcile-task step's result.

    {"state": "running", "lastStatus": ...}, {"state": "unknown"}, or {"state": "stopped"} with
    the completion the relay would have sent: {"failure": <callback Error object>} or
    {"completion": <CallbackSuccess>}.
    """

    state: TaskState
    last_status: str | None = None  # RUNNING: ECS's lastStatus of the task
    outcome: TaskFailed | CallbackSuccess | None = None  # STOPPED: how it ended

    @classmethod
    def running(cls, last_status: str) -> ReconcileResult:
        return cls(TaskState.RUNNING, last_status=last_status)

    @classmethod
    def unknown(cls) -> ReconcileResult:
        return cls(TaskState.UNKNOWN)

    @classmethod
    def stopped(cls, outcome: TaskFailed | CallbackSuccess) -> ReconcileResult:
        return cls(TaskState.STOPPED, outcome=outcome)

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {"state": self.state.value}
        if self.state is TaskState.RUNNING:
            document["lastStatus"] = self.last_status
        if isinstance(self.outcome, TaskFailed):
            document[_FAILURE] = self.outcome.callback_error()
        elif isinstance(self.outcome, CallbackSuccess):
            document["completion"] = self.outcome.to_dict()
        return document

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReconcileResult:
        state = TaskState(data["state"])
        if _FAILURE in data:
            return cls(state, outcome=_failure_from(data[_FAILURE]))
        if "completion" in data:
            return cls(state, outcome=CallbackSuccess.from_dict(data["completion"]))
        return cls(state, last_status=data.get("lastStatus"))


class CompletedBy(StrEnum):
    """Which path completed the task's callback."""

    EVENT = "event"  # the relay, on the task's STOPPED event
    RECONCILE = "reconcile"  # the orchestrator, after the callback timed out (the event never came)


EXECUTION_SUCCEEDED = "SUCCEEDED"


@dataclass(frozen=True)
class ExecutionResult:
    """What a succeeded execution returns: the task's completion, how it came, after how many tries,
    and what each try cost (`ecs_contract.cost`: an estimate, one per attempt, in order)."""

    completion: CallbackSuccess
    completed_by: CompletedBy
    attempts: int
    status: str = EXECUTION_SUCCEEDED
    costs: tuple[AttemptCost, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        c = self.completion
        return {
            "status": self.status,
            "taskArn": c.task_arn,
            "exitCode": c.exit_code,
            "result": c.result,
            "resultLocation": c.result_location,
            "startedAt": c.started_at,
            "stoppedAt": c.stopped_at,
            "completedBy": self.completed_by.value,
            "attempts": self.attempts,
            "usage": c.usage.to_dict() if c.usage else None,
            "cost": {
                "totalUsd": total_usd(self.costs),
                "attempts": [cost.to_dict() for cost in self.costs],
            },
            "log": c.log.to_dict() if c.log else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExecutionResult:
        cost = data.get("cost")
        attempts = cost.get("attempts") if isinstance(cost, Mapping) else None
        return cls(
            completion=CallbackSuccess.from_dict(data),
            completed_by=CompletedBy(data["completedBy"]),
            attempts=int(data["attempts"]),
            status=str(data["status"]),
            # A result of a version without costs (a fan-out's item checkpointed before) reads as none.
            costs=tuple(AttemptCost.from_dict(a) for a in attempts if isinstance(a, Mapping))
            if isinstance(attempts, list)
            else (),
        )
