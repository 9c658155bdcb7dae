"""`--target aws --stack NAME` up to the AWS boundary: a stack found by name in CloudFormation, its
outputs read, and the scenario set run through boto3's default configuration. The local cloud
stands in for AWS: CloudFormation/ECS/Logs are its moto, Lambda is its Lambda endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from typing import Any

import boto3
import pytest

from local.cli import start
from local.scenarios import SCENARIOS
from testkit.local_cloud import Cloud
from testkit.paths import ROOT

pytestmark = pytest.mark.flow


def aws_env(cloud: Cloud) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": cloud.state["region"],
        "AWS_ENDPOINT_URL": cloud.state["moto"],
        "AWS_ENDPOINT_URL_LAMBDA": cloud.state["lambda"],
    }


def deploy_stand_in_stack(cloud: Cloud, name: str, outputs: dict[str, str]) -> None:
    """A stack in (moto's) CloudFormation whose outputs are the local cloud's."""
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client(
        "cloudformation", endpoint_url=cloud.state["moto"], region_name=cloud.state["region"]
    ).create_stack(StackName=name, TemplateBody=json.dumps(template))


def run(cloud: Cloud, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local", *args],
        cwd=ROOT,
        env=aws_env(cloud),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_scenarios_run_on_a_stack_found_by_its_outputs(cloud: Cloud) -> None:
    deploy_stand_in_stack(cloud, "durable-ecs", cloud.state["outputs"])
    done = run(cloud, "scenarios", "--target", "aws", "--stack", "durable-ecs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(SCENARIOS)} scenario(s) on aws:durable-ecs" in done.stdout  # every payload of events/invoke
    assert "task STOPPED, exit code 1" in done.stdout  # read from DescribeTasks, not the local journal
    assert "worker    processing 'Hello from durable ECS'" in done.stdout  # from CloudWatch Logs
    assert "relay invoked" not in done.stdout  # the local delivery record is not used for AWS


def test_a_missing_stack_is_a_clear_error(cloud: Cloud) -> None:
    done = run(cloud, "scenarios", "--target", "aws", "--stack", "no-such-stack")
    assert done.returncode == 2
    assert "stack 'no-such-stack'" in done.stderr and "Traceback" not in done.stderr


def test_a_stack_without_our_outputs_is_a_clear_error(cloud: Cloud) -> None:
    deploy_stand_in_stack(cloud, "someone-elses", {"Unrelated": "x"})
    done = run(cloud, "invoke", "events/invoke/success.json", "--target", "aws", "--stack", "someone-elses")
    assert done.returncode == 2
    assert "has no output OrchestratorAliasArn" in done.stderr


def test_aws_target_needs_a_stack_name(cloud: Cloud) -> None:
    done = run(cloud, "scenarios", "--target", "aws")
    assert done.returncode == 2 and "--target aws needs --stack NAME" in done.stderr


class WithoutArnInInvokeAnswer:
    """A Lambda client whose Invoke answer lacks DurableExecutionArn (all else passes through)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        answer = dict(self.client.invoke(**kwargs))
        answer.pop("DurableExecutionArn")
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_an_invoke_answer_without_the_execution_arn_is_resolved_by_the_execution_name(cloud: Cloud) -> None:
    target = replace(cloud.target, lambda_client=WithoutArnInInvokeAnswer(cloud.target.lambda_client))
    arn = start(target, b'{"message": "found by name", "processingTime": 0}', name="found-by-name")
    execution = cloud.wait(arn)
    assert execution["DurableExecutionName"] == "found-by-name"
    assert execution["Status"] == "SUCCEEDED"
