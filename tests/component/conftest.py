"""An orchestrator under the SDK's in-process durable runner, with ECS and S3 served by moto and its
tasks' STOPPED events relayed by the real relay (testkit/moto_relay.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.ecs_rules import EcsRules
from testkit.moto_relay import MotoEcsRelay, World


@pytest.fixture
def task_timeout() -> int:
    return 30


@pytest.fixture
def ecs_rules() -> bool | EcsRules:
    """The local cloud's ECS rules in front of moto: AWS's (True), or a test's own (e.g. a tiny rate)."""
    return True


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, task_timeout: int, ecs_rules: bool | EcsRules) -> Iterator[World]:
    with World.serving(
        monkeypatch.setenv, MotoEcsRelay.orchestrator_handler, task_timeout=task_timeout, ecs_rules=ecs_rules
    ) as world:
        yield world
