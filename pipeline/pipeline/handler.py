"""A sample durable function built on `durable_ecs`: tasks in sequence, a fan-out, a final task.

    {"message": "hello", "parts": ["red", "green"], "processingTime": 1}

"prepare" runs the demo job on the message; then one task per part ("part 0", "part 1", ...)
runs in the SDK's `map`, each on the prepared message and its part; "combine" runs on what the
parts made. The result holds each task's TaskResult document. Every task is the worker's job (the
demo job in the local cloud), so each result's "result" is what that job wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aws_durable_execution_sdk_python import BatchResult, ChildContextError, DurableContext, durable_execution
from aws_lambda_powertools import Logger, Metrics

from durable_ecs import EcsSettings, Gateways, InvalidInput, TaskRequest, TaskResult, run_task, task_error_of
from durable_ecs.task import aws_gateways
from durable_ecs.task import metrics as library_metrics

logger = Logger(service="pipeline")
# Its own namespace in code, like the orchestrator's: a flush without one fails the invocation.
metrics = Metrics(service="pipeline", namespace=library_metrics.namespace)


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

    def task(ctx: DurableContext, name: str, job: dict[str, Any]) -> TaskResult:
        return run_task(ctx, name, TaskRequest(job=job), settings, gateways)

    prepared = task(context, "prepare", {"message": message, "processingTime": seconds})
    prepared_message = _processed(prepared)

    def part(ctx: DurableContext, item: str, index: int, _: Sequence[str]) -> dict[str, Any]:
        return task(
            ctx, f"part {index}", {"message": f"{prepared_message} {item}", "processingTime": seconds}
        ).to_dict()

    fanned: BatchResult[dict[str, Any]] = context.map(parts, part, name="parts")
    try:
        fanned.throw_if_error()
    except ChildContextError as e:  # a part failed: fail with its typed error, as "prepare" would
        raise (task_error_of(e) or e) from e
    made = fanned.get_results()

    combined = task(
        context, "combine", {"message": " + ".join(_processed(TaskResult.from_dict(r)) for r in made)}
    )
    return {"prepare": prepared.to_dict(), "parts": made, "combine": combined.to_dict()}


def parse_input(event: Any) -> tuple[str, list[str], int]:
    """The pipeline's input, refused at the door (before any task starts) if it is not one."""
    if not isinstance(event, dict):
        raise InvalidInput(f"the pipeline's input must be a JSON object, got {type(event).__name__}")
    message, parts, seconds = event.get("message", ""), event.get("parts", []), event.get("processingTime", 0)
    if not isinstance(message, str):
        raise InvalidInput("'message' must be a string")
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts) or len(parts) > 10:
        raise InvalidInput("'parts' must be a list of at most 10 strings")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= 60:
        raise InvalidInput("'processingTime' must be a whole number of seconds from 0 to 60")
    return message, parts, seconds


def _processed(result: TaskResult) -> str:
    """What the demo job made of its message (the worker's result object)."""
    made = result.completion.result
    return str(made.get("processedMessage", "")) if isinstance(made, dict) else ""


handler = build_handler(aws_gateways)
