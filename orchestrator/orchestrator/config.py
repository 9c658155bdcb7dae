"""The orchestrator's configuration: one typed object, read from the environment at handler entry."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OrchestratorConfig:
        env = os.environ if env is None else env
        missing = [name for name in _REQUIRED if not env.get(name)]
        if missing:
            raise ConfigError(f"missing environment variables: {', '.join(missing)}")
        assign_public_ip = env.get("ASSIGN_PUBLIC_IP", "ENABLED")
        if assign_public_ip not in ("ENABLED", "DISABLED"):
            raise ConfigError(f"ASSIGN_PUBLIC_IP must be ENABLED or DISABLED, got {assign_public_ip!r}")
        try:
            timeout = int(env.get("TASK_TIMEOUT_SECONDS", "3600"))
        except ValueError as e:
            raise ConfigError("TASK_TIMEOUT_SECONDS must be an integer") from e
        if timeout < 1:
            raise ConfigError("TASK_TIMEOUT_SECONDS must be at least 1")
        try:
            marker = validate_marker(env.get("STARTED_BY_MARKER", DEFAULT_STARTED_BY_MARKER))
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
        )


_REQUIRED = ("CLUSTER_ARN", "TASK_DEFINITION", "SUBNETS", "RESULTS_BUCKET")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())
