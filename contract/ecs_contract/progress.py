"""A worker's progress line: how the worker prints it, which lines the subscription filter passes,
and how the relay and the orchestrator read it back. Defined once, here (stdlib only).

A progress line is one JSON object on one line of the worker's output, e.g.

    {"durableEcsProgress":0.42,"message":"chunk 42 of 100","at":"2026-12-01T18:50:00Z"}

`at` is when the worker printed it (UTC, to the second): what TaskHung says of the last progress.

The awslogs driver sends each line to CloudWatch Logs as one log event; the worker log group's
subscription filter (template.yaml, WorkerProgressSubscription) passes only events that are JSON
objects whose `durableEcsProgress` is a number >= 0 (FILTER_PATTERN: a JSON filter pattern with a
numeric comparison, CloudWatch Logs "Filter pattern syntax for metric filters, subscription
filters, filter log events, and Live Tail", "Using filter patterns to match terms in JSON log
events"): any other line, plain text or JSON without the key, never invokes the relay.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

PROGRESS_KEY = "durableEcsProgress"
MESSAGE_KEY = "message"
AT_KEY = "at"
# template.yaml, WorkerProgressSubscription.FilterPattern (a contract test holds the two together;
# the local cloud evaluates the template's, local/subscriptions.py).
FILTER_PATTERN = "{ $.durableEcsProgress >= 0 }"
# A message is cut to this many characters: a progress line says where the job is, it is not a log.
MAX_MESSAGE_CHARS = 256
# The worker's least interval between two progress lines, in seconds (worker.progress: 60 unless set).
PROGRESS_INTERVAL_ENV = "PROGRESS_INTERVAL_SECONDS"


@dataclass(frozen=True)
class Progress:
    """How far the job is: `fraction` from 0 to 1, and a short message."""

    fraction: float
    message: str = ""
    at: str | None = None  # when the worker printed it, ISO 8601 UTC

    def __post_init__(self) -> None:
        if isinstance(self.fraction, bool) or not isinstance(self.fraction, int | float):
            raise ValueError(f"a progress fraction is a number from 0 to 1, got {self.fraction!r}")
        if not (math.isfinite(self.fraction) and 0 <= self.fraction <= 1):
            raise ValueError(f"a progress fraction is a number from 0 to 1, got {self.fraction!r}")
        if not isinstance(self.message, str):
            raise ValueError(f"a progress message is a string, got {type(self.message).__name__}")

    @classmethod
    def of(cls, fraction: float, message: str = "", at: str | None = None) -> Progress:
        """A progress report, its message on one line and cut to MAX_MESSAGE_CHARS."""
        one_line = " ".join(str(message).split())
        # float() would take True as 1 and "0.5" as 0.5: a bool or a string is a bug in the job.
        number = (
            fraction
            if isinstance(fraction, bool) or not isinstance(fraction, int | float)
            else float(fraction)
        )
        return cls(number, one_line[:MAX_MESSAGE_CHARS], at)

    def line(self) -> str:
        """The line the worker prints (one line: json.dumps escapes any newline)."""
        document: dict[str, object] = {PROGRESS_KEY: round(self.fraction, 4), MESSAGE_KEY: self.message}
        if self.at:
            document[AT_KEY] = self.at
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False)

    def describe(self) -> str:
        """For people: "42% chunk 42 of 100"."""
        percent = f"{self.fraction * 100:.0f}%"
        return f"{percent} {self.message}" if self.message else percent

    def to_dict(self) -> dict[str, object]:
        return {"fraction": self.fraction, "message": self.message, "at": self.at}


def parse_progress(line: str) -> Progress | None:
    """The progress a log line reports; None for any other line (what the filter pattern passes and
    a little more: the relay and the orchestrator check again rather than trust the filter)."""
    text = line.strip()
    if not text.startswith("{") or PROGRESS_KEY not in text:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    fraction, message, at = document.get(PROGRESS_KEY), document.get(MESSAGE_KEY, ""), document.get(AT_KEY)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        return None
    try:
        text = message if isinstance(message, str) else str(message)
        return Progress.of(fraction, text, at if isinstance(at, str) else None)
    except ValueError:
        return None


def last_progress(lines: Sequence[str]) -> Progress | None:
    """The last progress line among `lines` (oldest first), if any."""
    for line in reversed(lines):
        found = parse_progress(line)
        if found is not None:
            return found
    return None
