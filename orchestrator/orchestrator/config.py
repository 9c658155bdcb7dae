"""The orchestrator's configuration: the library's EcsSettings and the job it checks, read from the
environment at handler entry."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from durable_ecs.settings import REQUIRED, ConfigError, EcsSettings, read_settings
from ecs_contract.demo_job import JOB_CHOICE_ENV, JobChoice

__all__ = ["ConfigError", "OrchestratorConfig"]


@dataclass(frozen=True)
class OrchestratorConfig(EcsSettings):
    """Every setting is read from the function's environment, which template.yaml sets: the template's
    parameters hold the only defaults, so no value here can drift from what is deployed."""

    job_choice: JobChoice  # whose input rules apply (the local cloud: the demo job's)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OrchestratorConfig:
        env = os.environ if env is None else env
        settings = read_settings(env, (*REQUIRED, JOB_CHOICE_ENV))
        try:
            job_choice = JobChoice.parse(env[JOB_CHOICE_ENV])
        except ValueError as e:
            raise ConfigError(str(e)) from e
        return cls(**settings, job_choice=job_choice)
