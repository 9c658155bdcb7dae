"""Shared fixtures: sample events from events/, and AWS credentials that can never reach AWS."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
T = TypeVar("T")


@dataclass(frozen=True)
class MotoCluster:
    arn: str
    subnet: str
    security_group: str

    def network(self) -> dict[str, Any]:
        return {"awsvpcConfiguration": {"subnets": [self.subnet], "securityGroups": [self.security_group]}}


def moto_worker_cluster(name: str) -> MotoCluster:
    """Inside mock_aws: a cluster and a Fargate "worker" task definition shaped like template.yaml's."""
    ecs, ec2 = boto3.client("ecs"), boto3.client("ec2")
    arn = ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]
    ecs.register_task_definition(
        family="worker",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "worker", "image": "worker:latest", "memory": 512}],
    )
    return MotoCluster(
        arn=arn,
        subnet=ec2.describe_subnets()["Subnets"][0]["SubnetId"],
        security_group=ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"],
    )


def poll(
    probe: Callable[[], T | None], timeout: float = 10.0, what: str = "condition", interval: float = 0.02
) -> T:
    """Return probe()'s first truthy value; fail after `timeout` seconds (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def load_event(name: str) -> Any:
    """Load events/<name>.json, e.g. load_event("ecs/stopped-success")."""
    return json.loads((EVENTS / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets fake credentials and a region; nothing may talk to a real account."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "DurableEcsTasksTest")
