"""template.yaml as the tests read it: the decoded template, its resources by type, and its IAM
statements and actions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from cfnlint.decode import decode

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
