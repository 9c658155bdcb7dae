"""Typed errors `run_task` raises: one class per contract ErrorType (the README's failure table).

A durable function that lets one through fails its execution with the error type
"<module>.<class>" (the SDK's naming), e.g. "durable_ecs.errors.WorkerFailed"; the shipped
orchestrator re-raises them as its own `orchestrator.errors` subclasses, the names its callers read.

Each is a DurableOperationError, the one kind of exception whose `data` the SDK records with the
execution's error (ErrorObject.from_exception, SDK 3.0.0: any other exception's ErrorData is
dropped): callers read the failure's details as JSON in GetDurableExecution's Error.ErrorData
(`FailureDetails`), not only inside the message.
"""

from __future__ import annotations

from aws_durable_execution_sdk_python.exceptions import DurableOperationError

from ecs_contract.outcome import ErrorType, TaskFailed


class TaskError(DurableOperationError):
    """`outcome`: the contract's ErrorType. `error_type` (DurableOperationError's): the class's
    "<module>.<class>", the execution's error type. `data`: the failure's details, JSON."""

    outcome: ErrorType = ErrorType.UNKNOWN

    def __init__(self, message: str, *, retryable: bool = False, data: str | None = None) -> None:
        super().__init__(message, data=data)
        self.retryable = retryable


class InvalidInput(TaskError):
    outcome = ErrorType.INVALID_INPUT


class WorkerFailed(TaskError):
    outcome = ErrorType.WORKER_FAILED


class OutOfMemory(TaskError):
    outcome = ErrorType.OUT_OF_MEMORY


class TaskFailedToStart(TaskError):
    outcome = ErrorType.TASK_FAILED_TO_START


class TaskInterrupted(TaskError):
    outcome = ErrorType.TASK_INTERRUPTED


class TaskStopped(TaskError):
    outcome = ErrorType.TASK_STOPPED


class NoExitCode(TaskError):
    outcome = ErrorType.NO_EXIT_CODE


class TaskTimedOut(TaskError):
    outcome = ErrorType.TASK_TIMED_OUT


class TaskHung(TaskError):
    outcome = ErrorType.TASK_HUNG


class CapacityUnavailable(TaskError):
    outcome = ErrorType.CAPACITY_UNAVAILABLE


class TaskStartRejected(TaskError):
    outcome = ErrorType.TASK_START_REJECTED


class EcsUnavailable(TaskError):
    outcome = ErrorType.ECS_UNAVAILABLE


class ResultUnreadable(TaskError):
    outcome = ErrorType.RESULT_UNREADABLE


# This module's classes only: a user's subclasses (e.g. orchestrator.errors') never replace them.
_BY_TYPE: dict[ErrorType, type[TaskError]] = {
    cls.outcome: cls for cls in TaskError.__subclasses__() if cls.__module__ == __name__
}


def error_for(failure: TaskFailed, data: str | None = None) -> TaskError:
    """The exception to fail the execution with, for a failure decided by the contract; `data`
    its details (FailureDetails' JSON)."""
    cls = _BY_TYPE.get(failure.error_type, TaskError)
    # The message with the worker's newest log lines, when the failure has them (all in `data`).
    return cls(failure.error_message(), retryable=failure.retryable, data=data)


_BY_NAME: dict[str, type[TaskError]] = {cls.__name__: cls for cls in _BY_TYPE.values()}
_BY_NAME[TaskError.__name__] = TaskError


def error_named(name: str | None, message: str, data: str | None = None) -> TaskError:
    """The typed error of this module named `name` ("WorkerFailed"); TaskError for another name."""
    return _BY_NAME.get(name or "", TaskError)(message, data=data)


def task_error_of(error: DurableOperationError) -> TaskError | None:
    """The typed error a run_task in a branch (a `map` item, a child context) failed with.

    The SDK hands a failed branch back as a ChildContextError whose `error_type` names the error
    that escaped it ("durable_ecs.errors.WorkerFailed"); it rebuilds only its own error types. This
    is that error typed again (same message), for the durable function to fail with; None for an
    error that is not one of ours.
    """
    module, _, name = (error.error_type or "").rpartition(".")
    cls = _BY_NAME.get(name) if module == __name__ else None
    return None if cls is None else cls(error.message or name, data=error.data)


class FanOutFailed(DurableOperationError):
    """More tasks of a `run_tasks` fan-out failed than it tolerates.

    Not a TaskError (no ErrorType of its own: the failures it counts have theirs, in `result`).
    Its message gives the summary and the first failures; `result` is the `FanOutResult` as it
    stood (items the SDK never ran or never finished are NOT_FINISHED); `data`, the execution's
    ErrorData, the summary and the first failures with their own details, as JSON.
    """

    def __init__(self, message: str, result: object = None, data: str | None = None) -> None:
        super().__init__(message, data=data)
        self.result = result
