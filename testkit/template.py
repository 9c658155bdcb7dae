"""template.yaml as the tests read it: the decoded template, its resources by type, and its IAM
statements and actions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import cache
from typing import Any

from cfnlint.decode import decode

from completion_relay.config import RelayConfig
from local.template import Names, Template, load
from orchestrator.config import OrchestratorConfig
from testkit.paths import ROOT


@cache
def template() -> dict[str, Any]:
    tpl, errors = decode(str(ROOT / "template.yaml"))
    assert not errors, errors
    return tpl


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == kind}


FUNCTIONS = resources("AWS::Serverless::Function")


def statements(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    props = resource["Properties"]
    for policy in props.get("Policies", []):
        document = policy.get("PolicyDocument", policy)
        if isinstance(document, Mapping) and "Statement" in document:
            yield from document["Statement"]


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return [value] if isinstance(value, str) else list(value)


# What Ref / GetAtt resolve to when a test reads the template as the local cloud would, without one.
NAMES = Names(
    stack="t",
    region="us-east-1",
    account="123456789012",
    refs={
        "Cluster.Arn": "arn:aws:ecs:us-east-1:123456789012:cluster/t",
        "Cluster": "t",
        "ResultsBucket": "bucket",
        "ResultsBucket.Arn": "arn:aws:s3:::bucket",
        "PublicSubnetA": "subnet-a",
        "PublicSubnetB": "subnet-b",
        "WorkerSecurityGroup": "sg-1",
        "DeadLetterQueue.Arn": "arn:aws:sqs:us-east-1:123456789012:dlq",
        "WorkerLogGroup": "/t/worker",
        "WorkerLogGroup.Arn": "arn:aws:logs:us-east-1:123456789012:log-group:/t/worker:*",
        "CompletionRelay.Arn": "arn:aws:lambda:us-east-1:123456789012:function:CompletionRelay",
        "WorkerRepository": "repo",
        "WorkerTaskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/t-worker:1",
        "Orchestrator.Arn": "arn:aws:lambda:us-east-1:123456789012:function:Orchestrator",
        "Pipeline.Arn": "arn:aws:lambda:us-east-1:123456789012:function:Pipeline",
    },
)


def template_environment(function: str, **changes: str) -> dict[str, str]:
    """The function's environment as template.yaml sets it (parameter defaults, the stand-in names
    above), with `changes`: tests configure the functions from the one source a deployment uses."""
    environment = dict(Template(NAMES, load()).functions()[function].environment)
    return {**environment, **changes}


def parameter_default(name: str) -> Any:
    """A template parameter's default value."""
    return template()["Parameters"][name]["Default"]


def relay_config(**changes: Any) -> RelayConfig:
    """The relay's configuration as template.yaml sets it, with `changes` to its fields."""
    return replace(RelayConfig.from_env(template_environment("CompletionRelay")), **changes)


def orchestrator_config(**changes: Any) -> OrchestratorConfig:
    """The orchestrator's configuration as template.yaml sets it, with `changes` to its fields."""
    return replace(OrchestratorConfig.from_env(template_environment("Orchestrator")), **changes)
