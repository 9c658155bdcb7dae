"""The orchestrator's typed errors: the execution's error type names one of these
("orchestrator.errors.WorkerFailed", the SDK's "<module>.<class>"), which its callers read.

The library raises `durable_ecs.errors`; the handler re-raises each as the class of the same name
here (`as_orchestrator_error`), a subclass of the library's, so the orchestrator's error types stay
what they were before the library, and `except durable_ecs.WorkerFailed` still catches them.
"""

from __future__ import annotations

from durable_ecs import errors as lib
from ecs_contract.outcome import ErrorType


class TaskError(lib.TaskError):
    pass


class InvalidInput(lib.InvalidInput, TaskError):
    pass


class WorkerFailed(lib.WorkerFailed, TaskError):
    pass


class OutOfMemory(lib.OutOfMemory, TaskError):
    pass


class TaskFailedToStart(lib.TaskFailedToStart, TaskError):
    pass


class TaskInterrupted(lib.TaskInterrupted, TaskError):
    pass


class TaskStopped(lib.TaskStopped, TaskError):
    pass


class NoExitCode(lib.NoExitCode, TaskError):
    pass


class TaskTimedOut(lib.TaskTimedOut, TaskError):
    pass


class TaskHung(lib.TaskHung, TaskError):
    pass


class CapacityUnavailable(lib.CapacityUnavailable, TaskError):
    pass


class TaskStartRejected(lib.TaskStartRejected, TaskError):
    pass


class EcsUnavailable(lib.EcsUnavailable, TaskError):
    pass


class ResultUnreadable(lib.ResultUnreadable, TaskError):
    pass


_BY_TYPE: dict[ErrorType, type[TaskError]] = {
    cls.outcome: cls for cls in TaskError.__subclasses__() if cls.__module__ == __name__
}


def as_orchestrator_error(error: lib.TaskError) -> TaskError:
    """The library's error as the orchestrator's class of the same name (same message)."""
    if isinstance(error, TaskError):
        return error
    cls = _BY_TYPE.get(error.outcome, TaskError)
    return cls(str(error), retryable=error.retryable, data=error.data)
