"""Typed errors `run_task` raises: one class per contract ErrorType (the README's failure table).

A durable function that lets one through fails its execution with the error type
"<module>.<class>" (the SDK's naming), e.g. "durable_ecs.errors.WorkerFailed"; the shipped
orchestrator re-raises them as its own `orchestrator.errors` subclasses, the names its callers read.
"""

from __future__ import annotations

from aws_durable_execution_sdk_python.exceptions import DurableOperationError

from ecs_contract.outcome import ErrorType, TaskFailed


class TaskError(Exception):
    error_type: ErrorType = ErrorType.UNKNOWN

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class InvalidInput(TaskError):
    error_type = ErrorType.INVALID_INPUT


class WorkerFailed(TaskError):
    error_type = ErrorType.WORKER_FAILED


class OutOfMemory(TaskError):
    error_type = ErrorType.OUT_OF_MEMORY


class TaskFailedToStart(TaskError):
    error_type = ErrorType.TASK_FAILED_TO_START


class TaskInterrupted(TaskError):
    error_type = ErrorType.TASK_INTERRUPTED


class TaskStopped(TaskError):
    error_type = ErrorType.TASK_STOPPED


class NoExitCode(TaskError):
    error_type = ErrorType.NO_EXIT_CODE


class TaskTimedOut(TaskError):
    error_type = ErrorType.TASK_TIMED_OUT


class TaskHung(TaskError):
    error_type = ErrorType.TASK_HUNG


class CapacityUnavailable(TaskError):
    error_type = ErrorType.CAPACITY_UNAVAILABLE


class TaskStartRejected(TaskError):
    error_type = ErrorType.TASK_START_REJECTED


class EcsUnavailable(TaskError):
    error_type = ErrorType.ECS_UNAVAILABLE


class ResultUnreadable(TaskError):
    error_type = ErrorType.RESULT_UNREADABLE


# This module's classes only: a user's subclasses (e.g. orchestrator.errors') never replace them.
_BY_TYPE: dict[ErrorType, type[TaskError]] = {
    cls.error_type: cls for cls in TaskError.__subclasses__() if cls.__module__ == __name__
}


def error_for(failure: TaskFailed) -> TaskError:
    """The exception to fail the execution with, for a failure decided by the contract."""
    cls = _BY_TYPE.get(failure.error_type, TaskError)
    return cls(failure.message, retryable=failure.retryable)


_BY_NAME: dict[str, type[TaskError]] = {cls.__name__: cls for cls in _BY_TYPE.values()}
_BY_NAME[TaskError.__name__] = TaskError


def error_named(name: str | None, message: str) -> TaskError:
    """The typed error of this module named `name` ("WorkerFailed"); TaskError for another name."""
    return _BY_NAME.get(name or "", TaskError)(message)


def task_error_of(error: DurableOperationError) -> TaskError | None:
    """The typed error a run_task in a branch (a `map` item, a child context) failed with.

    The SDK hands a failed branch back as a ChildContextError whose `error_type` names the error
    that escaped it ("durable_ecs.errors.WorkerFailed"); it rebuilds only its own error types. This
    is that error typed again (same message), for the durable function to fail with; None for an
    error that is not one of ours.
    """
    module, _, name = (error.error_type or "").rpartition(".")
    cls = _BY_NAME.get(name) if module == __name__ else None
    return None if cls is None else cls(error.message or name)


class FanOutFailed(Exception):
    """More tasks of a `run_tasks` fan-out failed than it tolerates.

    Not a TaskError (no ErrorType of its own: the failures it counts have theirs, in `result`).
    Its message gives the summary and the first failures; `result` is the `FanOutResult` as it
    stood (items the SDK never ran or never finished are NOT_FINISHED).
    """

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result
