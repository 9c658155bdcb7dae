"""The job input, validated at the door: a bad input fails the execution before any task starts.

The orchestrator checks what every job needs (a JSON object that fits in the task's container
overrides) and hands the job's own rules to a hook of the job: the slot's `job_rules.validate`, or
the demo job's rules when the demo job is chosen (`ecs_contract.demo_job`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ecs_contract.demo_job import JobChoice
from ecs_contract.limits import OVERRIDES_MAX_CHARS
from ecs_contract.names import CALLBACK_ID_MAX
from ecs_contract.overrides import InvalidOverrides, TaskOverrides
from ecs_contract.tags import InvalidTags, check_tags
from orchestrator.errors import InvalidInput

# The job payload's optional key for the task's overrides (ecs_contract.overrides' document). Taken
# out of the job before the job goes to the worker: they are the orchestrator's instructions to
# ECS, not the job's input; left in, they would take their room in the 8,192-char overrides twice
# (in JOB_INPUT and as themselves), and a worker would see its own size as input, so the same job
# run at two sizes would be two different inputs to it.
OVERRIDES_KEY = "overrides"
# The job payload's optional key for the task's own tags ({"team": "search"}), added to the ones
# every task gets (ecs_contract.tags); taken out of the job too: they are for ECS, not the worker.
TAGS_KEY = "tags"

# Room the job input may take in the 8,192-char overrides once the callback id (up to 1,024
# chars), the result URI and the JSON framing are in: checked exactly again when the task starts.
MAX_JOB_INPUT_CHARS = OVERRIDES_MAX_CHARS - CALLBACK_ID_MAX - 1024

# A job's input rules: the input and the task timeout in; raise ValueError to refuse the input.
JobRules = Callable[[dict[str, Any], int], None]


@dataclass(frozen=True)
class JobInput:
    payload: dict[str, Any]  # what the worker gets (without OVERRIDES_KEY)
    overrides: TaskOverrides | None = None  # the job's overrides of its task; None: none
    tags: dict[str, str] | None = None  # the job's tags of its task; None: none

    def to_json(self) -> str:
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True)


def no_rules(job: dict[str, Any], task_timeout_seconds: int) -> None:
    """A job without input rules of its own: the orchestrator's generic checks only."""


def rules_for(choice: JobChoice) -> JobRules:
    """The input rules of the chosen job, imported only once chosen (the demo never imports the slot)."""
    if choice is JobChoice.DEMO:
        from ecs_contract import demo_job

        return demo_job.validate
    from orchestrator import job_rules

    return job_rules.validate


def parse_job(event: object, task_timeout_seconds: int, rules: JobRules = no_rules) -> JobInput:
    """Any JSON object that fits the overrides is a job, if the job's own rules accept it."""
    if not isinstance(event, dict):
        raise InvalidInput(f"job input must be a JSON object, got {type(event).__name__}")
    payload = {k: v for k, v in event.items() if k not in (OVERRIDES_KEY, TAGS_KEY)}
    overrides = _overrides(event)
    tags = _tags(event)
    try:
        rules(payload, task_timeout_seconds)
    except InvalidInput:
        raise
    except ValueError as e:  # the hook's way to refuse an input, with the reason for the caller
        raise InvalidInput(str(e)) from e
    job = JobInput(payload=payload, overrides=overrides, tags=tags)
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


def _overrides(event: dict[str, Any]) -> TaskOverrides | None:
    """The job's overrides, refused at once with a message that says what to change (the
    allow-list and the size of the whole are run_task's to check, before any step)."""
    if OVERRIDES_KEY not in event:
        return None
    try:
        return TaskOverrides.from_dict(event[OVERRIDES_KEY])
    except InvalidOverrides as e:
        raise InvalidInput(f"invalid overrides: {e}") from e


def _tags(event: dict[str, Any]) -> dict[str, str] | None:
    if TAGS_KEY not in event:
        return None
    tags = event[TAGS_KEY]
    if not isinstance(tags, dict):
        raise InvalidInput(f"'{TAGS_KEY}' must be an object of tag names to string values")
    try:
        check_tags(tags)
    except InvalidTags as e:
        raise InvalidInput(f"invalid tags: {e}") from e
    return dict(tags)
