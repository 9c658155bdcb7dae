"""decide(task): the one pure function from an ECS task to an outcome (DESIGN section 3).

The relay calls it on every "ECS Task State Change" event; the orchestrator calls it when it
reconciles a task whose completion event never arrived. Order matters: how the task stopped
(stopCode) outranks the exit code, because an interrupted or stopped container may still exit 0.
"""

from __future__ import annotations

from ecs_contract.names import WORKER_CONTAINER_NAME
from ecs_contract.outcome import ErrorType, Ignored, Outcome, TaskFailed, TaskSucceeded
from ecs_contract.task import Task

# stoppedReason fragments that mean "try again later" for TaskFailedToStart. ECS gives only text
# here (no code), e.g. "RESOURCE:ENI", "Capacity is unavailable at this time", "Timeout waiting for
# network interface provisioning to complete".
_TRANSIENT_START_REASONS = ("capacity", "resource:", "timeout", "throttl", "rate exceeded")
_INTERRUPTED_STOP_CODES = frozenset({"SpotInterruption", "TerminationNotice"})


def decide(task: Task, container_name: str = WORKER_CONTAINER_NAME) -> Outcome:
    if task.last_status != "STOPPED":
        return Ignored(f"task is {task.last_status}, not STOPPED")

    container = task.container(container_name)
    exit_code = container.exit_code if container else None
    container_reason = container.reason if container else None
    context = {
        "task_arn": task.task_arn,
        "exit_code": exit_code,
        "stop_code": task.stop_code,
    }

    if task.stop_code == "TaskFailedToStart":
        reason = task.stopped_reason or container_reason or "no reason given"
        transient = any(marker in reason.lower() for marker in _TRANSIENT_START_REASONS)
        return TaskFailed(
            ErrorType.TASK_FAILED_TO_START,
            f"task failed to start: {reason}",
            retryable=transient,
            reason=reason,
            **context,
        )
    if task.stop_code in _INTERRUPTED_STOP_CODES:
        return TaskFailed(
            ErrorType.TASK_INTERRUPTED,
            f"task was interrupted ({task.stop_code}): {task.stopped_reason or 'no reason given'}",
            retryable=True,
            reason=task.stopped_reason,
            **context,
        )
    if container_reason and "outofmemory" in container_reason.replace(" ", "").lower():
        return TaskFailed(
            ErrorType.OUT_OF_MEMORY,
            f"worker ran out of memory (exit code {exit_code}): {container_reason}",
            reason=container_reason,
            **context,
        )
    if task.stop_code == "UserInitiated":
        return TaskFailed(
            ErrorType.TASK_STOPPED,
            f"task was stopped: {task.stopped_reason or 'no reason given'}",
            reason=task.stopped_reason,
            **context,
        )
    if container is None:
        return TaskFailed(
            ErrorType.NO_EXIT_CODE,
            f"task has no container named {container_name!r}",
            reason=task.stopped_reason,
            **context,
        )
    if exit_code is None:
        reason = container_reason or task.stopped_reason or "no reason given"
        return TaskFailed(
            ErrorType.NO_EXIT_CODE,
            f"worker container stopped without an exit code: {reason}",
            reason=reason,
            **context,
        )
    if exit_code != 0:
        return TaskFailed(
            ErrorType.WORKER_FAILED,
            f"worker exited with code {exit_code}" + (f": {container_reason}" if container_reason else ""),
            reason=container_reason,
            **context,
        )
    return TaskSucceeded(
        task_arn=task.task_arn,
        exit_code=0,
        started_at=task.started_at,
        stopped_at=task.stopped_at,
    )
