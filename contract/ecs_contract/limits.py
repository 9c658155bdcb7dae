"""Service limits we enforce ourselves, so a breach fails early with a clear message (AWS docs)."""

from __future__ import annotations

import json
from typing import Any

# RunTask: "A total of 8192 characters are allowed for overrides", counted on the JSON form.
OVERRIDES_MAX_CHARS = 8192
# SendDurableExecutionCallbackSuccess Result: botocore's model says 1 MiB, the service docs 256 KB.
CALLBACK_RESULT_MAX_BYTES = 256 * 1024
# Free text we copy into ErrorMessage / ErrorData (container reasons can be long).
REASON_MAX_CHARS = 1024
# Lambda quotas, "Durable functions": "Maximum number of durable operations per durable execution:
# 3,000", which cannot be increased (Lambda Developer Guide, gettingstarted-limits.html). Metered as
# durable-execution-sdk.html ("How durable operations are metered") says: the execution's start 1,
# each step 1 plus 1 per retry, each wait 1, each create_callback 1, each child context 1 (a map
# item's, when NESTED), each invocation-level retry 1. A fan-out spends several per item, so its
# ceiling on items is well below 3,000: past it, split the work across child executions or batches.
DURABLE_OPERATIONS_MAX = 3000


class LimitExceeded(ValueError):
    """A payload would break a service limit."""


def check_overrides(overrides: dict[str, Any]) -> None:
    size = len(json.dumps(overrides, separators=(",", ":")))
    if size > OVERRIDES_MAX_CHARS:
        raise LimitExceeded(
            f"container overrides are {size} chars; ECS allows {OVERRIDES_MAX_CHARS}. "
            "Pass large job input by reference (e.g. an S3 URI) instead of inline."
        )


def clip(text: str | None, limit: int = REASON_MAX_CHARS) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."
