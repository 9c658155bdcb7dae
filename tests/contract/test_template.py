"""template.yaml against the code: handlers, environment, event rule, IAM, image, linters."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from completion_relay.config import RelayConfig
from completion_relay.relay import ENDED_STATUSES
from durable_ecs import EcsSettings
from ecs_contract.names import (
    EXECUTION_STATUS_CHANGE,
    RESULTS_PREFIX,
    TASK_STATE_CHANGE,
    WORKER_CONTAINER_NAME,
    EventKind,
)
from local.template import Template
from orchestrator.config import OrchestratorConfig
from testkit.paths import ROOT, load_event
from testkit.sam import SAM, sam_translate
from testkit.template import FUNCTIONS, NAMES, actions, resources, statements, template

CLUSTER = load_event("ecs/stopped-success")["detail"]["clusterArn"]
# The durable functions of the stack (DurableConfig): each runs tasks with durable_ecs.run_task, so the
# relay completes their callbacks and stops the tasks of their executions that ended.
DURABLE = sorted(name for name, f in FUNCTIONS.items() if "DurableConfig" in f["Properties"])


def resolve(value: Any) -> Any:
    """Stand-in values for intrinsics: parameter defaults for Ref, the sample cluster, placeholders."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, arg),) = value.items()
        params = template()["Parameters"]
        if key == "Ref" and arg in params:
            return str(params[arg].get("Default", ""))
        if key == "Fn::GetAtt" and arg[0] == "Cluster":
            return CLUSTER
        if key == "Fn::Sub" and isinstance(arg, str):
            return re.sub(r"\$\{([^}.]+)\}", lambda m: resolve({"Ref": m.group(1)}), arg)
        if key.startswith("Fn::") or key == "Ref":
            return f"resolved-{key}"
    if isinstance(value, Mapping):
        return {k: resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value


def function_env(name: str) -> dict[str, str]:
    env = dict(template()["Globals"]["Function"]["Environment"]["Variables"])
    env.update(FUNCTIONS[name]["Properties"].get("Environment", {}).get("Variables", {}))
    return {k: str(resolve(v)) for k, v in env.items()}


class RecordingEnv(dict):
    """A dict that remembers every key the config asked for, present or not."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.asked.add(key)
        return super().__getitem__(key)


# ------------------------------------------------------------------ handlers and environment


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_handler_imports_from_its_code_uri_with_the_contract_layer(name):
    props = FUNCTIONS[name]["Properties"]
    module, _, attribute = props["Handler"].rpartition(".")
    layer_dirs = [
        resources("AWS::Serverless::LayerVersion")[layer["Ref"]]["Properties"]["ContentUri"]
        for layer in template()["Globals"]["Function"]["Layers"]
    ]
    code = f"import importlib; assert callable(getattr(importlib.import_module({module!r}), {attribute!r}))"
    path = os.pathsep.join(str(ROOT / d) for d in [props["CodeUri"], *layer_dirs])
    # A fresh interpreter that sees only what Lambda would: the CodeUri and the layer.
    done = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path[:0] = {path.split(os.pathsep)!r}; {code}"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("name", "config"),
    [("Orchestrator", OrchestratorConfig), ("Pipeline", EcsSettings), ("CompletionRelay", RelayConfig)],
)
def test_every_variable_the_code_reads_is_set_by_the_template(name, config):
    env = RecordingEnv(function_env(name))
    config.from_env(env)  # would raise ConfigError on a missing or invalid value
    assert env.asked <= set(env), f"read but not set by template.yaml: {env.asked - set(env)}"


def test_every_object_key_of_the_template_is_the_code_s_results_prefix():
    """RESULTS_PREFIX is a constant of the contract; the template's IAM policies (the worker writes,
    the functions read and list) and the lifecycle rule must name the same prefix, and no other."""
    text = (ROOT / "template.yaml").read_text()
    keys = re.findall(r"\$\{ResultsBucket\.Arn\}/([\w/-]+)\*", text)  # not the bucket policy's "/*"
    listed = re.findall(r"s3:prefix: \"([\w/-]*)\*\"", text)
    [rule] = template()["Resources"]["ResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    # PutObject (the worker), GetObject and ListBucket (each durable function and the relay)
    assert len(keys) == 1 + len(DURABLE) + 1 and len(listed) == len(DURABLE) + 1
    assert set(keys) == set(listed) == {rule["Prefix"]} == {RESULTS_PREFIX}


# ------------------------------------------------------------------ the EventBridge rule


def rule_pattern(**given: str) -> EventPattern:
    """The TaskStopped rule's pattern, resolved as the local cloud resolves the template (its
    conditions too), for the sample events' cluster and the `given` parameters."""
    names = replace(NAMES, refs={**NAMES.refs, "Cluster.Arn": CLUSTER}, parameters=given)
    (rule,) = [
        r
        for r in Template(names).functions()["CompletionRelay"].rules
        if r.name == "CompletionRelayTaskStopped"
    ]
    return EventPattern(None, rule.pattern)


def test_the_rule_matches_running_tasks_only_with_a_start_timeout():
    # RUNNING events invoke the relay only when it has a start callback to complete.
    assert not rule_pattern().matches_event(load_event("ecs/running"))
    assert rule_pattern(StartTimeoutSeconds="300").matches_event(load_event("ecs/running"))
    assert rule_pattern(StartTimeoutSeconds="300").matches_event(load_event("ecs/stopped-success"))


def ours(name: str, **changes: Any) -> dict[str, Any]:
    event = load_event(name)
    event["detail"].update(changes)
    return event


@pytest.mark.parametrize(
    "name",
    [
        "ecs/stopped-success",
        "ecs/stopped-nonzero-exit",
        "ecs/stopped-failed-to-start",
        "ecs/stopped-spot-interruption",
        "ecs/stopped-out-of-memory",
    ],
)
def test_rule_matches_every_stopped_sample(name):
    assert rule_pattern().matches_event(load_event(name))


@pytest.mark.parametrize(
    "event",
    [
        load_event("ecs/running"),
        ours("ecs/stopped-success", clusterArn="arn:aws:ecs:us-west-2:111122223333:cluster/Other"),
        ours("ecs/stopped-success", startedBy="ecs-svc/123"),
        ours("ecs/stopped-success", startedBy="durable-ecs-lookalike/123"),
        dict(load_event("ecs/stopped-success"), source="custom.ecs"),
    ],
)
def test_rule_rejects_events_that_are_not_ours(event):
    assert not rule_pattern().matches_event(event)


@pytest.mark.parametrize(
    ("rule", "kind"), [("TaskStopped", TASK_STATE_CHANGE), ("ExecutionEnded", EXECUTION_STATUS_CHANGE)]
)
def test_each_rule_matches_the_envelope_the_relay_handles(rule, kind: EventKind):
    """The template spells the envelopes as CloudFormation must; the code reads the contract's."""
    pattern = FUNCTIONS["CompletionRelay"]["Properties"]["Events"][rule]["Properties"]["Pattern"]
    assert (pattern["source"], pattern["detail-type"]) == ([kind.source], [kind.detail_type])


def test_the_cancellation_rule_takes_the_statuses_the_relay_acts_on():
    pattern = FUNCTIONS["CompletionRelay"]["Properties"]["Events"]["ExecutionEnded"]["Properties"]["Pattern"]
    assert set(pattern["detail"]["status"]) == ENDED_STATUSES


def test_rule_target_retries_then_dead_letters():
    rule = FUNCTIONS["CompletionRelay"]["Properties"]["Events"]["TaskStopped"]["Properties"]
    assert rule["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert rule["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    on_failure = FUNCTIONS["CompletionRelay"]["Properties"]["EventInvokeConfig"]["DestinationConfig"][
        "OnFailure"
    ]
    assert on_failure == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}


# ------------------------------------------------------------------ IAM


@cache
def known_actions() -> dict[str, set[str]]:
    import cfnlint

    policies = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"
    data = json.loads(policies.read_text())
    return {prefix: set(service["Actions"]) for prefix, service in data.items()}


def all_policy_holders() -> dict[str, dict[str, Any]]:
    return {**resources("AWS::IAM::Role"), **FUNCTIONS}


@pytest.mark.parametrize("holder", sorted(all_policy_holders()))
def test_iam_action_names_exist_and_no_resource_is_a_wildcard(holder):
    """Every resource is named, except where IAM cannot scope by resource: then a condition must."""
    for statement in statements(all_policy_holders()[holder]):
        for action in actions(statement):
            prefix, _, name = action.partition(":")
            if name == "*":
                continue
            assert name.lower() in known_actions()[prefix], f"{holder}: unknown IAM action {action}"
        if statement["Effect"] == "Allow":
            resource = statement["Resource"]
            if actions(statement) == ["ecs:ListTasks"]:  # no resource-level scoping exists for it
                assert resource == "*"
                assert statement["Condition"]["ArnEquals"]["ecs:cluster"] == {
                    "Fn::GetAtt": ["Cluster", "Arn"]
                }
                continue
            assert resource != "*" and "*" not in (resource if isinstance(resource, list) else [resource])


@pytest.mark.parametrize("role", ["WorkerTaskRole", "TaskExecutionRole"])
def test_the_worker_roles_have_no_lambda_action(role):
    roles = resources("AWS::IAM::Role")
    granted = [a for s in statements(roles[role]) for a in actions(s)]
    assert not [a for a in granted if a.lower().startswith("lambda:") or a == "*"]
    assert not any("Lambda" in str(arn) for arn in roles[role]["Properties"].get("ManagedPolicyArns", []))


def test_the_stack_has_two_durable_functions():
    assert DURABLE == ["Orchestrator", "Pipeline"]


def test_relay_may_complete_callbacks_only_on_the_durable_functions_qualified_arns():
    callback_statements = [
        s
        for s in statements(FUNCTIONS["CompletionRelay"])
        if any(a.startswith("lambda:") for a in actions(s))
    ]
    assert callback_statements
    for statement in callback_statements:
        assert set(actions(statement)) == {
            "lambda:SendDurableExecutionCallbackSuccess",
            "lambda:SendDurableExecutionCallbackFailure",
            "lambda:SendDurableExecutionCallbackHeartbeat",  # liveness: a worker's progress lines
        }
        assert statement["Resource"] == [{"Fn::Sub": f"${{{name}.Arn}}:*"} for name in DURABLE]


def test_the_relay_knows_every_durable_function_and_no_other():
    """Its DURABLE_FUNCTION_ARNS (the relay's check) and the cancellation rule name the same list."""
    relay = FUNCTIONS["CompletionRelay"]["Properties"]
    listed = relay["Environment"]["Variables"]["DURABLE_FUNCTION_ARNS"]
    assert listed == {"Fn::Join": [",", [{"Fn::GetAtt": [name, "Arn"]} for name in DURABLE]]}
    pattern = relay["Events"]["ExecutionEnded"]["Properties"]["Pattern"]
    assert pattern["detail"]["functionArn"] == [
        part
        for name in DURABLE
        for part in ({"Fn::GetAtt": [name, "Arn"]}, {"prefix": {"Fn::Sub": f"${{{name}.Arn}}:"}})
    ]


@pytest.mark.parametrize("function", DURABLE)
def test_durable_function_may_pass_only_the_two_task_roles_to_ecs(function):
    [pass_role] = [s for s in statements(FUNCTIONS[function]) if "iam:PassRole" in actions(s)]
    assert pass_role["Resource"] == [
        {"Fn::GetAtt": ["TaskExecutionRole", "Arn"]},
        {"Fn::GetAtt": ["WorkerTaskRole", "Arn"]},
    ]
    assert pass_role["Condition"]["StringEquals"]["iam:PassedToService"] == "ecs-tasks.amazonaws.com"


@pytest.mark.parametrize("function", [*DURABLE, "CompletionRelay"])
def test_who_reads_results_may_list_them_so_a_missing_one_is_a_404_not_a_403(function):
    """S3 answers GetObject of a missing key with 403 AccessDenied unless the caller has s3:ListBucket
    (GetObject, "Permissions"); the listing is confined to the results prefix."""
    granted = list(statements(FUNCTIONS[function]))
    assert any("s3:GetObject" in actions(s) for s in granted)
    [listing] = [s for s in granted if "s3:ListBucket" in actions(s)]
    assert listing["Resource"] == {"Fn::GetAtt": ["ResultsBucket", "Arn"]}
    assert listing["Condition"] == {"StringLike": {"s3:prefix": f"{RESULTS_PREFIX}*"}}


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    """The CloudFormation the SAM translator makes of template.yaml (in the SAM CLI's venv)."""
    return sam_translate(ROOT / "template.yaml")


@pytest.mark.parametrize("name", DURABLE)
def test_sam_gives_each_durable_function_the_durable_execution_policy(translated, name):
    managed = translated["Resources"][f"{name}Role"]["Properties"]["ManagedPolicyArns"]
    assert "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicDurableExecutionRolePolicy" in managed
    function = translated["Resources"][name]["Properties"]
    assert set(function["DurableConfig"]) == {"ExecutionTimeout", "RetentionPeriodInDays"}
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert f"{name}Aliaslive" in translated["Resources"]


def test_a_durable_function_that_runs_tasks_has_the_orchestrator_s_ecs_and_results_permissions():
    """The sample's IAM is the orchestrator's, statement for statement, and no wider."""
    assert list(statements(FUNCTIONS["Pipeline"])) == list(statements(FUNCTIONS["Orchestrator"]))


def _translate(template_text: str, tmp_path: Path, name: str) -> dict[str, Any]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(template_text)
    return sam_translate(path)


def _published_versions(translated: dict[str, Any]) -> dict[str, str]:
    """Function -> logical id of the AWS::Lambda::Version its alias points at (a new id: a new version)."""
    return {
        r["Properties"]["FunctionName"]["Ref"]: name
        for name, r in translated["Resources"].items()
        if r["Type"] == "AWS::Lambda::Version"
    }


@pytest.mark.parametrize(
    ("change", "old", "new"),
    [
        # `sam deploy` uploads a changed layer under a new key: a new LayerVersion for the function.
        (
            "the contract layer's content",
            "ContentUri: contract/",
            "ContentUri: s3://placeholder-bucket/contract-v2",
        ),
        ("the orchestrator's Timeout", "Timeout: 60", "Timeout: 61"),
    ],
)
def test_a_change_the_function_runs_with_publishes_a_new_version(change, old, new, tmp_path):
    """The alias `live` must never keep running an old contract or configuration: every change that the
    function runs with publishes a new version (AutoPublishAlias alone ignores layers and Timeout)."""
    text = (ROOT / "template.yaml").read_text()
    assert text.count(old) == 1, f"the test's edit {old!r} no longer fits template.yaml"
    before = _published_versions(_translate(text, tmp_path, "before"))
    after = _published_versions(_translate(text.replace(old, new), tmp_path, "after"))
    assert "Orchestrator" in before, "the orchestrator publishes no version"
    assert after["Orchestrator"] != before["Orchestrator"], f"{change} changed but the version did not"


# ------------------------------------------------------------------ the worker image


def test_task_definition_runs_the_contract_container_as_non_root_with_logs():
    [definition] = resources("AWS::ECS::TaskDefinition").values()
    [container] = definition["Properties"]["ContainerDefinitions"]
    assert container["Name"] == WORKER_CONTAINER_NAME
    assert container["User"] != "root" and not container["User"].startswith("0")
    assert container["Memory"]  # Fargate wants container-level memory
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert definition["Properties"]["RequiresCompatibilities"] == ["FARGATE"]


def test_dockerfile_copies_the_contract_and_runs_the_worker_entrypoint_as_non_root():
    lines = (ROOT / "worker" / "Dockerfile").read_text().splitlines()
    copies = [line.split()[1] for line in lines if line.startswith("COPY ")]
    for source in copies:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
    assert "contract/ecs_contract" in copies
    [user] = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert not user.startswith(("root", "0"))
    [task_definition] = resources("AWS::ECS::TaskDefinition").values()
    assert task_definition["Properties"]["ContainerDefinitions"][0]["User"] == user
    [entrypoint] = [line for line in lines if line.startswith("ENTRYPOINT")]
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT")) == ["python", "-m", "worker.entrypoint"]


def test_outputs_name_everything_a_user_needs():
    assert {
        "OrchestratorAliasArn",
        "PipelineAliasArn",
        "CompletionRelayFunctionName",
        "ClusterArn",
        "ResultsBucketName",
        "DeadLetterQueueUrl",
        "WorkerRepositoryUri",
    } <= set(template()["Outputs"])


# ------------------------------------------------------------------ linters


def test_cfn_lint_passes():
    done = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_sam_validate_lint_passes():
    assert SAM.exists(), "run `make test`: it installs the SAM CLI into .venv-sam"
    done = subprocess.run(
        [
            str(SAM),
            "validate",
            "--lint",
            "--template-file",
            str(ROOT / "template.yaml"),
            "--region",
            "us-east-1",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout + done.stderr


def test_every_attempt_of_an_execution_runs_the_task_definition_revision_the_first_one_ran():
    """RunTask with a family runs its newest revision: a deploy between two attempts of one
    execution would run the retry in other code (a new image tag is a new revision). The orchestrator
    names the revision (Ref of the task definition is its ARN with the revision), a deploy publishes a
    new orchestrator version with the new one, and the replaced revision is kept ACTIVE for the
    executions still running on the old version (ECS refuses an INACTIVE one)."""
    for name in DURABLE:
        env = FUNCTIONS[name]["Properties"]["Environment"]["Variables"]
        assert env["TASK_DEFINITION"] == {"Ref": "WorkerTaskDefinition"}
    assert template()["Resources"]["WorkerTaskDefinition"]["UpdateReplacePolicy"] == "Retain"
