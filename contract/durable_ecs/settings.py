"""Where and how `run_task` runs a task: one typed object, read from the function's environment.

The variables are the ones template.yaml sets on every durable function that runs tasks (the
template's parameters hold the only defaults), so no value here can drift from what is deployed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from ecs_contract.logs import LOG_TAIL_LINES_ENV, WORKER_LOG_GROUP_ENV, parse_tail_lines
from ecs_contract.names import validate_marker
from ecs_contract.overrides import ALLOWED_TASK_DEFINITIONS_ENV, TaskDefinitionAllowList
from ecs_contract.retry_rules import RETRY_RULES_ENV, InvalidRetryRules, RetryRules
from ecs_contract.task_size import MAX_MEMORY_MIB, MIN_MEMORY_MIB, MemoryRetry

MEMORY_RETRY_FACTOR_ENV, MEMORY_RETRY_MAX_MIB_ENV = "MEMORY_RETRY_FACTOR", "MEMORY_RETRY_MAX_MIB"
# A factor above this is a typo more likely than a plan (Fargate's smallest task to its largest is 240x).
MEMORY_RETRY_MAX_FACTOR = Decimal(8)


class ConfigError(ValueError):
    """The function's environment is incomplete or invalid (a deployment mistake)."""


class CapacityStrategy(StrEnum):
    """Where tasks run (template parameter Capacity, variable CAPACITY)."""

    # Fargate Spot first; on-demand Fargate for the attempts after a Spot interruption, or when
    # Spot has no capacity at start (durable_ecs.attempts).
    SPOT_WITH_FALLBACK = "SpotWithFallback"
    ON_DEMAND = "OnDemand"  # on-demand Fargate only


@dataclass(frozen=True)
class EcsSettings:
    cluster_arn: str
    task_definition: str  # the revision's ARN (the template's Ref), or a family: its latest ACTIVE one
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    results_bucket: str
    assign_public_ip: str
    task_timeout_seconds: int
    started_by_marker: str
    max_attempts: int  # tasks started per run_task, for retryable outcomes
    retry_delay_seconds: int  # first backoff; doubles per attempt (with jitter) up to the max
    retry_max_delay_seconds: int
    # The task definitions a job's overrides may choose (families or ARNs): the template lists
    # them, and IAM must let the function run each (template.yaml, RunWorkerTasks).
    allowed_task_definitions: TaskDefinitionAllowList
    capacity: CapacityStrategy
    # A task not RUNNING this long after its start is stopped, a retryable TaskFailedToStart; 0: off.
    start_timeout_seconds: int
    # A running task whose worker reports no progress this long is stopped, a TaskHung; 0: off. The
    # task's completion callback gets it as its heartbeat timeout (the relay heartbeats on progress).
    liveness_timeout_seconds: int
    retry_rules: RetryRules  # the user's RETRY/EXIT rules, before the built-in classification
    memory_retry: MemoryRetry  # the next attempt's size after an OutOfMemory
    # The workers' CloudWatch Logs group (template: WorkerLogGroup): a failed task's last lines, and
    # a hung task's last progress line, are read there.
    worker_log_group: str
    # A failed task's last log lines the reconcile step reads into its failure; 0: none.
    log_tail_lines: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EcsSettings:
        return cls(**read_settings(os.environ if env is None else env, REQUIRED))


# Every variable template.yaml sets (SECURITY_GROUPS may be empty): a missing one is a deployment
# mistake, named at handler entry, never papered over by a default of the code's own.
REQUIRED = (
    "CLUSTER_ARN",
    "TASK_DEFINITION",
    "SUBNETS",
    "RESULTS_BUCKET",
    "ASSIGN_PUBLIC_IP",
    "TASK_TIMEOUT_SECONDS",
    "MAX_ATTEMPTS",
    "RETRY_DELAY_SECONDS",
    "RETRY_MAX_DELAY_SECONDS",
    "STARTED_BY_MARKER",
    ALLOWED_TASK_DEFINITIONS_ENV,
    "CAPACITY",
    "START_TIMEOUT_SECONDS",
    "LIVENESS_TIMEOUT_SECONDS",
    RETRY_RULES_ENV,
    MEMORY_RETRY_FACTOR_ENV,
    MEMORY_RETRY_MAX_MIB_ENV,
    WORKER_LOG_GROUP_ENV,
    LOG_TAIL_LINES_ENV,
)


def read_settings(env: Mapping[str, str], required: tuple[str, ...]) -> dict[str, Any]:
    """EcsSettings' fields from `env`, once every one of `required` is set (a function that needs
    more variables names them all in one message)."""
    missing = [name for name in required if not env.get(name)]
    if missing:
        raise ConfigError(f"missing environment variables: {', '.join(missing)}")
    assign_public_ip = env["ASSIGN_PUBLIC_IP"]
    if assign_public_ip not in ("ENABLED", "DISABLED"):
        raise ConfigError(f"ASSIGN_PUBLIC_IP must be ENABLED or DISABLED, got {assign_public_ip!r}")
    timeout = _int(env, "TASK_TIMEOUT_SECONDS", minimum=1)
    max_attempts = _int(env, "MAX_ATTEMPTS", minimum=1)
    retry_delay = _int(env, "RETRY_DELAY_SECONDS", minimum=1)
    retry_max_delay = _int(env, "RETRY_MAX_DELAY_SECONDS", minimum=retry_delay)
    try:
        marker = validate_marker(env["STARTED_BY_MARKER"])
        tail_lines = parse_tail_lines(env[LOG_TAIL_LINES_ENV])
    except ValueError as e:
        raise ConfigError(str(e)) from e
    capacity = _choice(env, "CAPACITY", CapacityStrategy)
    try:
        retry_rules = RetryRules.parse(env[RETRY_RULES_ENV])
    except InvalidRetryRules as e:
        raise ConfigError(str(e)) from e
    memory_retry = MemoryRetry(
        _factor(env, MEMORY_RETRY_FACTOR_ENV),
        _int(env, MEMORY_RETRY_MAX_MIB_ENV, minimum=MIN_MEMORY_MIB, maximum=MAX_MEMORY_MIB),
    )
    return {
        "cluster_arn": env["CLUSTER_ARN"],
        "task_definition": env["TASK_DEFINITION"],
        "subnets": _csv(env["SUBNETS"]),
        "security_groups": _csv(env.get("SECURITY_GROUPS", "")),
        "results_bucket": env["RESULTS_BUCKET"],
        "assign_public_ip": assign_public_ip,
        "task_timeout_seconds": timeout,
        "started_by_marker": marker,
        "max_attempts": max_attempts,
        "retry_delay_seconds": retry_delay,
        "retry_max_delay_seconds": retry_max_delay,
        "allowed_task_definitions": TaskDefinitionAllowList.parse(env[ALLOWED_TASK_DEFINITIONS_ENV]),
        "capacity": capacity,
        "start_timeout_seconds": _int(env, "START_TIMEOUT_SECONDS", minimum=0),
        "liveness_timeout_seconds": _int(env, "LIVENESS_TIMEOUT_SECONDS", minimum=0),
        "retry_rules": retry_rules,
        "memory_retry": memory_retry,
        "worker_log_group": env[WORKER_LOG_GROUP_ENV],
        "log_tail_lines": tail_lines,
    }


_E = TypeVar("_E", bound=StrEnum)


def _choice(env: Mapping[str, str], name: str, choices: type[_E]) -> _E:
    try:
        return choices(env[name])
    except ValueError:
        allowed = " or ".join(c.value for c in choices)
        raise ConfigError(f"{name} must be {allowed}, got {env[name]!r}") from None


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _int(env: Mapping[str, str], name: str, minimum: int, maximum: int | None = None) -> int:
    try:
        value = int(env[name])
    except ValueError as e:
        raise ConfigError(f"{name} must be an integer") from e
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}")
    return value


def _factor(env: Mapping[str, str], name: str) -> Decimal:
    """A decimal from 1 to MEMORY_RETRY_MAX_FACTOR (CloudFormation's Number: "1.5" as well as "2")."""
    try:
        value = Decimal(env[name])
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not 1 <= value <= MEMORY_RETRY_MAX_FACTOR:
        raise ConfigError(
            f"{name} must be a number from 1 (an OutOfMemory is final) to {MEMORY_RETRY_MAX_FACTOR}, "
            f"e.g. 2 (twice the memory); got {env[name]!r}"
        )
    return value
