"""The local cloud's roles are the ones a deploy creates: local/iam.py's reading of template.yaml
against the SAM translator's own output, and the AWS managed policies it attaches."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local.iam import LAMBDA_BASIC_DURABLE, managed_policy, role_documents
from local.template import load
from testkit.paths import ROOT

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"


@pytest.fixture(scope="module")
def sam_roles() -> dict[str, Any]:
    """The AWS::IAM::Role resources of template.yaml after the SAM transform."""
    assert SAM_PYTHON.exists(), "run `make test`: it installs the SAM CLI into .venv-sam"
    done = subprocess.run(
        [str(SAM_PYTHON), str(Path(__file__).with_name("sam_translate.py")), str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        check=True,
    )
    resources = json.loads(done.stdout)["Resources"]
    return {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::IAM::Role"}


def test_the_local_cloud_gives_each_role_exactly_what_sam_gives_it(sam_roles: dict[str, Any]) -> None:
    local = role_documents(load())
    assert sorted(local) == sorted(sam_roles)
    for name, role in local.items():
        sam = sam_roles[name]
        assert list(role.managed_policy_arns) == sam.get("ManagedPolicyArns", []), name
        assert [{"PolicyName": n, "PolicyDocument": d} for n, d in role.inline_policies] == sam.get(
            "Policies", []
        ), name


def test_every_managed_policy_the_roles_get_is_known_to_the_local_cloud(sam_roles: dict[str, Any]) -> None:
    for role in sam_roles.values():
        for arn in role.get("ManagedPolicyArns", []):
            text = arn if isinstance(arn, str) else arn["Fn::Sub"].replace("${AWS::Partition}", "aws")
            assert managed_policy(text)["Statement"], text


def test_the_durable_execution_policy_is_the_published_one() -> None:
    """AWS managed policy reference, AWSLambdaBasicDurableExecutionRolePolicy v3 (2026-02-12)."""
    (statement,) = managed_policy(LAMBDA_BASIC_DURABLE)["Statement"]
    assert statement["Effect"] == "Allow" and statement["Resource"] == "*"
    assert set(statement["Action"]) == {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "lambda:CheckpointDurableExecution",
        "lambda:GetDurableExecutionState",
    }
