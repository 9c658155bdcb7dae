"""The subset of an ECS task we read, typed.

One model serves both sources of a task: the `detail` of an "ECS Task State Change" event and an
element of `ecs.describe_tasks()["tasks"]` (same keys; timestamps are strings in events and
datetimes from boto3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ecs_contract.names import CALLBACK_ID_ENV, START_CALLBACK_ID_ENV, WORKER_CONTAINER_NAME
from ecs_contract.usage import TaskUsage, size_value

# A task's lastStatus from RUNNING on (AmazonECS developerguide, task-lifecycle.html: PROVISIONING,
# PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED): it has started.
RUNNING_OR_LATER = frozenset({"RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING"})


class MalformedTask(ValueError):
    """The event or API answer does not have the shape of an ECS task."""


@dataclass(frozen=True)
class Container:
    name: str
    last_status: str | None = None
    exit_code: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Task:
    task_arn: str
    cluster_arn: str
    last_status: str
    desired_status: str | None = None
    started_by: str | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    containers: tuple[Container, ...] = ()
    # Environment overrides per container name: {"worker": {"CALLBACK_ID": "..."}}
    environment: Mapping[str, Mapping[str, str]] | None = None
    started_at: str | None = None
    stopped_at: str | None = None
    cpu: str | None = None  # the task's size, CPU units and MiB, as strings ("256", "512")
    memory: str | None = None
    capacity_provider: str | None = None  # capacityProviderName: FARGATE, FARGATE_SPOT
    pull_started_at: str | None = None

    @property
    def usage(self) -> TaskUsage:
        return TaskUsage(
            cpu=size_value(self.cpu),
            memory=size_value(self.memory),
            capacity_provider=self.capacity_provider,
            pull_started_at=self.pull_started_at,
            stopped_at=self.stopped_at,
        )

    def container(self, name: str = WORKER_CONTAINER_NAME) -> Container | None:
        """The worker container: the one with our name, or the only container there is."""
        for candidate in self.containers:
            if candidate.name == name:
                return candidate
        return self.containers[0] if len(self.containers) == 1 else None

    def env(self, key: str, container: str = WORKER_CONTAINER_NAME) -> str | None:
        return (self.environment or {}).get(container, {}).get(key)

    def environment_of(self, container: str = WORKER_CONTAINER_NAME) -> Mapping[str, str]:
        """The container's environment overrides (what RunTask set on it)."""
        return (self.environment or {}).get(container, {})

    @property
    def callback_id(self) -> str | None:
        return self.env(CALLBACK_ID_ENV)

    @property
    def start_callback_id(self) -> str | None:
        return self.env(START_CALLBACK_ID_ENV)

    @property
    def started(self) -> bool:
        """Did it reach RUNNING? ECS stamps startedAt then (botocore ECS model, Task.startedAt)."""
        return self.started_at is not None or self.last_status in RUNNING_OR_LATER


def parse_task(raw: object) -> Task:
    """Build a Task from an event detail or a describe_tasks element; MalformedTask if it is not one."""
    if not isinstance(raw, Mapping):
        raise MalformedTask(f"task must be an object, got {type(raw).__name__}")
    return Task(
        task_arn=_required_str(raw, "taskArn"),
        cluster_arn=_required_str(raw, "clusterArn"),
        last_status=_required_str(raw, "lastStatus"),
        desired_status=_optional_str(raw, "desiredStatus"),
        started_by=_optional_str(raw, "startedBy"),
        stop_code=_optional_str(raw, "stopCode"),
        stopped_reason=_optional_str(raw, "stoppedReason"),
        containers=tuple(_container(c) for c in _list(raw, "containers")),
        environment=_environment(raw.get("overrides")),
        started_at=_timestamp(raw.get("startedAt")),
        stopped_at=_timestamp(raw.get("stoppedAt")),
        cpu=_size(raw.get("cpu")),
        memory=_size(raw.get("memory")),
        capacity_provider=_optional_str(raw, "capacityProviderName"),
        pull_started_at=_timestamp(raw.get("pullStartedAt")),
    )


def _container(raw: object) -> Container:
    if not isinstance(raw, Mapping):
        raise MalformedTask("each container must be an object")
    exit_code = raw.get("exitCode")
    if exit_code is not None and (isinstance(exit_code, bool) or not isinstance(exit_code, int)):
        raise MalformedTask(f"container exitCode must be an integer, got {exit_code!r}")
    return Container(
        name=_required_str(raw, "name"),
        last_status=_optional_str(raw, "lastStatus"),
        exit_code=exit_code,
        reason=_optional_str(raw, "reason"),
    )


def _environment(overrides: object) -> dict[str, dict[str, str]]:
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise MalformedTask("overrides must be an object")
    result: dict[str, dict[str, str]] = {}
    for override in _list(overrides, "containerOverrides"):
        if not isinstance(override, Mapping):
            raise MalformedTask("each containerOverride must be an object")
        env = result.setdefault(_required_str(override, "name"), {})
        for pair in _list(override, "environment"):
            if isinstance(pair, Mapping) and isinstance(pair.get("name"), str):
                value = pair.get("value")
                env[pair["name"]] = value if isinstance(value, str) else ""
    return result


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedTask(f"{key} must be a list")
    return value


def _required_str(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedTask(f"{key} is missing or not a string")
    return value


def _optional_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedTask(f"{key} must be a string")
    return value


def _size(value: object) -> str | None:
    """Task.cpu / Task.memory: strings in the model ("256"); a number is taken as one too."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else None


def _timestamp(value: object) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return value
    return None
