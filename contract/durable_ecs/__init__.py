"""Run ECS tasks from your own durable function, and wait for them at no compute cost.

    from durable_ecs import TaskRequest, run_task

    @durable_execution
    def handler(event, ctx):
        result = run_task(ctx, "prepare", TaskRequest(job={"input": event["input"]}))
        return result.to_dict()

`run_task` raises the typed errors of `durable_ecs.errors` (one per failure of the README's table);
`run_tasks(ctx, name, requests, max_concurrency=..., tolerated_failures=...)` fans out one task per
request (`fanout.py`); in a branch (`ctx.map`, a child context), `task_error_of` types again the
error the SDK wraps.
The stack's completion relay completes the task's callback when it stops: the function must be one
of the template's durable functions (the relay's DURABLE_FUNCTION_ARNS).
"""

from durable_ecs.errors import (
    CapacityUnavailable,
    EcsUnavailable,
    FanOutFailed,
    InvalidInput,
    NoExitCode,
    OutOfMemory,
    ResultUnreadable,
    TaskError,
    TaskFailedToStart,
    TaskHung,
    TaskInterrupted,
    TaskStartRejected,
    TaskStopped,
    TaskTimedOut,
    WorkerFailed,
    task_error_of,
)
from durable_ecs.fanout import FanOutResult, FanOutSummary, ItemOutcome, ItemStatus, run_tasks
from durable_ecs.settings import ConfigError, EcsSettings
from durable_ecs.task import DEFAULT_TASK_NAME, Gateways, TaskRequest, TaskResult, run_task

__all__ = [
    "DEFAULT_TASK_NAME",
    "CapacityUnavailable",
    "ConfigError",
    "EcsSettings",
    "EcsUnavailable",
    "FanOutFailed",
    "FanOutResult",
    "FanOutSummary",
    "Gateways",
    "InvalidInput",
    "ItemOutcome",
    "ItemStatus",
    "NoExitCode",
    "OutOfMemory",
    "ResultUnreadable",
    "TaskError",
    "TaskFailedToStart",
    "TaskHung",
    "TaskInterrupted",
    "TaskRequest",
    "TaskResult",
    "TaskStartRejected",
    "TaskStopped",
    "TaskTimedOut",
    "WorkerFailed",
    "run_task",
    "run_tasks",
    "task_error_of",
]
