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
