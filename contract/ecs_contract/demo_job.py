"""The seeds' demo job, kept apart from the job slot: which job runs, and the demo job's input.

A deployment runs the job slot: ``worker/worker/job.py`` in the container, with the input rules of
``orchestrator/orchestrator/job_rules.py`` in the orchestrator (out of the box both hand over to
the demo job). The local cloud, ``make demo`` and the tests run the demo job whatever the slot
holds: they set ``JOB_CHOICE=demo`` on the orchestrator and on the worker, so replacing the slot
cannot break them. The demo job's input model lives here, in the contract, because two packages
deployed apart read it: the orchestrator refuses a bad demo input before any task starts, and the
worker's demo job (``worker/worker/demo_job.py``) runs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# Set by whoever runs the orchestrator and the worker: the local cloud sets "demo"; the deployed
# template sets "slot" on the orchestrator and nothing on the worker (unset is the slot).
JOB_CHOICE_ENV = "JOB_CHOICE"


class JobChoice(StrEnum):
    SLOT = "slot"  # the job slot: worker/worker/job.py, orchestrator/orchestrator/job_rules.py
    DEMO = "demo"  # the seeds' demo job, whatever the slot holds

    @classmethod
    def parse(cls, value: str | None) -> JobChoice:
        """The choice an environment makes (unset or empty: the slot); ValueError names the choices."""
        try:
            return cls(value or cls.SLOT)
        except ValueError:
            choices = ", ".join(c.value for c in cls)
            raise ValueError(f"{JOB_CHOICE_ENV} must be one of {choices}, got {value!r}") from None


class InvalidDemoJob(ValueError):
    """The input is not a demo job: the message says which field and why."""


# The seeds' payload: {"message": ..., "processingTime": N}, and "fail" to make the job fail.
MESSAGE, PROCESSING_TIME, FAIL = "message", "processingTime", "fail"


@dataclass(frozen=True)
class DemoJob:
    """The demo job processes ``message`` for ``processing_time`` seconds, then fails if ``fail`` is set."""

    message: str = ""
    processing_time: int = 0
    fail: Any = None  # anything truthy: the job raises with it after processing, the worker exits 1

    @classmethod
    def from_dict(cls, job: Mapping[str, Any]) -> DemoJob:
        message = job.get(MESSAGE, "")
        if not isinstance(message, str):
            raise InvalidDemoJob(f"'{MESSAGE}' must be a string")
        seconds = job.get(PROCESSING_TIME, 0)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise InvalidDemoJob(f"'{PROCESSING_TIME}' must be a whole number of seconds >= 0")
        return cls(message=message, processing_time=seconds, fail=job.get(FAIL))

    def result(self, elapsed_seconds: float) -> dict[str, Any]:
        """The result document the demo job writes to S3."""
        return {
            MESSAGE: self.message,
            "processedMessage": self.message.upper(),
            PROCESSING_TIME: self.processing_time,
            "elapsedSeconds": round(elapsed_seconds, 3),
        }


def validate(job: Mapping[str, Any], task_timeout_seconds: int) -> None:
    """The demo job's input rules (the orchestrator's job hook when the demo job is chosen).

    Any JSON object is a demo job; its fields, when present, must have their types, and the job
    must end before the task timeout. Raises InvalidDemoJob (a ValueError) to refuse it."""
    demo = DemoJob.from_dict(job)
    if demo.processing_time >= task_timeout_seconds:
        raise InvalidDemoJob(
            f"'{PROCESSING_TIME}' ({demo.processing_time} s) must be shorter than the task timeout "
            f"({task_timeout_seconds} s)"
        )
