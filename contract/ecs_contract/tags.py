"""The tags every task gets, and the rules a request's own tags follow (RunTaskRequest.tags in
botocore's ECS model): so the ECS console and split cost allocation group tasks by execution, task
and attempt, and a bad tag fails at the door, before any task starts.
"""

from __future__ import annotations

from collections.abc import Mapping

# Our keys. "aws:" is AWS's; ours have a prefix of their own so a request cannot collide with them.
TAG_PREFIX = "durable-ecs:"
EXECUTION_TAG = f"{TAG_PREFIX}execution"  # the durable execution's ARN (its last 256 characters)
TASK_NAME_TAG = f"{TAG_PREFIX}task"  # run_task's name for the task ("task", "prepare", "word 3")
ATTEMPT_TAG = f"{TAG_PREFIX}attempt"

# RunTaskRequest.tags: "Maximum number of tags per resource - 50", "Maximum key length - 128
# Unicode characters", "Maximum value length - 256 Unicode characters", "Do not use aws:, AWS:, or
# any upper or lowercase combination of such as a prefix for either keys or values"; "Generally
# allowed characters are: letters, numbers, and spaces representable in UTF-8, and the following
# characters: + - = . _ : / @."
MAX_TAGS = 50
KEY_MAX, VALUE_MAX = 128, 256
ALLOWED_PUNCTUATION = frozenset("+-=._:/@ ")


class InvalidTags(ValueError):
    """A request's tags that ECS would refuse, or that would collide with ours."""


def _allowed(text: str) -> bool:
    return all(c.isalnum() or c in ALLOWED_PUNCTUATION for c in text)


def check_tags(tags: Mapping[str, str]) -> None:
    """A request's own tags: ECS's rules, with room for ours (MAX_TAGS in all)."""
    room = MAX_TAGS - len(OURS)
    if len(tags) > room:
        raise InvalidTags(
            f"at most {room} tags a task (ECS allows {MAX_TAGS}, {len(OURS)} are ours), got {len(tags)}"
        )
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidTags(f"tag keys and values are strings, got {key!r}: {value!r}")
        if not 1 <= len(key) <= KEY_MAX or len(value) > VALUE_MAX:
            raise InvalidTags(
                f"a tag key is 1 to {KEY_MAX} characters and a value at most {VALUE_MAX}: {key!r}"
            )
        if key.lower().startswith("aws:") or value.lower().startswith("aws:"):
            raise InvalidTags(f"tag {key!r}: the aws: prefix is AWS's own")
        if key.startswith(TAG_PREFIX):
            raise InvalidTags(f"tag {key!r}: keys starting {TAG_PREFIX!r} are set by run_task")
        if not (_allowed(key) and _allowed(value)):
            raise InvalidTags(
                f"tag {key!r}: use letters, numbers, spaces and + - = . _ : / @ (ECS's allowed characters)"
            )


OURS = (EXECUTION_TAG, TASK_NAME_TAG, ATTEMPT_TAG)


def task_tags(execution_arn: str, name: str, attempt: int, requested: Mapping[str, str]) -> dict[str, str]:
    """Every tag of one task: ours, then the request's (already checked)."""
    return {
        EXECUTION_TAG: execution_arn[-VALUE_MAX:],
        TASK_NAME_TAG: name[:VALUE_MAX],
        ATTEMPT_TAG: str(attempt),
        **requested,
    }


def run_task_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """RunTaskRequest.tags' shape: [{"key": ..., "value": ...}]."""
    return [{"key": key, "value": value} for key, value in tags.items()]
