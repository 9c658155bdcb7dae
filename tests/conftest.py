"""Shared fixtures: sample events from events/, and AWS credentials that can never reach AWS."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends

from bench.moto_world import WorkerCluster, worker_cluster
from local.ecs_rules import EcsRules, install

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
T = TypeVar("T")


def moto_worker_cluster(name: str) -> WorkerCluster:
    """Inside mock_aws: a cluster and a Fargate "worker" task definition shaped like template.yaml's,
    with the local cloud's ECS rules in front of moto (local/ecs_rules.py; mock_aws's reset drops them)."""
    ecs = boto3.client("ecs")
    install(ecs_backends[DEFAULT_ACCOUNT_ID][ecs.meta.region_name], EcsRules(), threading.RLock())
    return worker_cluster(ecs, boto3.client("ec2"), name)


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
