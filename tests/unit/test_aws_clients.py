"""The handlers' own gateways: the orchestrator builds a boto3 client only when a step first calls it."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from aws_adapters import clients
from completion_relay import handler as relay_handler
from orchestrator import handler as orchestrator_handler

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/workers"


def test_the_orchestrator_builds_each_client_on_its_first_call_and_only_once(monkeypatch):
    built: list[str] = []
    real = boto3.client

    def counted(name: str) -> Any:
        built.append(name)
        return real(name)

    monkeypatch.setattr(clients.boto3, "client", counted)

    # Given the gateways a new execution environment builds (not the cached ones of this process)
    gateways = orchestrator_handler.aws_gateways.__wrapped__()
    # Then an invocation that only replays, and so calls no AWS API, has built no client
    assert built == []

    # When a step calls ECS, twice
    with Stubber(gateways.tasks.ecs_client.built()) as ecs:
        ecs.add_response("describe_tasks", {"tasks": []})
        ecs.add_response("describe_tasks", {"tasks": []})
        assert gateways.tasks.describe(CLUSTER, "arn:t") is None
        assert gateways.tasks.describe(CLUSTER, "arn:t") is None

    # Then the ECS client was built once, and S3's still not
    assert built == ["ecs"]


def test_each_handler_builds_its_gateways_once_per_execution_environment():
    assert orchestrator_handler.aws_gateways() is orchestrator_handler.aws_gateways()
    assert relay_handler.aws_gateways() is relay_handler.aws_gateways()
