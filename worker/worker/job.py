"""THE JOB SLOT. Replace `run` with your own work; nothing else in the worker needs to change.

`run` gets the job input (the JSON object the orchestrator was invoked with) and a `progress`
function for log lines, and returns a JSON-serialisable result. Raise to fail the task: the
worker exits non-zero and the execution fails with WorkerFailed. Refuse a bad input before any
task starts in the other half of the slot, `orchestrator/orchestrator/job_rules.py`.

A deployment runs this slot. The local cloud, `make demo` and the tests run the seeds' demo job
(`worker/worker/demo_job.py`) whatever this file holds; `python -m local up --job slot` runs this
one locally instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from worker import demo_job


def run(job: dict[str, Any], progress: Callable[[str], None]) -> dict[str, Any]:
    """Out of the box the slot runs the seeds' demo job: replace this body with your job."""
    return demo_job.run(job, progress)
