"""Per-job overrides of the worker task, allow-listed and checked at the door.

A job may size its task (cpu, memory, ephemeral storage), replace the worker's command, add
environment variables, and run another task definition from the deployment's allow-list. Nothing
else, and never the task role or the execution role (``ROLE_REFUSED`` says why). Everything ECS
would refuse, and everything we do not allow, is refused by ``TaskOverrides.from_dict`` and
``TaskOverrides.check`` before any task starts, with an ``InvalidOverrides`` whose message says what
to change; ``to_run_task`` then builds RunTask's ``overrides`` (and ``taskDefinition``) as botocore's
ECS model shapes them (``botocore/data/ecs/2014-11-13/service-2.json``: TaskOverride,
ContainerOverride, KeyValuePair, EphemeralStorage).

The job-facing document (``from_dict``/``to_dict``, plain JSON, stable in checkpoints):
``{"cpu": 1024, "memory": 4096, "command": ["python", "-m", "worker"],
"environment": {"LOG_LEVEL": "debug"}, "ephemeralStorageGiB": 50, "taskDefinition": "stack-gpu"}``,
every field optional.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecs_contract.demo_job import JOB_CHOICE_ENV
from ecs_contract.limits import OVERRIDES_MAX_CHARS, LimitExceeded, check_overrides
from ecs_contract.names import (
    CALLBACK_ID_ENV,
    CALLBACK_ID_MAX,
    JOB_INPUT_ENV,
    RESULT_URI_ENV,
    START_CALLBACK_ID_ENV,
    TASK_ATTEMPT_ENV,
    TASK_INDEX_ENV,
    WORKER_CONTAINER_NAME,
)
from ecs_contract.trace import TRACEPARENT_ENV, XRAY_ENV


class InvalidOverrides(ValueError):
    """A job's overrides that ECS would refuse or that we do not allow; the message says what to change."""


# The fields of the job-facing document.
CPU, MEMORY, COMMAND, ENVIRONMENT = "cpu", "memory", "command", "environment"
EPHEMERAL_STORAGE_GIB, TASK_DEFINITION = "ephemeralStorageGiB", "taskDefinition"
FIELDS = (CPU, MEMORY, COMMAND, ENVIRONMENT, EPHEMERAL_STORAGE_GIB, TASK_DEFINITION)

# The deployment's allow-list of task definitions a job may choose: an environment variable of the
# orchestrator (and of any durable function using the library) that template.yaml sets, a
# comma-separated list of task definition families ("stack-worker,stack-gpu") or full ARNs. Empty or
# unset: a job runs the deployment's own task definition and may choose no other.
ALLOWED_TASK_DEFINITIONS_ENV = "ALLOWED_TASK_DEFINITIONS"

# Fargate's task sizes, memory in MiB by CPU units (1024 units = 1 vCPU), from "Task CPU and memory"
# (AmazonECS/latest/developerguide/task-cpu-memory-error.html, also fargate-tasks-services.html):
# 256 -> 512 MiB, 1 GB, 2 GB; 512 -> 1..4 GB; 1024 -> 2..8 GB; 2048 -> 4..16 GB; 4096 -> 8..30 GB,
# in 1 GB steps; 8192 -> 16..60 GB in 4 GB steps and 16384 -> 32..120 GB in 8 GB steps (these two
# on Linux platform 1.4.0 or later). local/ecs_rules.py keeps its own copy for the local ECS, and
# tests/unit/test_overrides.py holds the two to each other.
_STEPPED = {
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}
FARGATE_TASK_SIZES: Mapping[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    **{cpu: tuple(range(first, last + 1, step)) for cpu, (first, last, step) in _STEPPED.items()},
}

# botocore ECS model, EphemeralStorage.sizeInGiB: "The minimum supported value is 21 GiB and the
# maximum supported value is 200 GiB." (Fargate's default, without the override, is 20 GiB.)
EPHEMERAL_STORAGE_MIN_GIB, EPHEMERAL_STORAGE_MAX_GIB = 21, 200

# The environment variables the orchestrator sets on the worker, and why a job may not set them.
RESERVED_ENV: Mapping[str, str] = {
    CALLBACK_ID_ENV: "the relay reads the task's callback id from it",
    START_CALLBACK_ID_ENV: "the relay reads the callback it completes when the task starts from it",
    JOB_INPUT_ENV: "the job input travels in it; put the value in the job input instead",
    RESULT_URI_ENV: "it names where the worker writes its result",
    JOB_CHOICE_ENV: "it chooses which job the worker runs",
    TASK_ATTEMPT_ENV: "it tells the task its attempt",
    TASK_INDEX_ENV: "it tells a fan-out's task its index",
    XRAY_ENV: "it carries the orchestrator's X-Ray trace header",
    TRACEPARENT_ENV: "it carries the orchestrator's W3C trace context",
}
# The variables Amazon ECS sets in every task (AmazonECS/latest/developerguide/
# ecs-environment-variables.html): a job that set one would break the task's credentials, its
# metadata endpoint or its Region. The page names these variables, no reserved prefix; whether ECS
# itself refuses an override of one is not documented, so we refuse it here.
ECS_SET_ENV = frozenset(
    {
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "ECS_CONTAINER_METADATA_URI_V4",
        "ECS_CONTAINER_METADATA_URI",
        "ECS_AGENT_URI",
        "AWS_EXECUTION_ENV",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
    }
)

# TaskOverride.taskRoleArn and .executionRoleArn exist in the model, and nothing in IAM ties them to
# who chose them: iam:PassRole lets the orchestrator pass each role it may pass, whoever asked.
ROLE_REFUSED = (
    "'{key}' cannot be overridden: RunTask's overrides cannot be constrained by IAM, so a job that "
    "could choose the role could take any role the orchestrator may pass (Dagster's per-run "
    "task-role override is the cautionary example). The roles are the task definition's: to run "
    f"with another role, register a task definition with it and add it to {ALLOWED_TASK_DEFINITIONS_ENV}."
)


def _steps(cpu: int) -> str:
    sizes = FARGATE_TASK_SIZES[cpu]
    if cpu in _STEPPED:
        first, last, step = _STEPPED[cpu]
        return f"{first} to {last} MiB in steps of {step}"
    return ", ".join(map(str, sizes[:-1])) + f" or {sizes[-1]} MiB"


def check_task_size(cpu: int, memory: int) -> None:
    """Raise InvalidOverrides unless Fargate runs a task of `cpu` units and `memory` MiB."""
    if cpu not in FARGATE_TASK_SIZES:
        cpus = ", ".join(map(str, FARGATE_TASK_SIZES))
        raise InvalidOverrides(f"cpu {cpu} is not a Fargate CPU value: use one of {cpus} (1024 = 1 vCPU)")
    if memory not in FARGATE_TASK_SIZES[cpu]:
        raise InvalidOverrides(
            f"memory {memory} MiB does not go with cpu {cpu} on Fargate: with cpu {cpu}, "
            f"memory may be {_steps(cpu)}"
        )


@dataclass(frozen=True)
class TaskDefinitionAllowList:
    """The task definitions a job may choose: families (any revision of theirs) or exact ARNs."""

    entries: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> TaskDefinitionAllowList:
        """From ALLOWED_TASK_DEFINITIONS_ENV's comma-separated value (unset or empty: none)."""
        return cls(tuple(e.strip() for e in (text or "").split(",") if e.strip()))

    def allows(self, task_definition: str) -> bool:
        """An ARN entry allows itself; a family entry allows "family" and "family:REVISION"."""
        if task_definition in self.entries:
            return True
        family, colon, revision = task_definition.partition(":")
        return bool(colon) and revision.isdigit() and family in self.entries


def _whole_number(data: Mapping[str, Any], key: str, example: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOverrides(f"'{key}' must be a whole number, e.g. {example}; got {value!r}")
    return value


def _command(data: Mapping[str, Any]) -> tuple[str, ...] | None:
    value = data.get(COMMAND)
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(a, str) for a in value):
        raise InvalidOverrides(
            f'\'{COMMAND}\' must be a non-empty list of strings, e.g. ["python", "-m", "worker"]; '
            "leave it out to keep the task definition's"
        )
    return tuple(value)


def _environment(data: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    value = data.get(ENVIRONMENT)
    if value is None:
        return ()
    if not isinstance(value, Mapping) or not all(isinstance(x, str) for x in (*value, *value.values())):
        raise InvalidOverrides(
            f'\'{ENVIRONMENT}\' must be an object of names to string values, e.g. {{"LOG_LEVEL": "debug"}}'
        )
    return tuple(value.items())


def _refuse_unknown_keys(data: Mapping[str, Any]) -> None:
    for key in data:
        if "role" in str(key).lower():
            raise InvalidOverrides(ROLE_REFUSED.format(key=key))
        if key not in FIELDS:
            raise InvalidOverrides(f"unknown override '{key}': a job may set only {', '.join(FIELDS)}")


@dataclass(frozen=True)
class RunTaskOverrides:
    """What the overrides change in a RunTask request: its `overrides`, and its `taskDefinition`
    when the job chose one (None: the deployment's own)."""

    overrides: dict[str, Any]
    task_definition: str | None = None


@dataclass(frozen=True)
class TaskOverrides:
    """A job's overrides of its task, valid by construction (every rule but the allow-list and the
    size of the whole, which need the deployment and the job: ``check``)."""

    cpu: int | None = None  # CPU units, with memory: a pair of FARGATE_TASK_SIZES
    memory: int | None = None  # MiB
    command: tuple[str, ...] | None = None  # None: the task definition's
    environment: tuple[tuple[str, str], ...] = ()  # added to the orchestrator's own variables
    ephemeral_storage_gib: int | None = None  # None: Fargate's default (20 GiB)
    task_definition: str | None = None  # None: the deployment's own; else from the allow-list

    def __post_init__(self) -> None:
        self._check_size()
        if self.ephemeral_storage_gib is not None and not (
            EPHEMERAL_STORAGE_MIN_GIB <= self.ephemeral_storage_gib <= EPHEMERAL_STORAGE_MAX_GIB
        ):
            raise InvalidOverrides(
                f"'{EPHEMERAL_STORAGE_GIB}' must be from {EPHEMERAL_STORAGE_MIN_GIB} to "
                f"{EPHEMERAL_STORAGE_MAX_GIB} GiB (Fargate's range); leave it out for the default 20 GiB; "
                f"got {self.ephemeral_storage_gib}"
            )
        if self.command is not None and not self.command:
            raise InvalidOverrides(
                f"'{COMMAND}' must not be empty; leave it out to keep the task definition's"
            )
        for name, _ in self.environment:
            _check_env_name(name)
        names = [name for name, _ in self.environment]
        if len(set(names)) != len(names):
            raise InvalidOverrides("each environment variable may be set once")
        if self.task_definition is not None and not self.task_definition:
            raise InvalidOverrides(
                f"'{TASK_DEFINITION}' must not be empty; leave it out for the deployment's own"
            )

    def _check_size(self) -> None:
        if (self.cpu is None) != (self.memory is None):
            raise InvalidOverrides(
                "set cpu and memory together: Fargate runs only the pairs of its table (e.g. cpu 1024 "
                "with memory 2048 to 8192 MiB), and the task definition's other value may not fit"
            )
        if self.cpu is not None and self.memory is not None:
            check_task_size(self.cpu, self.memory)

    @classmethod
    def from_dict(cls, data: object) -> TaskOverrides:
        """The overrides of a job's request, refused with a message that says what to change."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidOverrides(f"overrides must be an object with some of: {', '.join(FIELDS)}")
        _refuse_unknown_keys(data)
        task_definition = data.get(TASK_DEFINITION)
        if task_definition is not None and not isinstance(task_definition, str):
            raise InvalidOverrides(f"'{TASK_DEFINITION}' must be a task definition family or ARN")
        return cls(
            cpu=_whole_number(data, CPU, "1024 (1 vCPU)"),
            memory=_whole_number(data, MEMORY, "2048 (MiB)"),
            command=_command(data),
            environment=_environment(data),
            ephemeral_storage_gib=_whole_number(data, EPHEMERAL_STORAGE_GIB, "50 (GiB)"),
            task_definition=task_definition,
        )

    def to_dict(self) -> dict[str, Any]:
        """The job-facing document (what from_dict reads); fields left out are not written."""
        out: dict[str, Any] = {
            CPU: self.cpu,
            MEMORY: self.memory,
            COMMAND: list(self.command) if self.command is not None else None,
            ENVIRONMENT: dict(self.environment) or None,
            EPHEMERAL_STORAGE_GIB: self.ephemeral_storage_gib,
            TASK_DEFINITION: self.task_definition,
        }
        return {k: v for k, v in out.items() if v is not None}

    def check(
        self,
        allowed: TaskDefinitionAllowList,
        *,
        job_json: str,
        result_uri: str,
        task_env: Mapping[str, str] | None = None,
    ) -> None:
        """The rules that need the deployment and the job, checked before any task starts: the
        task definition is on the allow-list, and the overrides fit ECS's 8,192 characters with the
        longest callback id the Lambda API can give (names.CALLBACK_ID_MAX), so they still fit
        with the real one (and with `task_env`, the longest the task's own variables get)."""
        if self.task_definition is not None and not allowed.allows(self.task_definition):
            listed = ", ".join(allowed.entries) or "none"
            raise InvalidOverrides(
                f"task definition '{self.task_definition}' is not allowed here (allowed: {listed}); "
                f"choose one of those, or have the deployment add it to {ALLOWED_TASK_DEFINITIONS_ENV}"
            )
        self.to_run_task(
            callback_id="A" * CALLBACK_ID_MAX, job_json=job_json, result_uri=result_uri, task_env=task_env
        )

    def to_run_task(
        self,
        *,
        callback_id: str,
        job_json: str,
        result_uri: str,
        task_env: Mapping[str, str] | None = None,
        container_name: str = WORKER_CONTAINER_NAME,
    ) -> RunTaskOverrides:
        """RunTask's `overrides` (botocore ECS model, TaskOverride) with the orchestrator's own
        variables first, then `task_env` (what the task knows of itself: its attempt, its index in a
        fan-out), then the job's; and the chosen `taskDefinition`. Raises InvalidOverrides past
        8,192 chars."""
        environment = [
            {"name": CALLBACK_ID_ENV, "value": callback_id},
            {"name": JOB_INPUT_ENV, "value": job_json},
            {"name": RESULT_URI_ENV, "value": result_uri},
            *({"name": name, "value": value} for name, value in (task_env or {}).items()),
            *({"name": name, "value": value} for name, value in self.environment),
        ]
        # ContainerOverride: "name" is "required if any override is specified"; command is a
        # StringList, environment a list of KeyValuePair.
        container: dict[str, Any] = {"name": container_name, "environment": environment}
        if self.command is not None:
            container["command"] = list(self.command)
        overrides: dict[str, Any] = {"containerOverrides": [container]}
        if self.cpu is not None and self.memory is not None:
            # TaskOverride.cpu and .memory are Strings; ContainerOverride.memory a BoxedInteger. The
            # worker's container definition sets its own hard memory limit (template.yaml, Memory:
            # WorkerMemory), which a task-level override alone leaves in place (dagster-io/dagster
            # #6836): the container gets the task's memory too.
            overrides["cpu"], overrides["memory"] = str(self.cpu), str(self.memory)
            container["memory"] = self.memory
        if self.ephemeral_storage_gib is not None:
            overrides["ephemeralStorage"] = {"sizeInGiB": self.ephemeral_storage_gib}  # EphemeralStorage
        try:
            check_overrides(overrides)
        except LimitExceeded as e:
            raise InvalidOverrides(
                f"{e} The {OVERRIDES_MAX_CHARS} chars hold the callback id (up to {CALLBACK_ID_MAX}), "
                "the job input, the result URI, the command and the environment: shorten the command "
                "or the environment too."
            ) from e
        return RunTaskOverrides(overrides, self.task_definition)


def _check_env_name(name: str) -> None:
    if not name:
        raise InvalidOverrides("environment variable names must not be empty")
    if "=" in name:
        raise InvalidOverrides(f"environment variable name {name!r} must not contain '='")
    if name in RESERVED_ENV:
        raise InvalidOverrides(
            f"environment variable {name} is set by the orchestrator ({RESERVED_ENV[name]}); "
            "choose another name"
        )
    if name in ECS_SET_ENV:
        raise InvalidOverrides(
            f"environment variable {name} is set by Amazon ECS in every task; choose another name"
        )
