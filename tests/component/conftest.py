"""An orchestrator under the SDK's in-process durable runner, with ECS and S3 served by moto and its
tasks' STOPPED events relayed by the real relay (testkit/moto_relay.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from moto import mock_aws

from local.ecs_rules import EcsRules
from testkit.moto_relay import MotoEcsRelay, World
from testkit.moto_world import BUCKET


@pytest.fixture
def task_timeout() -> int:
    return 30


@pytest.fixture
def ecs_rules() -> bool | EcsRules:
    """The local cloud's ECS rules in front of moto: AWS's (True), or a test's own (e.g. a tiny rate)."""
    return True


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, task_timeout: int, ecs_rules: bool | EcsRules) -> Iterator[World]:
    with mock_aws():
        aws = MotoEcsRelay.create(BUCKET, ecs_rules=ecs_rules)
        for name, value in aws.environment(task_timeout).items():
            monkeypatch.setenv(name, value)
        with DurableFunctionTestRunner(handler=aws.orchestrator_handler(), poll_interval=0.02) as runner:
            yield World.around(aws, runner)
