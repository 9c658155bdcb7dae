"""`run_tasks`: run N ECS tasks from a durable function, at most `max_concurrency` at once, with a
failure tolerance (a count or a percentage, like Step Functions Map's ToleratedFailureCount and
ToleratedFailurePercentage).

Built on the SDK's `ctx.map` (MapConfig's max_concurrency, CompletionConfig's
tolerated_failure_count / tolerated_failure_percentage): item i runs `run_task` in its own branch
as the task named "NAME i", so its history reads "NAME 3: start-task #1", and its container reads
its index in TASK_INDEX (beside TASK_ATTEMPT, `ecs_contract.names`), as AWS Batch's array jobs read
AWS_BATCH_JOB_ARRAY_INDEX. The SDK's rule (concurrency/models.py, CompletionConfig): the batch
fails when failed > tolerated_failure_count, or failed * 100 / total > tolerated_failure_percentage;
without either, the first failure fails it. Then no further item starts, and `run_tasks` raises
`FanOutFailed`. Tasks still running when the execution ends are stopped by the relay's
cancellation rule: every task of an execution carries its startedBy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aws_durable_execution_sdk_python import BatchResult, DurableContext
from aws_durable_execution_sdk_python.concurrency.models import CompletionReason
from aws_durable_execution_sdk_python.config import BatchItemStatus, CompletionConfig, MapConfig, NestingType

from durable_ecs.errors import FanOutFailed, InvalidInput
from durable_ecs.settings import EcsSettings
from durable_ecs.task import Gateways, TaskRequest, TaskResult, run_task
from ecs_contract.limits import DURABLE_OPERATIONS_MAX

# The message of FanOutFailed names this many failures at most (the rest are in its `result`).
FIRST_FAILURES_SHOWN = 3
# The SDK's map runs each item in flight on a thread of its own (concurrency/executor.py: a pool of
# max_concurrency threads), and Lambda allows 1,024 processes or threads an execution environment
# (Lambda quotas): 24 are left to the runtime's, the SDK's (its checkpoint thread) and the
# function's own (boto3 and Powertools start none).
MAX_CONCURRENCY = 1000
# Durable operations a task takes at the least: its callback and its start step (items run FLAT,
# without a context each); the map takes one more. A fan-out past DURABLE_OPERATIONS_MAX this way
# could never finish: refused at the door.
OPERATIONS_PER_TASK = 2
MAX_TASKS = (DURABLE_OPERATIONS_MAX - 1) // OPERATIONS_PER_TASK


def operations_per_task(settings: EcsSettings) -> int:
    """With a start timeout, each task has a second callback (the relay completes it on RUNNING)."""
    return OPERATIONS_PER_TASK + (1 if settings.start_timeout_seconds else 0)


def max_tasks(settings: EcsSettings) -> int:
    """MAX_TASKS (1,499), or 999 with a start timeout."""
    return (DURABLE_OPERATIONS_MAX - 1) // operations_per_task(settings)


class ItemStatus(Enum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    NOT_FINISHED = "NOT_FINISHED"  # the batch failed before this item started or finished


@dataclass(frozen=True)
class ItemOutcome:
    """One request's outcome: its TaskResult, or the typed error its task failed with."""

    index: int
    status: ItemStatus
    result: TaskResult | None = None
    error_type: str | None = None  # the error's class name, e.g. "WorkerFailed"
    message: str | None = None
    data: str | None = None  # the error's details (JSON: durable_ecs.errors' ErrorData), if any

    def to_dict(self) -> dict[str, Any]:
        made: dict[str, Any] = {"index": self.index, "status": self.status.value}
        if self.result is not None:
            made["result"] = self.result.to_dict()
        if self.error_type is not None:
            made["error"] = {"type": self.error_type, "message": self.message}
            if self.data is not None:
                made["error"]["data"] = self.data
        return made


@dataclass(frozen=True)
class FanOutSummary:
    succeeded: int
    failed: int
    not_finished: int
    total: int

    def to_dict(self) -> dict[str, int]:
        return {
            "succeeded": self.succeeded,
            "failed": self.failed,
            "notFinished": self.not_finished,
            "total": self.total,
        }


@dataclass(frozen=True)
class FanOutResult:
    """Every request's outcome, in input order, and their summary."""

    items: tuple[ItemOutcome, ...]

    @property
    def summary(self) -> FanOutSummary:
        def count(status: ItemStatus) -> int:
            return sum(1 for item in self.items if item.status is status)

        return FanOutSummary(
            count(ItemStatus.SUCCEEDED),
            count(ItemStatus.FAILED),
            count(ItemStatus.NOT_FINISHED),
            len(self.items),
        )

    @property
    def failures(self) -> list[ItemOutcome]:
        return [item for item in self.items if item.status is ItemStatus.FAILED]

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary.to_dict(), "items": [item.to_dict() for item in self.items]}


def run_tasks(
    ctx: DurableContext,
    name: str,
    requests: Sequence[TaskRequest],
    *,
    max_concurrency: int,
    tolerated_failures: int | None = None,
    tolerated_failure_percentage: float | None = None,
    settings: EcsSettings | None = None,
    gateways: Gateways | None = None,
    map_name: str | None = None,
) -> FanOutResult:
    """Run one task per request, at most `max_concurrency` at once; the outcomes in input order.

    Raises FanOutFailed when more fail than `tolerated_failures` (a count) or
    `tolerated_failure_percentage` (0 to 100) allow; with neither, the first failure does.
    Item i is the task named "NAME i"; the map holding them is named `map_name` (default NAME).
    """
    if not 1 <= max_concurrency <= MAX_CONCURRENCY:
        raise ValueError(
            f"max_concurrency is 1 to {MAX_CONCURRENCY} (a thread each; Lambda allows 1,024 an "
            f"execution environment), got {max_concurrency}"
        )
    settings = EcsSettings.from_env() if settings is None else settings
    if len(requests) > max_tasks(settings):
        needed = operations_per_task(settings) * len(requests) + 1
        raise InvalidInput(
            f"a fan-out of {len(requests)} tasks needs {needed} durable operations or more, and Lambda "
            f"allows {DURABLE_OPERATIONS_MAX} an execution (a quota that cannot be raised): split the "
            "requests across executions, e.g. a child durable function per batch of about 1,000"
            + (" (500 with a start timeout)" if settings.start_timeout_seconds else "")
        )

    def item(branch: DurableContext, request: TaskRequest, index: int, _: Sequence[TaskRequest]) -> Any:
        return run_task(branch, f"{name} {index}", request, settings, gateways, index=index).to_dict()

    tolerance = (
        CompletionConfig(
            tolerated_failure_count=tolerated_failures,
            tolerated_failure_percentage=tolerated_failure_percentage,
        )
        if tolerated_failures is not None or tolerated_failure_percentage is not None
        else CompletionConfig(tolerated_failure_count=0)
    )
    batch: BatchResult[Any] = ctx.map(
        requests,
        item,
        name=map_name or name,
        config=MapConfig(
            max_concurrency=max_concurrency, completion_config=tolerance, nesting_type=NestingType.FLAT
        ),
    )
    result = FanOutResult(tuple(_outcome(batch, index) for index in range(len(requests))))
    if batch.completion_reason is CompletionReason.FAILURE_TOLERANCE_EXCEEDED:
        raise FanOutFailed(
            _failed_message(name, result, tolerated_failures, tolerated_failure_percentage),
            result,
            data=_failed_data(result),
        )
    return result


def _outcome(batch: BatchResult[Any], index: int) -> ItemOutcome:
    found = next((item for item in batch.all if item.index == index), None)
    if found is None or found.status is BatchItemStatus.STARTED:
        return ItemOutcome(index, ItemStatus.NOT_FINISHED)
    if found.status is BatchItemStatus.SUCCEEDED and isinstance(found.result, dict):
        return ItemOutcome(index, ItemStatus.SUCCEEDED, result=TaskResult.from_dict(found.result))
    error = found.error
    # The SDK names the error that escaped the branch "<module>.<class>": the class is what we show.
    error_type = (error.type if error and error.type else "Error").rpartition(".")[2]
    return ItemOutcome(
        index,
        ItemStatus.FAILED,
        error_type=error_type,
        message=error.message if error else None,
        data=error.data if error else None,
    )


# The failures a FanOutFailed's ErrorData lists at most (the summary counts them all): an
# execution's error travels whole in GetDurableExecution, so it stays small.
FAILURES_IN_DATA = 100


def _failed_data(result: FanOutResult) -> str:
    failures = [item.to_dict() for item in result.failures[:FAILURES_IN_DATA]]
    return json.dumps({"summary": result.summary.to_dict(), "failures": failures}, separators=(",", ":"))


def _failed_message(name: str, result: FanOutResult, count: int | None, percentage: float | None) -> str:
    summary = result.summary
    tolerated = " or ".join(
        part
        for part in (
            None if count is None else f"{count} tolerated",
            None if percentage is None else f"{percentage}% tolerated",
        )
        if part
    )
    first = "; ".join(
        f"{name} {item.index}: {item.error_type}: {item.message}"
        for item in result.failures[:FIRST_FAILURES_SHOWN]
    )
    return (
        f"{name}: {summary.failed} of {summary.total} tasks failed ({tolerated or 'none tolerated'}; "
        f"{summary.succeeded} succeeded, {summary.not_finished} not finished); first failures: {first}"
    )
