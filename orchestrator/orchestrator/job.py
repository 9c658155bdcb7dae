"""The job input, validated at the door: a bad input fails the execution before any task starts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ecs_contract.limits import OVERRIDES_MAX_CHARS
from ecs_contract.names import CALLBACK_ID_MAX
from orchestrator.errors import InvalidInput

# Room the job input may take in the 8,192-char overrides once the callback id (up to 1,024
# chars), the result URI and the JSON framing are in: checked exactly again when the task starts.
MAX_JOB_INPUT_CHARS = OVERRIDES_MAX_CHARS - CALLBACK_ID_MAX - 1024


@dataclass(frozen=True)
class JobInput:
    payload: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True)


def parse_job(event: object, task_timeout_seconds: int) -> JobInput:
    """Any JSON object is a job; the seeds' fields, when present, must have their types."""
    if not isinstance(event, dict):
        raise InvalidInput(f"job input must be a JSON object, got {type(event).__name__}")
    if "message" in event and not isinstance(event["message"], str):
        raise InvalidInput("'message' must be a string")
    if "processingTime" in event:
        seconds = event["processingTime"]
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise InvalidInput("'processingTime' must be a whole number of seconds >= 0")
        if seconds >= task_timeout_seconds:
            raise InvalidInput(
                f"'processingTime' ({seconds} s) must be shorter than the task timeout "
                f"({task_timeout_seconds} s)"
            )
    job = JobInput(payload=event)
    # Measured as it travels: a JSON string inside the overrides' JSON, where every quote,
    # backslash and \uXXXX escape of the job's own JSON takes one more character.
    size = len(json.dumps(job.to_json()))
    if size > MAX_JOB_INPUT_CHARS:
        raise InvalidInput(
            f"job input is {size} chars as JSON escaped into the task's environment; at most "
            f"{MAX_JOB_INPUT_CHARS} fit in the ECS container overrides. "
            "Store large input in S3 and pass its URI instead."
        )
    return job
