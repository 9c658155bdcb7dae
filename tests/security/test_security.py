"""Security properties (README, "Security notes"): who may complete a callback, what the relay acts
on, what a job can inject.

- Only the CompletionRelay may send durable callbacks, and only on the orchestrator's qualified ARN;
  the worker's roles can never grant it, whatever wildcard a later edit might add.
- The relay re-checks cluster and startedBy marker itself, so a misconfigured rule stays harmless.
- A job's input travels as one JSON string: it cannot add, rename or replace environment variables.
- No IAM statement allows every resource unless a condition scopes it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from completion_relay.relay import Gateways, RelayAction, relay_event
from durable_ecs.ecs_tasks import container_overrides
from ecs_contract.completion import StoredResult
from ecs_contract.limits import check_overrides
from ecs_contract.names import (
    CALLBACK_ID_ENV,
    CALLBACK_ID_MAX,
    JOB_INPUT_ENV,
    RESULT_URI_ENV,
    WORKER_CONTAINER_NAME,
)
from ecs_contract.task import parse_task
from orchestrator.errors import InvalidInput
from orchestrator.job import MAX_JOB_INPUT_CHARS, JobInput, parse_job
from testkit.paths import load_event
from testkit.template import FUNCTIONS, actions, relay_config, resources, statements

CALLBACK_ACTIONS = (
    "lambda:SendDurableExecutionCallbackSuccess",
    "lambda:SendDurableExecutionCallbackFailure",
    # A heartbeat keeps a hung task's callback open: the relay sends it on the worker's progress
    # lines, the worker never may.
    "lambda:SendDurableExecutionCallbackHeartbeat",
)
WORKER_ROLES = ("WorkerTaskRole", "TaskExecutionRole")
EXECUTION_ROLE_POLICY = "AmazonECSTaskExecutionRolePolicy"


# ------------------------------------------------------------------ IAM in template.yaml


def policy_holders() -> dict[str, dict[str, Any]]:
    """Everything in the template that can carry an IAM policy: roles, functions, policy resources."""
    kinds = ("AWS::IAM::Role", "AWS::Serverless::Function", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
    return {name: r for kind in kinds for name, r in resources(kind).items()}


def granted_statements(holder: str) -> Iterator[dict[str, Any]]:
    """The Allow statements that reach `holder`: its own, and those of policy resources naming it."""
    yield from (s for s in statements(policy_holders()[holder]) if s["Effect"] == "Allow")
    for policy in [*resources("AWS::IAM::Policy").values(), *resources("AWS::IAM::ManagedPolicy").values()]:
        if {"Ref": holder} in policy["Properties"].get("Roles", []):
            document = policy["Properties"]["PolicyDocument"]
            yield from (s for s in document["Statement"] if s["Effect"] == "Allow")


def allows(statement: dict[str, Any], action: str) -> bool:
    """Whether the statement's Action (or NotAction) covers `action`, wildcards and case as IAM reads them."""
    if "NotAction" in statement:
        excluded = statement["NotAction"]
        excluded = [excluded] if isinstance(excluded, str) else excluded
        return not any(fnmatchcase(action.lower(), pattern.lower()) for pattern in excluded)
    return any(fnmatchcase(action.lower(), pattern.lower()) for pattern in actions(statement))


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", True),
        ("lambda:*", True),
        ("LAMBDA:send*", True),
        ("lambda:SendDurableExecutionCallback?uccess", True),
        ("lambda:InvokeFunction", False),
        ("s3:*", False),
    ],
)
def test_the_wildcard_check_reads_actions_as_iam_does(pattern, expected):
    assert allows({"Action": pattern}, CALLBACK_ACTIONS[0]) is expected
    assert allows({"NotAction": pattern}, CALLBACK_ACTIONS[0]) is not expected


@pytest.mark.parametrize("role", WORKER_ROLES)
def test_no_statement_of_the_worker_roles_could_allow_completing_a_callback(role):
    offending = [
        (statement.get("Sid"), action)
        for statement in granted_statements(role)
        for action in CALLBACK_ACTIONS
        if allows(statement, action)
    ]
    assert not offending, f"{role} could complete durable callbacks: {offending}"


def test_the_task_role_has_no_managed_policy_and_the_execution_role_only_the_ecs_one():
    roles = resources("AWS::IAM::Role")
    assert not roles["WorkerTaskRole"]["Properties"].get("ManagedPolicyArns")
    managed = [json.dumps(arn) for arn in roles["TaskExecutionRole"]["Properties"]["ManagedPolicyArns"]]
    assert len(managed) == 1 and managed[0].endswith(f'service-role/{EXECUTION_ROLE_POLICY}"}}')


@pytest.mark.parametrize("role", WORKER_ROLES)
def test_only_ecs_tasks_can_assume_the_worker_roles(role):
    trust = resources("AWS::IAM::Role")[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "ecs-tasks.amazonaws.com"}]


def test_only_the_relay_may_complete_callbacks_and_only_on_the_durable_functions_qualified_arns():
    senders = {
        holder: [s for s in granted_statements(holder) if any(allows(s, a) for a in CALLBACK_ACTIONS)]
        for holder in policy_holders()
    }
    assert {holder for holder, found in senders.items() if found} == {"CompletionRelay"}
    for statement in senders["CompletionRelay"]:
        assert set(actions(statement)) == set(CALLBACK_ACTIONS)
        durable = sorted(name for name, f in FUNCTIONS.items() if "DurableConfig" in f["Properties"])
        assert durable == ["Orchestrator", "Pipeline"]
        assert statement["Resource"] == [{"Fn::Sub": f"${{{name}.Arn}}:*"} for name in durable]
        assert "Condition" not in statement or statement["Condition"]


def test_no_function_is_given_a_managed_policy_by_name():
    """SAM accepts "AWSLambda_FullAccess"-style names in Policies; none may slip in."""
    named = {
        name: policy
        for name, function in FUNCTIONS.items()
        for policy in function["Properties"].get("Policies", [])
        if isinstance(policy, str)
    }
    assert not named


@pytest.mark.parametrize("holder", sorted(policy_holders()))
def test_no_allow_statement_covers_every_resource_unless_a_condition_confines_it(holder):
    for statement in granted_statements(holder):
        assert "NotResource" not in statement, f"{holder}: NotResource allows everything else"
        resource = statement["Resource"]
        if "*" not in ([resource] if isinstance(resource, str) else resource):
            continue
        # ListTasks is the one action IAM cannot scope by resource: the cluster condition must.
        assert actions(statement) == ["ecs:ListTasks"], f"{holder}: Resource '*' for {actions(statement)}"
        assert statement["Condition"] == {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": ["Cluster", "Arn"]}}}


# ------------------------------------------------------------------ the relay re-checks what the rule filters

CLUSTER = load_event("ecs/stopped-success")["detail"]["clusterArn"]
ORCHESTRATOR = "arn:aws:lambda:us-west-2:111122223333:function:durable-ecs-Orchestrator"
CONFIG = relay_config(
    cluster_arn=CLUSTER, results_bucket="example-results-bucket", durable_function_arns=(ORCHESTRATOR,)
)
STOPPED_SAMPLES = [
    "ecs/stopped-success",
    "ecs/stopped-nonzero-exit",
    "ecs/stopped-failed-to-start",
    "ecs/stopped-spot-interruption",
    "ecs/stopped-out-of-memory",
]


class RecordingGateway:
    """Stands for any gateway: records every call and answers as if the call did something."""

    def __init__(self, calls: list[str], answer: Any) -> None:
        self._calls, self._answer = calls, answer

    def __getattr__(self, method: str) -> Any:
        def call(*args: Any) -> Any:
            self._calls.append(method)
            return self._answer(method, args)

        return call


def recording_gateways(calls: list[str]) -> Gateways:
    sample = load_event("ecs/stopped-success")["detail"]
    return Gateways(
        callbacks=RecordingGateway(calls, lambda *_: None),  # type: ignore[arg-type]
        # A DescribeTasks answer that would hand over a valid callback id, were it ever asked.
        tasks=RecordingGateway(calls, lambda method, _: sample if method == "describe" else []),  # type: ignore[arg-type]
        results=RecordingGateway(calls, lambda *_: StoredResult(body={}, size=2)),
    )


def edited(name: str, without_overrides: bool, **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event(name))
    for key, value in changes.items():
        if value is None:
            event["detail"].pop(key, None)
        else:
            event["detail"][key] = value
    if without_overrides:  # the relay would otherwise ask DescribeTasks for them
        event["detail"].pop("overrides")
    return event


NOT_OURS: dict[str, dict[str, Any]] = {
    "another cluster": {"clusterArn": "arn:aws:ecs:us-west-2:111122223333:cluster/Other"},
    "our cluster name in another account": {
        "clusterArn": "arn:aws:ecs:us-west-2:444455556666:cluster/FargateCluster"
    },
    "no startedBy": {"startedBy": None},
    "startedBy of a service": {"startedBy": "ecs-svc/1234567890"},
    "the marker without its slash": {"startedBy": "durable-ecs"},
    "a lookalike marker": {"startedBy": "durable-ecs-lookalike/6f1c2a9e"},
    "the marker not as a prefix": {"startedBy": "x-durable-ecs/6f1c2a9e"},
    "the marker in another case": {"startedBy": "DURABLE-ECS/6f1c2a9e"},
}


@pytest.mark.parametrize("without_overrides", [False, True], ids=["overrides", "no-overrides"])
@pytest.mark.parametrize("name", STOPPED_SAMPLES)
@pytest.mark.parametrize("edit", sorted(NOT_OURS))
def test_relay_makes_no_call_at_all_for_a_task_of_another_cluster_or_without_our_marker(
    edit, name, without_overrides
):
    calls: list[str] = []
    outcome = relay_event(
        edited(name, without_overrides, **NOT_OURS[edit]), CONFIG, recording_gateways(calls)
    )
    assert outcome.action is RelayAction.IGNORED
    assert calls == []


def test_the_recording_gateways_see_the_calls_of_an_event_that_is_ours():
    """The check above can fail: an unedited event without overrides asks ECS and completes."""
    calls: list[str] = []
    relay_event(edited("ecs/stopped-nonzero-exit", True), CONFIG, recording_gateways(calls))
    assert calls == ["describe", "fail"]


# ------------------------------------------------------------------ what a job can put in the overrides

LONGEST_CALLBACK_ID = "A" * (CALLBACK_ID_MAX - 2) + "=="
# s3://<longest bucket name>/results/<client token>.json, as durable_ecs.ecs_tasks.result_uri builds it
LONGEST_RESULT_URI = f"s3://{'b' * 63}/results/{'0' * 64}.json"


@pytest.mark.parametrize(
    "job",
    [
        {"blob": "x" * MAX_JOB_INPUT_CHARS},
        # Under the limit as JSON, over it once escaped into the overrides' JOB_INPUT string.
        {"quotes": ['"'] * (MAX_JOB_INPUT_CHARS // 6)},
        {"list": ["a"] * (MAX_JOB_INPUT_CHARS // 5)},
        {"unicode": "é" * (MAX_JOB_INPUT_CHARS // 6 - 5)},
    ],
    ids=["long string", "quotes", "many short strings", "non-ascii"],
)
def test_a_job_that_would_overflow_the_overrides_is_refused_at_the_door(job):
    with pytest.raises(InvalidInput) as refused:
        parse_job(job, task_timeout_seconds=60)
    message = str(refused.value)
    assert "container overrides" in message and "S3" in message
    assert f"at most {MAX_JOB_INPUT_CHARS}" in message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=20), inner, max_size=6),
    max_leaves=30,
)
# Keys a job might use to try to reach the environment or the overrides around it.
injection_keys = st.sampled_from(
    [
        "AWS_ACCESS_KEY_ID",
        CALLBACK_ID_ENV,
        RESULT_URI_ENV,
        JOB_INPUT_ENV,
        "name",
        "value",
        "environment",
        "containerOverrides",
        '"},{"name":"AWS_ACCESS_KEY_ID","value":"x',
    ]
)
jobs = st.dictionaries(injection_keys | st.text(max_size=20), json_values, max_size=8)


@settings(max_examples=150, deadline=None)
@given(job=jobs)
def test_any_job_reaches_the_worker_only_as_its_own_json_in_job_input(job):
    try:
        accepted = parse_job(job, task_timeout_seconds=10**9)
    except InvalidInput:
        return  # refused at the door, nothing built
    overrides = container_overrides(LONGEST_CALLBACK_ID, accepted.to_json(), LONGEST_RESULT_URI)

    assert list(overrides) == ["containerOverrides"]
    [container] = overrides["containerOverrides"]
    assert set(container) == {"name", "environment"} and container["name"] == WORKER_CONTAINER_NAME
    env = {pair["name"]: pair["value"] for pair in container["environment"]}
    assert [pair["name"] for pair in container["environment"]] == [
        CALLBACK_ID_ENV,
        JOB_INPUT_ENV,
        RESULT_URI_ENV,
    ]
    assert json.loads(env[JOB_INPUT_ENV]) == job
    assert (env[CALLBACK_ID_ENV], env[RESULT_URI_ENV]) == (LONGEST_CALLBACK_ID, LONGEST_RESULT_URI)
    # The relay reads back the callback id the orchestrator set, never one from the job.
    task = parse_task(
        {"taskArn": "t", "clusterArn": CLUSTER, "lastStatus": "STOPPED", "overrides": overrides}
    )
    assert task.callback_id == LONGEST_CALLBACK_ID


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, MAX_JOB_INPUT_CHARS), min_size=4, max_size=4),
    order=st.permutations(['"', "\\", "é", "x"]),
)
def test_a_job_accepted_at_the_door_always_fits_the_overrides_of_its_task(counts, order):
    """parse_job promises the task can start: the overrides' own limit check never fails after it."""
    filler = "".join(char * count for char, count in zip(order, counts, strict=True))
    try:
        accepted = parse_job(
            {"data": filler, "rows": [filler[:1]] * (counts[0] // 8)}, task_timeout_seconds=60
        )
    except InvalidInput:
        return
    check_overrides(container_overrides(LONGEST_CALLBACK_ID, accepted.to_json(), LONGEST_RESULT_URI))


def test_a_job_at_the_limit_is_accepted_and_fits_and_one_char_more_is_refused():
    # The job's JSON as it sits in the overrides: quoted, its own quotes escaped.
    framing = len(json.dumps(JobInput({"blob": ""}).to_json()))
    job = {"blob": "x" * (MAX_JOB_INPUT_CHARS - framing)}
    check_overrides(
        container_overrides(LONGEST_CALLBACK_ID, parse_job(job, 60).to_json(), LONGEST_RESULT_URI)
    )
    with pytest.raises(InvalidInput):
        parse_job({"blob": job["blob"] + "x"}, 60)
