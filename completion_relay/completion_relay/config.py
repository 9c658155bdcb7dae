"""The relay's configuration: one typed object, read from the environment at handler entry."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ecs_contract.completion import owns_result
from ecs_contract.logs import LOG_TAIL_LINES_ENV, WORKER_LOG_GROUP_ENV, parse_tail_lines
from ecs_contract.names import validate_marker


class ConfigError(ValueError):
    """The function's environment is incomplete or invalid (a deployment mistake)."""


@dataclass(frozen=True)
class RelayConfig:
    """Every setting is read from the function's environment, which template.yaml sets (the only
    place a deployed default lives)."""

    cluster_arn: str
    results_bucket: str
    # Unqualified ARNs of the stack's durable functions that run tasks (durable_ecs.run_task): only
    # their executions' tasks are ever stopped.
    durable_function_arns: tuple[str, ...]
    started_by_marker: str
    worker_log_group: str  # the workers' CloudWatch Logs group (template: WorkerLogGroup)
    log_tail_lines: int  # a failed task's last log lines to read into its failure; 0: none

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RelayConfig:
        env = os.environ if env is None else env
        missing = [name for name in _REQUIRED if not env.get(name)]
        if missing:
            raise ConfigError(f"missing environment variables: {', '.join(missing)}")
        try:
            marker = validate_marker(env["STARTED_BY_MARKER"])
            tail_lines = parse_tail_lines(env[LOG_TAIL_LINES_ENV])
        except ValueError as e:
            raise ConfigError(str(e)) from e
        return cls(
            cluster_arn=env["CLUSTER_ARN"],
            results_bucket=env["RESULTS_BUCKET"],
            durable_function_arns=tuple(
                a.strip() for a in env["DURABLE_FUNCTION_ARNS"].split(",") if a.strip()
            ),
            started_by_marker=marker,
            worker_log_group=env[WORKER_LOG_GROUP_ENV],
            log_tail_lines=tail_lines,
        )

    def is_durable_function(self, function_arn: str) -> bool:
        """One of the stack's durable functions, or any version or alias of one."""
        return any(
            ours and (function_arn == ours or function_arn.startswith(f"{ours}:"))
            for ours in self.durable_function_arns
        )

    def owns_result(self, uri: str) -> bool:
        return owns_result(uri, self.results_bucket)


_REQUIRED = (
    "CLUSTER_ARN",
    "RESULTS_BUCKET",
    "DURABLE_FUNCTION_ARNS",
    "STARTED_BY_MARKER",
    WORKER_LOG_GROUP_ENV,
    LOG_TAIL_LINES_ENV,
)
