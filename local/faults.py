"""Fault injection: make the local cloud misbehave the ways the real one can, on purpose.

A fault is armed for the tasks of one job (matched by the job input's "message", which the test or
the user chooses) and fires `count` times. Each piece of the local cloud asks the registry at the
point where the real service would fail:

- the EventBridge stand-in (``bus.py``): ``duplicate-stopped`` delivers the task's STOPPED event
  three times, ``drop-stopped`` loses it (the orchestrator's reconcile must recover);
  ``relay-error`` makes the relay's invocation fail (a function error) once per count, so the
  Lambda async retries have to deliver it;
- the ECS stand-in (``agent.py``): ``never-start`` stops the task before its container starts
  (TaskFailedToStart, CannotPullContainerError: terminal), ``no-capacity`` does the same with a
  capacity reason (retryable), ``spot-interruption`` interrupts the running worker (SIGTERM,
  stopCode SpotInterruption: retryable).
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from typing import Any

from ecs_contract.names import JOB_INPUT_ENV

KINDS = {
    "duplicate-stopped": "the task's STOPPED event is delivered 3 times",
    "drop-stopped": "the task's STOPPED event is lost (never delivered)",
    "relay-error": "the relay's invocation for the task's STOPPED event fails (function error)",
    "never-start": "the task stops before its container starts (CannotPullContainerError)",
    "no-capacity": "the task stops before its container starts (no Fargate capacity: retryable)",
    "spot-interruption": "the running task is interrupted (SIGTERM, stopCode SpotInterruption)",
}
DUPLICATES = 3


class FaultError(ValueError):
    """A fault that cannot be armed (unknown kind, bad count)."""


@dataclass
class Fault:
    kind: str
    message: str  # the job input's "message" of the tasks it applies to
    count: int = 1  # how many times it fires
    fired: int = 0


class Faults:
    def __init__(self) -> None:
        self._armed: list[Fault] = []
        self._lock = threading.Lock()

    def arm(self, kind: str, message: str, count: int = 1) -> Fault:
        if kind not in KINDS:
            raise FaultError(f"unknown fault {kind!r}; one of: {', '.join(KINDS)}")
        if not isinstance(count, int) or count < 1:
            raise FaultError("count must be a whole number >= 1")
        if not isinstance(message, str) or not message:
            raise FaultError("message (the job input's 'message' to match) must be a non-empty string")
        fault = Fault(kind, message, count)
        with self._lock:
            self._armed.append(fault)
        return fault

    def fire(self, kind: str, message: str | None) -> bool:
        """True (and one firing used) if a fault of this kind is armed for this job."""
        if message is None:
            return False
        with self._lock:
            for fault in self._armed:
                if fault.kind == kind and fault.message == message and fault.fired < fault.count:
                    fault.fired += 1
                    return True
        return False

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._armed]


def job_message(environment: dict[str, str]) -> str | None:
    """The "message" of the job whose container environment this is."""
    try:
        job = json.loads(environment.get(JOB_INPUT_ENV, ""))
    except ValueError:
        return None
    message = job.get("message") if isinstance(job, dict) else None
    return message if isinstance(message, str) else None


def event_job_message(event: dict[str, Any]) -> str | None:
    """The job "message" of the task an ECS event describes (from its container overrides)."""
    detail = event.get("detail") or {}
    for override in (detail.get("overrides") or {}).get("containerOverrides", []):
        env = {e.get("name"): e.get("value") for e in override.get("environment", []) if isinstance(e, dict)}
        message = job_message({k: v for k, v in env.items() if isinstance(k, str) and isinstance(v, str)})
        if message is not None:
            return message
    return None
