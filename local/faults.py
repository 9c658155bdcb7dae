"""Fault injection: make the local cloud misbehave the ways the real one can, on purpose.

A fault is armed for the tasks of one durable execution, named as the caller named it
(``invoke --name``, Invoke's DurableExecutionName), and fires `count` times. The local cloud owns
that link whatever the job is: it started the execution, and the task's startedBy carries a digest
of the execution's ARN (``ecs_contract.names.started_by``). Each piece of the local cloud asks the
registry at the point where the real service would fail:

- the EventBridge stand-in (``bus.py``): ``duplicate-stopped`` delivers the task's STOPPED event
  three times, ``drop-stopped`` loses it (the orchestrator's reconcile must recover);
  ``relay-error`` makes the relay's invocation fail (a function error) once per count, so the
  Lambda async retries have to deliver it;
- the ECS stand-in (``agent.py``): ``never-start`` stops the task before its container starts
  (TaskFailedToStart, CannotPullContainerError: terminal), ``no-capacity`` does the same with a
  capacity reason (retryable), ``spot-interruption`` interrupts the running worker (SIGTERM,
  stopCode SpotInterruption: retryable), ``stuck-provisioning`` leaves the task in PROVISIONING
  until StopTask (the start timeout's case), ``oom-kill`` kills the running worker as the kernel's
  OOM killer does (SIGKILL, exit code 137, the container's reason OutOfMemoryError: OutOfMemory),
  ``hang`` freezes the worker (SIGSTOP) after its first progress line: it prints nothing more and
  never exits (the liveness timeout's case);
- the ECS API rules (``ecs_rules.py``): ``spot-no-capacity`` answers a RunTask on Fargate Spot with
  no task and the capacity failure in failures[] (the orchestrator moves to on-demand Fargate).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ecs_contract.names import started_by as started_by_of
from local.durable import EXECUTION_NAME

KINDS = {
    "duplicate-stopped": "the task's STOPPED event is delivered 3 times",
    "drop-stopped": "the task's STOPPED event is lost (never delivered)",
    "relay-error": "the relay's invocation for the task's STOPPED event fails (function error)",
    "never-start": "the task stops before its container starts (CannotPullContainerError)",
    "no-capacity": "the task stops before its container starts (no Fargate capacity: retryable)",
    "spot-interruption": "the running task is interrupted (SIGTERM, stopCode SpotInterruption)",
    "spot-no-capacity": "RunTask on Fargate Spot starts no task: Spot has no capacity (failures[])",
    "stuck-provisioning": "the task stays in PROVISIONING, never starting, until it is stopped",
    "hang": "after its first progress line the worker stops printing and never exits (SIGSTOP)",
    "oom-kill": "the running worker is killed for its memory (SIGKILL, exit 137, OutOfMemoryError)",
}
DUPLICATES = 3


class FaultError(ValueError):
    """A fault that cannot be armed (unknown kind, bad count, not an execution name)."""


@dataclass
class Fault:
    kind: str
    execution: str  # the name of the durable execution whose tasks it applies to
    count: int = 1  # how many times it fires
    fired: int = 0


class Faults:
    """The armed faults; ``executions`` gives the ARNs of the executions started with a name."""

    def __init__(self, executions: Callable[[str], list[str]] = lambda name: []) -> None:
        self._armed: list[Fault] = []
        self._executions = executions
        self._lock = threading.Lock()

    def arm(self, kind: str, execution: str, count: int = 1) -> Fault:
        if kind not in KINDS:
            raise FaultError(f"unknown fault {kind!r}; one of: {', '.join(KINDS)}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise FaultError("count must be a whole number >= 1")
        # What Invoke accepts as DurableExecutionName (local/durable.py): any other name could never
        # name an execution, so the fault would never fire.
        if not isinstance(execution, str) or not EXECUTION_NAME.fullmatch(execution):
            raise FaultError(
                f"execution must be a durable execution's name (1 to 64 letters, digits, '-' or '_'), "
                f"as given to `invoke --name`; got {execution!r}"
            )
        fault = Fault(kind, execution, count)
        with self._lock:
            self._armed.append(fault)
        return fault

    def fire(self, kind: str, started_by: str | None) -> bool:
        """True (and one firing used) if a fault of this kind is armed for the execution that
        started the task with this startedBy."""
        if not started_by:
            return False
        with self._lock:
            for fault in self._armed:
                if fault.kind == kind and fault.fired < fault.count and self._started(fault, started_by):
                    fault.fired += 1
                    return True
        return False

    def _started(self, fault: Fault, started_by: str) -> bool:
        """Did the fault's execution start the task? Its startedBy is the orchestrator's marker, then
        the digest of the execution's ARN: computed again from each execution of that name."""
        marker = started_by.rpartition("/")[0]
        try:
            return any(started_by_of(marker, arn) == started_by for arn in self._executions(fault.execution))
        except ValueError:  # not a marker ECS would accept: not a task of ours
            return False

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._armed]


def event_started_by(event: dict[str, Any]) -> str | None:
    """The startedBy of the task an ECS event describes."""
    value = (event.get("detail") or {}).get("startedBy")
    return value if isinstance(value, str) else None
