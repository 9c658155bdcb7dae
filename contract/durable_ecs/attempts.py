"""After an attempt fails: whether another starts, on what capacity and size, and how soon.

The one place run_task's retry decision is made. Pure, and fed only what the history holds (the
attempt's plan, its checkpointed outcome, the settings), so a replay decides the same again.

In order:
1. The user's retry rules (settings.retry_rules, as AWS Batch's evaluateOnExit): the first that
   matches says EXIT (the failure is final) or RETRY (another attempt, sized and placed as below).
   A failure whose task may still be running (ECS kept failing after its timeout) is never retried:
   a second task would run beside it.
2. The failure of a task on Fargate Spot because of Spot (an interruption, no Spot capacity at
   start) moves the next attempt to on-demand Fargate, at once: the pool that failed is not the one
   asked next, so there is nothing to wait for. Never the other way back.
3. An OutOfMemory starts the next attempt with more memory (settings.memory_retry), at once: the
   size that failed is not the one asked next. At the ceiling, it is final (unless a rule RETRYs it).
4. Otherwise a RETRY rule, or the failure's own classification (`TaskFailed.retryable`), decides,
   after a backoff.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from durable_ecs.settings import CapacityStrategy, EcsSettings
from ecs_contract.outcome import ErrorType, TaskFailed
from ecs_contract.retry_rules import RuleAction
from ecs_contract.task_size import TaskSize
from ecs_contract.usage import CapacityProvider

__all__ = [
    "AttemptPlan",
    "Retry",
    "RetryCause",
    "TaskSize",
    "exit_rule",
    "first_plan",
    "next_attempt",
    "spot_failed",
]


@dataclass(frozen=True)
class AttemptPlan:
    """How one attempt runs: on which capacity provider, and at which size (None: the request's own)."""

    capacity: CapacityProvider
    size: TaskSize | None = None


class RetryCause(StrEnum):
    """Why another attempt starts: logged and counted."""

    SPOT_FALLBACK = "spot-fallback"  # the attempt failed because of Spot: on-demand next
    RETRYABLE = "retryable"  # the outcome is retryable by the built-in classification
    MORE_MEMORY = "more-memory"  # the task ran out of memory: a larger size next
    RETRY_RULE = "retry-rule"  # a retry rule of the user's said RETRY


@dataclass(frozen=True)
class Retry:
    plan: AttemptPlan
    backoff: bool  # wait the backoff first; False: start at once
    cause: RetryCause


def first_plan(settings: EcsSettings) -> AttemptPlan:
    spot_first = settings.capacity is CapacityStrategy.SPOT_WITH_FALLBACK
    return AttemptPlan(CapacityProvider.FARGATE_SPOT if spot_first else CapacityProvider.FARGATE)


# What ends a Spot task because of Spot: the interruption (stopCode SpotInterruption), or no Spot
# capacity when it starts (RunTask's failures[], or a task that stopped with TaskFailedToStart for
# capacity). botocore's ECS model, TaskStopCode; the outcome table says which ErrorType each is.
_SPOT_FAILURES = frozenset(
    {ErrorType.TASK_INTERRUPTED, ErrorType.CAPACITY_UNAVAILABLE, ErrorType.TASK_FAILED_TO_START}
)


def spot_failed(failure: TaskFailed, plan: AttemptPlan) -> bool:
    """Did this attempt fail because it ran on Spot? A TaskFailedToStart counts only when it is a
    transient (capacity) one: a missing image fails on-demand as well."""
    if plan.capacity is not CapacityProvider.FARGATE_SPOT or failure.error_type not in _SPOT_FAILURES:
        return False
    return failure.error_type is not ErrorType.TASK_FAILED_TO_START or failure.retryable


def next_attempt(failure: TaskFailed, plan: AttemptPlan, settings: EcsSettings) -> Retry | None:
    """The next attempt's plan, or None when the failure is final (attempts left aside: the caller
    counts them)."""
    ruled = None if _may_still_run(failure) else settings.retry_rules.action_for(failure)
    action = ruled[1] if ruled else None
    if action is RuleAction.EXIT:
        return None
    if spot_failed(failure, plan):
        return Retry(replace(plan, capacity=CapacityProvider.FARGATE), False, RetryCause.SPOT_FALLBACK)
    if failure.error_type is ErrorType.OUT_OF_MEMORY:
        size = _size_of(failure, plan)
        larger = settings.memory_retry.next_size(size) if size else None
        if larger is not None:
            return Retry(replace(plan, size=larger), False, RetryCause.MORE_MEMORY)
    if action is RuleAction.RETRY:
        return Retry(plan, True, RetryCause.RETRY_RULE)
    if failure.retryable:
        return Retry(plan, True, RetryCause.RETRYABLE)
    return None


def exit_rule(failure: TaskFailed, settings: EcsSettings) -> int | None:
    """The number of the retry rule that made this failure final (EXIT), for its message; None when
    no rule did."""
    ruled = None if _may_still_run(failure) else settings.retry_rules.action_for(failure)
    return ruled[0] if ruled and ruled[1] is RuleAction.EXIT else None


def _may_still_run(failure: TaskFailed) -> bool:
    """ECS kept failing after the task's timeout (task.py, _aws_kept_failing): the task may run on,
    so no rule may start a second one beside it."""
    return failure.error_type is ErrorType.ECS_UNAVAILABLE and failure.task_arn is not None


def _size_of(failure: TaskFailed, plan: AttemptPlan) -> TaskSize | None:
    """The size the task ran at: as ECS reported it (Task.cpu/memory), else the one the plan asked."""
    usage = failure.usage
    if usage is not None and usage.cpu is not None and usage.memory is not None:
        return TaskSize(usage.cpu, usage.memory)
    return plan.size
