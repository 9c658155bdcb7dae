"""Report the job's progress: `report_progress(0.42, "chunk 42 of 100")`.

Each report that gets through prints one progress line (`ecs_contract.progress`), which the worker
log group's subscription filter sends to the relay: the relay heartbeats the task's callback, so a
task with LivenessTimeoutSeconds keeps running while it reports, and `follow` shows the progress.
The worker needs no permission for it: it only prints.

Rate-limited, so a chatty job cannot run up cost: each line that gets through is a relay invocation
and a heartbeat. At most one line every DEFAULT_INTERVAL_SECONDS (60 s: at most 60 relay
invocations and 60 heartbeats a task-hour; a liveness timeout of a few minutes then sees several
lines in each of its windows, so one line delayed or lost does not stop a healthy task). Reports in
between are dropped: a job reports where it is now, so the next report after the interval carries
all they said (and nothing is printed behind the job's back: no thread, no timer). The first
report, and the first that says the job is done (fraction 1), go out at once.
PROGRESS_INTERVAL_ENV sets another interval (the local cloud's short liveness tests use 1 s).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ecs_contract.progress import PROGRESS_INTERVAL_ENV, Progress

DEFAULT_INTERVAL_SECONDS = 60.0


def _print_line(line: str) -> None:
    print(line, file=sys.stdout, flush=True)


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ProgressReporter:
    """At most one progress line every `interval` seconds; the reports in between are dropped."""

    interval: float = DEFAULT_INTERVAL_SECONDS
    clock: Callable[[], float] = time.monotonic
    emit: Callable[[str], None] = _print_line
    wall_clock: Callable[[], str] = _utc_now
    _last_at: float | None = field(default=None, init=False)
    _done: bool = field(default=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __call__(self, fraction: float, message: str = "") -> bool:
        """Report `fraction` (0 to 1) and `message`; True if a line was printed now. Raises
        ValueError for a fraction outside 0..1 (a bug in the job, shown where it is made)."""
        progress = Progress.of(fraction, message)  # ValueError here, before any rate decision
        with self._lock:
            now = self.clock()
            first_done = progress.fraction >= 1 and not self._done
            if self._last_at is not None and now - self._last_at < self.interval and not first_done:
                return False
            self._last_at = now
            self._done = self._done or progress.fraction >= 1
        self.emit(Progress.of(fraction, message, self.wall_clock()).line())
        return True


def interval_from(env: Mapping[str, str]) -> float:
    """The interval PROGRESS_INTERVAL_ENV sets (at least 1 s), else the default."""
    raw = env.get(PROGRESS_INTERVAL_ENV)
    if not raw:
        return DEFAULT_INTERVAL_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{PROGRESS_INTERVAL_ENV} must be a number of seconds, got {raw!r}") from None
    return max(1.0, seconds)


_reporter: ProgressReporter | None = None


def report_progress(fraction: float, message: str = "") -> bool:
    """Report the job's progress (see the module's doc): True if a line was printed now."""
    global _reporter
    if _reporter is None:
        _reporter = ProgressReporter(interval_from(os.environ))
    return _reporter(fraction, message)
