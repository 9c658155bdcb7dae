"""A sample durable function built on `durable_ecs`: tasks in sequence, a fan-out, a final task.

    {"message": "hello", "parts": ["red", "green"], "processingTime": 1, "toleratedFailures": 0,
     "maxConcurrency": 10}

"prepare" runs the demo job on the message; then one task per part ("part 0", "part 1", ...)
runs in the library's fan-out (`run_tasks`, the SDK's `map`), each on the prepared message and its
part, at most "maxConcurrency" at once (default 10); up to "toleratedFailures" of them (default 0)
may fail; "combine" runs on what the parts that succeeded made (their messages joined, shortened
past COMBINED_MAX_CHARS: a task's input travels in its environment). The result holds each task's
TaskResult document ("parts": those of the parts that succeeded, in input order; "failedParts":
the others, with their error). More failures than tolerated fail the execution with the first
failed part's typed error, its message followed by the fan-out's summary. Every task is the
worker's job (the demo job in the local cloud), so each result's "result" is what that job wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_lambda_powertools import Logger, Metrics

from durable_ecs import (
    EcsSettings,
    FanOutFailed,
    FanOutResult,
    Gateways,
    InvalidInput,
    TaskRequest,
    TaskResult,
    run_task,
    run_tasks,
)
from durable_ecs.errors import error_named
from durable_ecs.fanout import MAX_CONCURRENCY
from durable_ecs.task import aws_gateways
from durable_ecs.task import metrics as library_metrics

logger = Logger(service="pipeline")
# Its own namespace in code, like the orchestrator's: a flush without one fails the invocation.
metrics = Metrics(service="pipeline", namespace=library_metrics.namespace)

# Lambda allows 3,000 durable operations an execution: a part takes 2 (its callback and its start
# step), "prepare" and "combine" 2 each, the fan-out 1; the rest is room for retries (each retried
# start step or task attempt takes more). Above it, split the parts across executions.
MAX_PARTS = 1000
DEFAULT_CONCURRENCY = 10
COMBINED_MAX_CHARS = 2000  # of combine's message: well inside RunTask's 8,192 overrides chars


def build_handler(gateways: Callable[[], Gateways]) -> Callable[[Any, Any], Any]:
    """Shaped like the orchestrator's: tests hand in their own gateways; Lambda runs `handler`."""

    @metrics.log_metrics
    @durable_execution
    def handler(event: Any, context: DurableContext) -> dict[str, Any]:
        context.set_logger(logger)
        return run_pipeline(context, event, EcsSettings.from_env(), gateways())

    return handler


def run_pipeline(
    context: DurableContext, event: Any, settings: EcsSettings, gateways: Gateways
) -> dict[str, Any]:
    message, parts, seconds = parse_input(event)
    tolerated = parse_tolerance(event)
    concurrency = parse_concurrency(event)

    def task(ctx: DurableContext, name: str, job: dict[str, Any]) -> TaskResult:
        return run_task(ctx, name, TaskRequest(job=job), settings, gateways)

    prepared = task(context, "prepare", {"message": message, "processingTime": seconds})
    prepared_message = _processed(prepared)

    requests = [
        TaskRequest(job={"message": f"{prepared_message} {item}", "processingTime": seconds})
        for item in parts
    ]
    fanned = _fan_out(context, requests, tolerated, concurrency, settings, gateways)
    made = [item.result.to_dict() for item in fanned.items if item.result is not None]

    combined = task(
        context, "combine", {"message": combined_message([_processed(TaskResult.from_dict(r)) for r in made])}
    )
    return {
        "prepare": prepared.to_dict(),
        "parts": made,
        "failedParts": [item.to_dict() for item in fanned.failures],
        "combine": combined.to_dict(),
    }


def _fan_out(
    context: DurableContext,
    requests: Sequence[TaskRequest],
    tolerated: int,
    concurrency: int,
    settings: EcsSettings,
    gateways: Gateways,
) -> FanOutResult:
    """The parts' tasks; past the tolerance, the first failed part's typed error, as "prepare"'s."""
    try:
        return run_tasks(
            context,
            "part",
            requests,
            max_concurrency=concurrency,
            tolerated_failures=tolerated,
            settings=settings,
            gateways=gateways,
            map_name="parts",
        )
    except FanOutFailed as e:
        first = e.result.failures[0] if isinstance(e.result, FanOutResult) and e.result.failures else None
        if first is None:
            raise
        raise error_named(first.error_type, f"{first.message} ({e})", first.data) from e


def parse_input(event: Any) -> tuple[str, list[str], int]:
    """The pipeline's input, refused at the door (before any task starts) if it is not one."""
    if not isinstance(event, dict):
        raise InvalidInput(f"the pipeline's input must be a JSON object, got {type(event).__name__}")
    message, parts, seconds = event.get("message", ""), event.get("parts", []), event.get("processingTime", 0)
    if not isinstance(message, str):
        raise InvalidInput("'message' must be a string")
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts) or len(parts) > MAX_PARTS:
        raise InvalidInput(f"'parts' must be a list of at most {MAX_PARTS} strings")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= 60:
        raise InvalidInput("'processingTime' must be a whole number of seconds from 0 to 60")
    return message, parts, seconds


def parse_tolerance(event: dict[str, Any]) -> int:
    """How many parts may fail (default none): refused at the door too."""
    tolerated = event.get("toleratedFailures", 0)
    if isinstance(tolerated, bool) or not isinstance(tolerated, int) or not 0 <= tolerated <= MAX_PARTS:
        raise InvalidInput(f"'toleratedFailures' must be a whole number from 0 to {MAX_PARTS}")
    return tolerated


def parse_concurrency(event: dict[str, Any]) -> int:
    """How many parts run at once (default DEFAULT_CONCURRENCY): refused at the door too."""
    concurrency = event.get("maxConcurrency", DEFAULT_CONCURRENCY)
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= MAX_CONCURRENCY
    ):
        raise InvalidInput(f"'maxConcurrency' must be a whole number from 1 to {MAX_CONCURRENCY}")
    return concurrency


def combined_message(messages: list[str]) -> str:
    """The parts' messages joined in input order; past COMBINED_MAX_CHARS, the first ones and a count."""
    joined = " + ".join(messages)
    if len(joined) <= COMBINED_MAX_CHARS:
        return joined
    shown: list[str] = []
    for message in messages:
        if len(" + ".join([*shown, message])) > COMBINED_MAX_CHARS - 40:
            break
        shown.append(message)
    return f"{' + '.join(shown)} (+{len(messages) - len(shown)} more)"


def _processed(result: TaskResult) -> str:
    """What the demo job made of its message (the worker's result object)."""
    made = result.completion.result
    return str(made.get("processedMessage", "")) if isinstance(made, dict) else ""


handler = build_handler(aws_gateways)
