"""The seeds' demo job: "process" a message for a few seconds, or fail on purpose.

Kept apart from the job slot (``job.py``): the local cloud, ``make demo`` and the tests run this
job (``JOB_CHOICE=demo``, see ``ecs_contract.demo_job``) whatever the slot holds. Its input model
and rules are in ``ecs_contract.demo_job``, which the orchestrator checks before any task starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ecs_contract.demo_job import DemoJob
from worker.progress import report_progress


def run(job: dict[str, Any], progress: Callable[[str], None]) -> dict[str, Any]:
    """Process `message` for `processingTime` seconds, with about ten log lines, reporting its
    progress every second (`report_progress` keeps one line a minute, or PROGRESS_INTERVAL_SECONDS);
    then fail, if `fail` says so (a failed task with lines in its log: the log tail in its failure)."""
    demo = DemoJob.from_dict(job)
    started = time.monotonic()
    seconds = demo.processing_time
    every = max(1, seconds // 10)  # about ten progress lines, however long the job
    for elapsed in range(seconds):
        if elapsed % every == 0:
            progress(f"processing {demo.message!r}: {elapsed}/{seconds} s")
        report_progress(elapsed / seconds, f"processing {demo.message!r}: {elapsed}/{seconds} s")
        time.sleep(1)
    if demo.fail:
        raise RuntimeError(f"job asked to fail: {demo.fail}")
    progress(f"processed {demo.message!r} in {seconds} s")
    report_progress(1, f"processed {demo.message!r}")
    return demo.result(time.monotonic() - started)
