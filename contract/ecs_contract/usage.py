"""What a task used, as ECS reports it: its size, where it ran and how long Fargate billed it.

Read from the stopped task (the relay's event, or DescribeTasks when the orchestrator reconciles)
and carried with its outcome, so the orchestrator can choose the next attempt (a larger size after
an OutOfMemory, on-demand after a Spot interruption) and estimate what each attempt cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class CapacityProvider(StrEnum):
    """The Fargate capacity providers (botocore ECS model, Task.capacityProviderName; the
    reserved providers a cluster is associated with, fargate-capacity-providers.html)."""

    FARGATE = "FARGATE"  # on-demand
    FARGATE_SPOT = "FARGATE_SPOT"


@dataclass(frozen=True)
class TaskUsage:
    cpu: int | None = None  # CPU units (Task.cpu, a string in events and API answers: "256")
    memory: int | None = None  # MiB (Task.memory)
    capacity_provider: str | None = None  # Task.capacityProviderName; None for a launch-type task
    # Fargate bills "from the time you start to download your container image until the Amazon
    # ECS Task terminates" (aws.amazon.com/fargate/pricing): Task.pullStartedAt to Task.stoppedAt.
    pull_started_at: str | None = None
    stopped_at: str | None = None

    @property
    def on_spot(self) -> bool:
        return self.capacity_provider == CapacityProvider.FARGATE_SPOT

    def to_dict(self) -> dict[str, Any]:
        return {
            "cpu": self.cpu,
            "memory": self.memory,
            "capacityProvider": self.capacity_provider,
            "pullStartedAt": self.pull_started_at,
            "stoppedAt": self.stopped_at,
        }

    @classmethod
    def from_dict(cls, data: object) -> TaskUsage | None:
        if not isinstance(data, Mapping):
            return None
        return cls(
            cpu=size_value(data.get("cpu")),
            memory=size_value(data.get("memory")),
            capacity_provider=_str_or_none(data.get("capacityProvider")),
            pull_started_at=_str_or_none(data.get("pullStartedAt")),
            stopped_at=_str_or_none(data.get("stoppedAt")),
        )


def size_value(value: object) -> int | None:
    """A task's cpu or memory as a number: ECS gives strings ("256"); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
