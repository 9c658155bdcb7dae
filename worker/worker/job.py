"""THE JOB. Replace `run` with your own work; nothing else in the worker needs to change.

`run` gets the job input (the JSON object the orchestrator was invoked with) and a `progress`
function for log lines, and returns a JSON-serialisable result. Raise to fail the task: the
worker exits non-zero and the execution fails with WorkerFailed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def run(job: dict[str, Any], progress: Callable[[str], None]) -> dict[str, Any]:
    """The seeds' job: "process" `message` for `processingTime` seconds."""
    message = job.get("message", "")
    seconds = int(job.get("processingTime", 0))
    if job.get("fail"):
        raise RuntimeError(f"job asked to fail: {job['fail']}")
    started = time.monotonic()
    every = max(1, seconds // 10)  # about ten progress lines, however long the job
    for elapsed in range(seconds):
        if elapsed % every == 0:
            progress(f"processing {message!r}: {elapsed}/{seconds} s")
        time.sleep(1)
    progress(f"processed {message!r} in {seconds} s")
    return {
        "message": message,
        "processedMessage": message.upper(),
        "processingTime": seconds,
        "elapsedSeconds": round(time.monotonic() - started, 3),
    }
