"""The orchestrator's configuration: one typed object, read from the environment at handler entry."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ecs_contract.demo_job import JOB_CHOICE_ENV, JobChoice
from ecs_contract.names import (
    DEFAULT_RESULTS_PREFIX,
    DEFAULT_STARTED_BY_MARKER,
    normalize_results_prefix,
    validate_marker,
)


class ConfigError(ValueError):
    """The function's environment is incomplete or invalid (a deployment mistake)."""


@dataclass(frozen=True)
class OrchestratorConfig:
    cluster_arn: str
    task_definition: str  # family (latest ACTIVE revision) or full ARN
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    results_bucket: str
    results_prefix: str = DEFAULT_RESULTS_PREFIX
    assign_public_ip: str = "ENABLED"
    task_timeout_seconds: int = 3600
    started_by_marker: str = DEFAULT_STARTED_BY_MARKER
    max_attempts: int = 3  # tasks started per execution, for retryable outcomes
    retry_delay_seconds: int = 30  # first backoff; doubles per attempt (with jitter) up to the max
    retry_max_delay_seconds: int = 300
    job_choice: JobChoice = JobChoice.SLOT  # whose input rules apply (the local cloud: the demo job's)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OrchestratorConfig:
        env = os.environ if env is None else env
        missing = [name for name in _REQUIRED if not env.get(name)]
        if missing:
            raise ConfigError(f"missing environment variables: {', '.join(missing)}")
        assign_public_ip = env.get("ASSIGN_PUBLIC_IP", "ENABLED")
        if assign_public_ip not in ("ENABLED", "DISABLED"):
            raise ConfigError(f"ASSIGN_PUBLIC_IP must be ENABLED or DISABLED, got {assign_public_ip!r}")
        timeout = _int(env, "TASK_TIMEOUT_SECONDS", 3600, minimum=1)
        max_attempts = _int(env, "MAX_ATTEMPTS", 3, minimum=1)
        retry_delay = _int(env, "RETRY_DELAY_SECONDS", 30, minimum=1)
        retry_max_delay = _int(env, "RETRY_MAX_DELAY_SECONDS", 300, minimum=retry_delay)
        try:
            marker = validate_marker(env.get("STARTED_BY_MARKER", DEFAULT_STARTED_BY_MARKER))
        except ValueError as e:
            raise ConfigError(str(e)) from e
        try:
            job_choice = JobChoice.parse(env.get(JOB_CHOICE_ENV))
        except ValueError as e:
            raise ConfigError(str(e)) from e
        return cls(
            cluster_arn=env["CLUSTER_ARN"],
            task_definition=env["TASK_DEFINITION"],
            subnets=_csv(env["SUBNETS"]),
            security_groups=_csv(env.get("SECURITY_GROUPS", "")),
            results_bucket=env["RESULTS_BUCKET"],
            results_prefix=normalize_results_prefix(env.get("RESULTS_PREFIX", DEFAULT_RESULTS_PREFIX)),
            assign_public_ip=assign_public_ip,
            task_timeout_seconds=timeout,
            started_by_marker=marker,
            max_attempts=max_attempts,
            retry_delay_seconds=retry_delay,
            retry_max_delay_seconds=retry_max_delay,
            job_choice=job_choice,
        )


_REQUIRED = ("CLUSTER_ARN", "TASK_DEFINITION", "SUBNETS", "RESULTS_BUCKET")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    try:
        value = int(env.get(name, str(default)))
    except ValueError as e:
        raise ConfigError(f"{name} must be an integer") from e
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value
