"""Typed errors `run_task` raises: one class per contract ErrorType (the README's failure table).

A durable function that lets one through fails its execution with the error type
"<module>.<class>" (the SDK's naming), e.g. "durable_ecs.errors.WorkerFailed"; the shipped
orchestrator re-raises them as its own `orchestrator.errors` subclasses, the names its callers read.
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


# This module's classes only: a user's subclasses (e.g. orchestrator.errors') never replace them.
_BY_TYPE: dict[ErrorType, type[TaskError]] = {
    cls.error_type: cls for cls in TaskError.__subclasses__() if cls.__module__ == __name__
}


def error_for(failure: TaskFailed) -> TaskError:
    """The exception to fail the execution with, for a failure decided by the contract."""
    cls = _BY_TYPE.get(failure.error_type, TaskError)
    return cls(failure.message, retryable=failure.retryable)
