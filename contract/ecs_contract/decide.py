"""decide(task): the one pure function from an ECS task to an outcome (the outcome table of CONTRIBUTING.md).

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

    def failed(
        error_type: ErrorType, message: str, reason: str | None, retryable: bool = False
    ) -> TaskFailed:
        return TaskFailed(
            error_type,
            message,
            retryable=retryable,
            task_arn=task.task_arn,
            exit_code=exit_code,
            stop_code=task.stop_code,
            reason=reason,
            usage=task.usage,
            stopped_reason=task.stopped_reason,
            container_reason=container_reason,
        )

    if task.stop_code == "TaskFailedToStart":
        reason = task.stopped_reason or container_reason or "no reason given"
        transient = any(marker in reason.lower() for marker in _TRANSIENT_START_REASONS)
        return failed(ErrorType.TASK_FAILED_TO_START, f"task failed to start: {reason}", reason, transient)
    if task.stop_code in _INTERRUPTED_STOP_CODES:
        return failed(
            ErrorType.TASK_INTERRUPTED,
            f"task was interrupted ({task.stop_code}): {task.stopped_reason or 'no reason given'}",
            task.stopped_reason,
            retryable=True,
        )
    if container_reason and "outofmemory" in container_reason.replace(" ", "").lower():
        return failed(
            ErrorType.OUT_OF_MEMORY,
            f"worker ran out of memory (exit code {exit_code}): {container_reason}",
            container_reason,
        )
    if task.stop_code == "UserInitiated":
        return failed(
            ErrorType.TASK_STOPPED,
            f"task was stopped: {task.stopped_reason or 'no reason given'}",
            task.stopped_reason,
        )
    if container is None:
        return failed(
            ErrorType.NO_EXIT_CODE, f"task has no container named {container_name!r}", task.stopped_reason
        )
    if exit_code is None:
        reason = container_reason or task.stopped_reason or "no reason given"
        return failed(
            ErrorType.NO_EXIT_CODE, f"worker container stopped without an exit code: {reason}", reason
        )
    if exit_code != 0:
        suffix = f": {container_reason}" if container_reason else ""
        return failed(
            ErrorType.WORKER_FAILED, f"worker exited with code {exit_code}{suffix}", container_reason
        )
    return TaskSucceeded(
        task_arn=task.task_arn,
        exit_code=0,
        started_at=task.started_at,
        stopped_at=task.stopped_at,
        usage=task.usage,
    )
