"""Typed errors the orchestrator fails with; the execution's error type names one of these.

Each class stands for one contract ErrorType, so a caller reads the failure from the execution's
ErrorType (e.g. "orchestrator.errors.WorkerFailed") without parsing messages.
"""

from __future__ import annotations

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


class CapacityUnavailable(TaskError):
    error_type = ErrorType.CAPACITY_UNAVAILABLE


class TaskStartRejected(TaskError):
    error_type = ErrorType.TASK_START_REJECTED


class EcsUnavailable(TaskError):
    error_type = ErrorType.ECS_UNAVAILABLE


class ResultUnreadable(TaskError):
    error_type = ErrorType.RESULT_UNREADABLE


_BY_TYPE: dict[ErrorType, type[TaskError]] = {cls.error_type: cls for cls in TaskError.__subclasses__()}


def error_for(failure: TaskFailed) -> TaskError:
    """The exception to fail the execution with, for a failure decided by the contract."""
    cls = _BY_TYPE.get(failure.error_type, TaskError)
    return cls(failure.message, retryable=failure.retryable)
