"""THE JOB SLOT's input rules: refuse a bad job input before any task starts.

The other half of the job slot (`worker/worker/job.py` runs the job in the container). It lives in
the orchestrator because the orchestrator and the worker are deployed apart: the orchestrator
cannot import `worker/`. Replace `validate` with your job's rules, or with a body that accepts every
input; the orchestrator has already checked that the input is a JSON object, and checks after it
that the input fits in the task's container overrides.

Raise ValueError (or orchestrator.errors.InvalidInput) with a message for the caller to refuse the
input: the execution fails with InvalidInput and no task starts. Keep it pure: it runs again on
every replay of the execution, so no I/O, clock or randomness.

A deployment runs this slot. The local cloud, `make demo` and the tests check the seeds' demo job
with its own rules (`ecs_contract.demo_job.validate`) whatever this file holds.
"""

from __future__ import annotations

from typing import Any

from ecs_contract import demo_job


def validate(job: dict[str, Any], task_timeout_seconds: int) -> None:
    """Out of the box the slot runs the seeds' demo job, so it checks the demo job's rules."""
    demo_job.validate(job, task_timeout_seconds)
