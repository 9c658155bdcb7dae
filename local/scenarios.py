"""The scenario set: an invoke payload from events/ and the outcome it must end in, on any target."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.template import ROOT


@dataclass(frozen=True)
class Scenario:
    name: str
    payload: Path
    status: str  # the execution's final status
    error_type: str | None = None  # the last part of the execution's error type, when it fails
    function: str = "Orchestrator"  # the durable function it invokes (its "<Function>AliasArn" output)

    def check(self, execution: dict[str, Any]) -> str | None:
        """None when the execution ended as expected, else what differs."""
        status = execution.get("Status")
        error = execution.get("Error") or {}
        error_type = str(error.get("ErrorType", "")).rsplit(".", 1)[-1] or None
        if status != self.status or error_type != self.error_type:
            got = f"{status} {error_type or ''}".strip()
            return f"expected {self.status} {self.error_type or ''}".strip() + f", got {got}"
        return None


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("success", ROOT / "events/invoke/success.json", "SUCCEEDED"),
        Scenario("worker-failure", ROOT / "events/invoke/worker-failure.json", "FAILED", "WorkerFailed"),
        Scenario("invalid-input", ROOT / "events/invoke/invalid-input.json", "FAILED", "InvalidInput"),
        # A job that sizes its task (cpu/memory overrides), and one that asks for a role: refused.
        Scenario("overrides", ROOT / "events/invoke/overrides.json", "SUCCEEDED"),
        Scenario(
            "invalid-overrides", ROOT / "events/invoke/invalid-overrides.json", "FAILED", "InvalidInput"
        ),
        # A job that adds its own tags to its task's (execution, name, attempt).
        Scenario("tagged", ROOT / "events/invoke/tagged.json", "SUCCEEDED"),
        # The sample durable function built on durable_ecs: prepare, a fan-out, combine.
        Scenario("pipeline", ROOT / "events/invoke/pipeline.json", "SUCCEEDED", function="Pipeline"),
    )
}
