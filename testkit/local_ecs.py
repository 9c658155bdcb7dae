"""moto's ECS in server mode, seeded from template.yaml, as the local cloud's task agent sees it."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from moto.moto_api import state_manager
from moto.server import ThreadedMotoServer

from local.agent import TaskAgent, worker_base_env
from local.seed import ACCOUNT, REGION, client, seed
from local.template import Template


class Clock:
    """The local ECS rules' clock: real time plus whatever a test skips ahead; `frozen`, the time it
    was made plus whatever is skipped (a rate limit refills as real time passes between calls)."""

    def __init__(self, *, frozen: bool = False) -> None:
        self.skipped = timedelta()
        self._frozen_at = datetime.now(UTC) if frozen else None

    def __call__(self) -> datetime:
        return (self._frozen_at or datetime.now(UTC)) + self.skipped

    def skip(self, delta: timedelta) -> None:
        self.skipped += delta


@dataclass
class LocalEcs:
    url: str
    template: Template
    state_dir: Path

    @property
    def cluster(self) -> str:
        return str(self.template.r.names.refs["Cluster.Arn"])

    def client(self, service: str) -> Any:
        # One attempt: a 500 from moto must show as the error it is, not as four retries.
        return client(service, self.url, retries={"max_attempts": 1})

    def agent(self, **kwargs: Any) -> TaskAgent:
        args: dict[str, Any] = {
            "cluster_arn": self.cluster,
            "task_definition": self.template.task_definition("WorkerTaskDefinition"),
            "clients": self.client,
            "publish": lambda event: 0,
            "worker_env": worker_base_env(self.url, REGION),
            "state_dir": self.state_dir,
            "account": ACCOUNT,
            "region": REGION,
            **kwargs,
        }
        return TaskAgent(**args)

    def run_task_request(self, **changes: Any) -> dict[str, Any]:
        """RunTask's arguments as the orchestrator sends them (ecs_tasks.run_task), with changes."""
        env = self.template.functions()["Orchestrator"].environment
        request: dict[str, Any] = {
            "cluster": self.cluster,
            "taskDefinition": env["TASK_DEFINITION"],
            "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
            "count": 1,
            "startedBy": "durable-ecs/0123456789abcdef",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": env["SUBNETS"].split(","),
                    "securityGroups": [env["SECURITY_GROUPS"]],
                    "assignPublicIp": "ENABLED",
                }
            },
        }
        request.update(changes)
        return {k: v for k, v in request.items() if v is not None}


@contextmanager
def local_ecs(state_dir: Path) -> Iterator[LocalEcs]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    state_manager.set_transition("ecs::task", {"progression": "manual", "times": sys.maxsize})
    try:
        yield LocalEcs(url, seed(lambda s: client(s, url), "agent-test"), state_dir)
    finally:
        # moto's backends are process-global: the next test starts from an empty account, and
        # without the rules and hooks this one installed on the ECS backend.
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10)
        state_manager.unset_transition("ecs::task")
        server.stop()
