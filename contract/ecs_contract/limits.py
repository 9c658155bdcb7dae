"""Service limits we enforce ourselves, so a breach fails early with a clear message (AWS docs)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

# RunTask: "A total of 8192 characters are allowed for overrides", counted on the JSON form.
OVERRIDES_MAX_CHARS = 8192
# SendDurableExecutionCallbackSuccess Result: botocore's model says 1 MiB, the service docs 256 KB.
CALLBACK_RESULT_MAX_BYTES = 256 * 1024
# Free text we copy into ErrorMessage / ErrorData (container reasons can be long).
REASON_MAX_CHARS = 1024
# SendDurableExecutionCallbackFailure's Error (botocore lambda model, 2015-03-31,
# SendDurableExecutionCallbackFailureRequest.Error): "The combined size of all error fields is
# limited to 1 MB"; ErrorMessage, ErrorType and ErrorData have no limit of their own there. The
# failure is also checkpointed by the start and reconcile steps (a checkpoint: 256 KB, the durable
# SDK's CHECKPOINT_SIZE_LIMIT_BYTES), so a failure stays within FAILURE_MAX_BYTES, below both: a
# real one (clipped texts, the tail's bytes) comes to some 25 KB at most; only garbage (an ARN of
# 300,000 characters, which ECS never sends) is more, and is sent without its log, texts clipped.
CALLBACK_ERROR_MAX_BYTES = 1024 * 1024
FAILURE_MAX_BYTES = 64 * 1024
# The worker's last log lines in ErrorData: each line at most this long, and the lines kept (the
# newest) at most this many bytes of JSON (a CloudWatch Logs event may be 256 KB, and a tail
# 10,000 of them).
LOG_LINE_MAX_CHARS = 1024
LOG_TAIL_MAX_BYTES = 16 * 1024
# ... and, shortened, in ErrorMessage: the newest few, each clipped, so the message stays readable.
# The message (REASON_MAX_CHARS), a header and these lines come to about 2,100 characters, within
# ERROR_MESSAGE_MAX_CHARS, which only guards the whole.
MESSAGE_TAIL_LINES = 5
MESSAGE_TAIL_LINE_CHARS = 200
ERROR_MESSAGE_MAX_CHARS = 4096
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


def fit_tail(lines: Iterable[str]) -> tuple[str, ...]:
    """The newest of `lines` (oldest first) that fit LOG_TAIL_MAX_BYTES as JSON, each clipped to
    LOG_LINE_MAX_CHARS: the bytes are counted as ErrorData holds them (JSON escapes, e.g. 12 bytes
    for one emoji), so no line can grow the failure past its limits."""
    kept: list[str] = []
    size = 0
    for line in reversed([clip(line, LOG_LINE_MAX_CHARS) or "" for line in lines]):
        size += len(json.dumps(line)) + 1  # the line and its comma
        if size > LOG_TAIL_MAX_BYTES:
            break
        kept.append(line)
    return tuple(reversed(kept))
