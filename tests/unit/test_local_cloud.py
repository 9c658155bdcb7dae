"""The local cloud's template reading and CLI, without starting it."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from local import cli
from local.scenarios import SCENARIOS
from local.template import ROOT, Template, TemplateError, load
from testkit.template import NAMES


def test_functions_come_from_the_template_with_code_layer_and_environment():
    functions = Template(NAMES).functions()
    assert set(functions) == {"Orchestrator", "Pipeline", "CompletionRelay"}
    orchestrator = functions["Orchestrator"]
    assert orchestrator.handler == "orchestrator.handler.handler"
    assert orchestrator.code_uri == ROOT / "orchestrator"
    assert orchestrator.layers == (ROOT / "contract",)
    assert orchestrator.environment["SUBNETS"] == "subnet-a,subnet-b"  # !If CreateVpc, !Join
    # Ref of the task definition: its ARN with the revision
    assert orchestrator.environment["TASK_DEFINITION"] == NAMES.refs["WorkerTaskDefinition"]
    assert orchestrator.environment["CLUSTER_ARN"] == NAMES.refs["Cluster.Arn"]  # from Globals
    assert orchestrator.durable == {"ExecutionTimeout": 86400, "RetentionPeriodInDays": 14}
    pipeline = functions["Pipeline"]
    assert (pipeline.handler, pipeline.code_uri) == ("pipeline.handler.handler", ROOT / "pipeline")
    assert pipeline.layers == orchestrator.layers and pipeline.durable == orchestrator.durable
    relay = functions["CompletionRelay"]
    assert relay.durable is None
    assert relay.on_failure_arn == NAMES.refs["DeadLetterQueue.Arn"]
    task_stopped, execution_ended = relay.rules
    assert task_stopped.pattern["detail"]["clusterArn"] == [NAMES.refs["Cluster.Arn"]]
    assert task_stopped.pattern["detail"]["startedBy"] == [{"prefix": "durable-ecs/"}]
    orchestrator_arn, pipeline_arn = NAMES.refs["Orchestrator.Arn"], NAMES.refs["Pipeline.Arn"]
    assert execution_ended.pattern["detail"]["functionArn"] == [
        orchestrator_arn,
        {"prefix": f"{orchestrator_arn}:"},
        pipeline_arn,
        {"prefix": f"{pipeline_arn}:"},
    ]
    assert relay.environment["DURABLE_FUNCTION_ARNS"] == f"{orchestrator_arn},{pipeline_arn}"


def test_parameters_can_be_overridden_but_only_existing_ones():
    names = replace(NAMES, parameters={"TaskTimeoutSeconds": "5"})
    assert Template(names).functions()["Orchestrator"].environment["TASK_TIMEOUT_SECONDS"] == "5"
    with pytest.raises(TemplateError, match="no parameter TaskTimeout"):
        Template(replace(NAMES, parameters={"TaskTimeout": "5"}))


def test_a_value_the_local_cloud_does_not_have_is_named():
    names = replace(NAMES, refs={k: v for k, v in NAMES.refs.items() if k != "Cluster.Arn"})
    with pytest.raises(TemplateError, match=r"GetAtt Cluster\.Arn"):
        Template(names).functions()


def test_only_layers_of_this_template_can_run():
    doc = load()
    doc["Globals"]["Function"]["Layers"] = ["arn:aws:lambda:us-east-1:123:layer:other:1"]
    with pytest.raises(TemplateError, match="only layers of this template"):
        Template(NAMES, doc).functions()


def test_every_scenario_payload_exists_and_every_invoke_sample_has_a_scenario():
    assert {s.payload for s in SCENARIOS.values()} == set((ROOT / "events" / "invoke").glob("*.json"))


def test_scenario_check_names_the_difference():
    success = SCENARIOS["success"]
    assert success.check({"Status": "SUCCEEDED"}) is None
    failed = {"Status": "FAILED", "Error": {"ErrorType": "orchestrator.errors.WorkerFailed"}}
    assert SCENARIOS["worker-failure"].check(failed) is None
    assert success.check(failed) == "expected SUCCEEDED, got FAILED WorkerFailed"


@pytest.mark.parametrize(
    "command",
    [[], *([c] for c in cli.parser()._subparsers._group_actions[0].choices)],  # type: ignore[union-attr]
)
def test_every_command_has_help(command: list[str]):
    args = [sys.executable, "-m", "local", *command, "--help"]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "usage: python -m local" in done.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["invoke", "events/invoke/success.json"],
        ["fault", "drop-stopped", "--execution", "m"],
        ["durable-runner", "restart"],
        ["redrive"],
    ],
)
def test_commands_need_a_running_cloud_and_say_how_to_start_it(tmp_path: Path, command: list[str]):
    done = subprocess.run(
        [sys.executable, "-m", "local", "--state-dir", str(tmp_path), *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "not running" in done.stderr and "python -m local up" in done.stderr


def test_a_payload_that_is_not_json_is_refused_before_anything_starts(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(Exception, match="is not JSON"):
        cli._payload(bad)
    with pytest.raises(Exception, match="cannot read"):
        cli._payload(tmp_path / "missing.json")


def test_down_when_nothing_runs_is_fine(tmp_path: Path):
    assert cli.main(["--state-dir", str(tmp_path), "down"]) == 0


@pytest.mark.parametrize(
    ("parameters", "refused_by"),
    [
        ({"SubnetIds": "subnet-1,subnet-2"}, "SubnetsNeedASecurityGroupOrTheirVpc"),
        ({"AssignPublicIp": "DISABLED"}, "CreatedVpcNeedsPublicIps"),
    ],
)
def test_parameter_combinations_that_cannot_work_are_refused_with_what_to_change(parameters, refused_by):
    """As CloudFormation does with the template's Rules, before anything is created."""
    with pytest.raises(TemplateError, match=refused_by) as refused:
        Template(replace(NAMES, parameters=parameters)).check_rules()
    assert "set " in str(refused.value)  # the description says what to change


@pytest.mark.parametrize(
    ("parameters", "refused_by"),
    [
        ({"MemoryRetryFactor": 0.5}, "MemoryRetryFactor=0.5: must be at least 1"),
        ({"MemoryRetryMaxMiB": "lots"}, "MemoryRetryMaxMiB=lots: must be a number"),
        ({"Capacity": "Spot"}, "Capacity=Spot: must be one of SpotWithFallback, OnDemand"),
        ({"StartedByMarker": "a b"}, "StartedByMarker=a b: must match pattern"),
        ({"WorkerImageUri": "repo:latest"}, "must be empty or name the image by its digest"),
        # CloudFormation cannot read JSON: `up` refuses a bad rule with the functions' own message.
        ({"RetryRules": '[{"onExitCode": "1"}]'}, 'RetryRules refused: RETRY_RULES rule 1 needs "action"'),
        ({"RetryRules": "retry on 137"}, "RetryRules refused: RETRY_RULES is not JSON"),
    ],
)
def test_a_parameter_outside_its_constraints_is_refused_as_cloudformation_does(parameters, refused_by):
    with pytest.raises(TemplateError, match=re.escape(refused_by)):
        Template(replace(NAMES, parameters=parameters)).check_rules()


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {"RetryRules": '[{"onReason": "OutOfMemoryError*", "action": "EXIT"}]', "MemoryRetryFactor": "1.5"},
        {"SubnetIds": "subnet-1", "SecurityGroupId": "sg-1"},
        {"SubnetIds": "subnet-1", "WorkerVpcId": "vpc-1", "AssignPublicIp": "DISABLED"},
    ],
)
def test_parameter_combinations_that_work_pass_the_rules(parameters):
    Template(replace(NAMES, parameters=parameters)).check_rules()


def test_a_function_s_reserved_concurrency_comes_from_the_template():
    doc = load()
    doc["Resources"]["CompletionRelay"]["Properties"]["ReservedConcurrentExecutions"] = 3
    functions = Template(NAMES, doc).functions()
    assert functions["CompletionRelay"].reserved_concurrency == 3
    assert functions["Orchestrator"].reserved_concurrency is None  # the account's unreserved pool
