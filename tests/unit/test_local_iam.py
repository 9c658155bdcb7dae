"""The local cloud's IAM (local/iam.py, local/authz.py): policy evaluation, the template's roles, and
how requests become IAM authorizations. No sockets: the gate in front of moto is in
tests/component/test_local_iam_gate.py, the flows that need each statement in tests/flow/test_iam.py."""

from __future__ import annotations

import re

import pytest

from local.authz import (
    LambdaGate,
    Place,
    S3Call,
    ecs_requests,
    list_bucket,
    logs_requests,
    s3_requests,
    signer,
    sqs_requests,
)
from local.iam import (
    ActionCatalog,
    Condition,
    Effect,
    LocalIam,
    Outcome,
    PolicyError,
    Request,
    Statement,
    arn_matches,
    condition_holds,
    evaluate,
    parse_statements,
)
from local.template import Names, Template

ACCOUNT, REGION = "123456789012", "us-east-1"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/t-cluster"
ORCHESTRATOR = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:Orchestrator"
EXECUTION = f"{ORCHESTRATOR}:$LATEST/durable-execution/run-1/0f6a"
PIPELINE = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:Pipeline"
PIPELINE_EXECUTION = f"{PIPELINE}:live/durable-execution/run-2/1a2b"
TASK = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/t-cluster/5a3c"
TASK_DEFINITION = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/t-worker:3"
WORKER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/t-worker-task"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/t-task-execution"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:t-dead-letters"
LOG_GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/t/worker"
NAMES = Names(
    stack="t",
    region=REGION,
    account=ACCOUNT,
    refs={
        "Cluster": "t-cluster",
        "Cluster.Arn": CLUSTER,
        "ResultsBucket": "t-results",
        "ResultsBucket.Arn": "arn:aws:s3:::t-results",
        "PublicSubnetA": "subnet-a",
        "PublicSubnetB": "subnet-b",
        "WorkerSecurityGroup": "sg-1",
        "DeadLetterQueue.Arn": QUEUE,
        "WorkerLogGroup": "/t/worker",
        "WorkerRepository": "repo",
        "TaskExecutionRole.Arn": EXECUTION_ROLE,
        "WorkerTaskRole.Arn": WORKER_ROLE,
        "Orchestrator": "Orchestrator",
        "Orchestrator.Arn": ORCHESTRATOR,
        "Pipeline": "Pipeline",
        "Pipeline.Arn": PIPELINE,
        "CompletionRelay": "CompletionRelay",
        "CompletionRelay.Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:CompletionRelay",
    },
)
PLACE = Place(ACCOUNT, REGION)


def allow(
    *actions: str, resource: str | tuple[str, ...] = "*", conditions: tuple[Condition, ...] = ()
) -> Statement:
    resources = resource if isinstance(resource, tuple) else (resource,)
    return Statement("r/allow", Effect.ALLOW, actions=actions, resources=resources, conditions=conditions)


def deny(*actions: str, resource: str = "*", conditions: tuple[Condition, ...] = ()) -> Statement:
    return Statement("r/deny", Effect.DENY, actions=actions, resources=(resource,), conditions=conditions)


# ------------------------------------------------------------------ evaluation


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("ecs:Describe*", "ecs:DescribeTasks", True),
        ("ECS:runtask", "ecs:RunTask", True),  # action names are case-insensitive
        ("ecs:*Task", "ecs:StopTask", True),
        ("ecs:?topTask", "ecs:StopTask", True),
        ("ecs:Describe*", "ecs:ListTasks", False),
        ("lambda:SendDurableExecutionCallback*", "lambda:CheckpointDurableExecution", False),
    ],
)
def test_actions_match_with_wildcards_and_any_case(pattern: str, action: str, matches: bool) -> None:
    decision = evaluate(Request(action, "*"), [allow(pattern)])
    assert decision.allowed is matches


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        (f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/t-cluster/*", TASK, True),
        (f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/t-cluster/*", TASK.replace("t-cluster", "other"), False),
        (f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/t-cluster/*", TASK.replace(ACCOUNT, "999999999999"), False),
        (f"{ORCHESTRATOR}:*", EXECUTION, True),  # every version's executions
        (f"{ORCHESTRATOR}:*", ORCHESTRATOR, False),  # not the unqualified function
        (f"{ORCHESTRATOR}:*", EXECUTION.replace("Orchestrator", "Other"), False),
        ("arn:aws:ecs:*:task/*", TASK, False),  # "*" does not stand for several ARN parts
        ("arn:aws:ecs:*:*:task/*", TASK, True),
        (f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/t-worker:*", TASK_DEFINITION, True),
        (f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/t-worker:?", TASK_DEFINITION, True),
        (f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/t-worker:*", TASK_DEFINITION + "-x", True),
        (f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/t-worker2:*", TASK_DEFINITION, False),
        ("arn:aws:s3:::t-results/results/*", "arn:aws:s3:::t-results/results/a/b.json", True),
        ("arn:aws:s3:::t-results/results/*", "arn:aws:s3:::t-results/other/results/b.json", False),
        ("arn:aws:s3:::t-results/results/*", "arn:aws:s3:::T-RESULTS/results/b.json", False),  # case
        ("*", TASK, True),
    ],
)
def test_resources_match_part_by_part_with_wildcards(pattern: str, arn: str, matches: bool) -> None:
    assert arn_matches(pattern, arn) is matches


def test_arn_equals_on_ecs_cluster_confines_run_task_to_our_cluster() -> None:
    statement = allow(
        "ecs:RunTask",
        resource=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/t-worker:*",
        conditions=(Condition("ArnEquals", "ecs:cluster", (CLUSTER,)),),
    )
    ours = Request("ecs:RunTask", TASK_DEFINITION, {"ecs:cluster": CLUSTER})
    theirs = Request("ecs:RunTask", TASK_DEFINITION, {"ecs:cluster": CLUSTER.replace("t-cluster", "prod")})
    without = Request("ecs:RunTask", TASK_DEFINITION, {})
    assert evaluate(ours, [statement]).allowed
    assert evaluate(theirs, [statement]).outcome is Outcome.IMPLICIT_DENY
    assert evaluate(without, [statement]).outcome is Outcome.IMPLICIT_DENY  # a missing key fails


def test_string_equals_on_passed_to_service_lets_the_roles_go_to_ecs_tasks_only() -> None:
    statement = allow(
        "iam:PassRole",
        resource=(EXECUTION_ROLE, WORKER_ROLE),
        conditions=(Condition("StringEquals", "iam:PassedToService", ("ecs-tasks.amazonaws.com",)),),
    )
    assert evaluate(
        Request("iam:PassRole", WORKER_ROLE, {"iam:passedtoservice": "ecs-tasks.amazonaws.com"}), [statement]
    ).allowed
    to_lambda = Request("iam:PassRole", WORKER_ROLE, {"iam:passedtoservice": "lambda.amazonaws.com"})
    assert not evaluate(to_lambda, [statement]).allowed
    other_role = Request(
        "iam:PassRole",
        f"arn:aws:iam::{ACCOUNT}:role/admin",
        {"iam:passedtoservice": "ecs-tasks.amazonaws.com"},
    )
    assert not evaluate(other_role, [statement]).allowed


@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [
        ("results/abc.json", True),
        ("results/", True),
        ("results", False),
        ("other/results/x", False),
        ("", False),
    ],
)
def test_string_like_on_s3_prefix_confines_listing_to_the_results_prefix(prefix: str, allowed: bool) -> None:
    statement = allow(
        "s3:ListBucket",
        resource="arn:aws:s3:::t-results",
        conditions=(Condition("StringLike", "s3:prefix", ("results/*",)),),
    )
    assert evaluate(list_bucket("t-results", prefix), [statement]).allowed is allowed


def test_the_bucket_policy_denies_insecure_transport_even_with_an_identity_allow() -> None:
    [deny_insecure] = parse_statements(
        "ResultsBucketPolicy",
        "PolicyDocument",
        {
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": ["arn:aws:s3:::t-results", "arn:aws:s3:::t-results/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ]
        },
    )
    identity = [allow("s3:GetObject", resource="arn:aws:s3:::t-results/results/*")]
    key = "arn:aws:s3:::t-results/results/a.json"
    plain = Request("s3:GetObject", key, {"aws:securetransport": "false"})
    tls = Request("s3:GetObject", key, {"aws:securetransport": "true"})
    decision = evaluate(plain, identity, [deny_insecure], "arn:aws:sts::1:assumed-role/r/s")
    assert decision.outcome is Outcome.RESOURCE_DENY
    assert decision.message("arn:aws:sts::1:assumed-role/r/s").endswith(
        "with an explicit deny in a resource-based policy"
    )
    assert evaluate(tls, identity, [deny_insecure], "arn:aws:sts::1:assumed-role/r/s").allowed


def test_an_explicit_deny_wins_over_any_allow() -> None:
    request = Request("ecs:StopTask", TASK)
    decision = evaluate(request, [allow("ecs:*"), deny("ecs:StopTask", resource=TASK)])
    assert decision.outcome is Outcome.IDENTITY_DENY and decision.statement == "r/deny"
    assert "with an explicit deny in an identity-based policy" in decision.message("p")


def test_no_allow_is_an_implicit_deny_worded_as_aws_words_it() -> None:
    decision = evaluate(Request("ecs:RunTask", TASK_DEFINITION), [allow("ecs:DescribeTasks")])
    assert decision.outcome is Outcome.IMPLICIT_DENY
    assert decision.message("arn:aws:sts::1:assumed-role/R/Orchestrator") == (
        "User: arn:aws:sts::1:assumed-role/R/Orchestrator is not authorized to perform: ecs:RunTask on "
        f"resource: {TASK_DEFINITION} because no identity-based policy allows the ecs:RunTask action"
    )


@pytest.mark.parametrize(
    ("operator", "values", "context", "holds"),
    [
        ("StringNotEquals", ("a",), {"k": "b"}, True),
        ("StringNotEquals", ("a",), {"k": "a"}, False),
        ("StringNotEquals", ("a",), {}, True),  # a negated operator passes on a missing key
        ("StringEqualsIgnoreCase", ("ABC",), {"k": "abc"}, True),
        ("StringNotLike", ("res*",), {"k": "results/x"}, False),
        ("StringLikeIfExists", ("res*",), {}, True),
        ("StringLikeIfExists", ("res*",), {"k": "other"}, False),
        ("ArnLike", ("arn:aws:ecs:*:*:cluster/t-*",), {"k": CLUSTER}, True),
        ("ArnNotEquals", (CLUSTER,), {"k": CLUSTER}, False),
        ("Bool", ("true",), {"k": "TRUE"}, True),
        ("Null", ("true",), {}, True),
        ("Null", ("false",), {}, False),
        ("StringEquals", ("a", "b"), {"k": "b"}, True),  # several values: any one
    ],
)
def test_condition_operators(
    operator: str, values: tuple[str, ...], context: dict[str, str], holds: bool
) -> None:
    assert condition_holds(Condition(operator, "K", values), context) is holds  # keys: any case


@pytest.mark.parametrize(
    "condition",
    [
        {"NumericLessThan": {"k": "1"}},
        {"ForAnyValue:StringLike": {"k": "a*"}},
        {"DateGreaterThan": {"k": "x"}},
    ],
)
def test_a_condition_the_local_cloud_cannot_evaluate_is_refused_not_guessed(
    condition: dict[str, object],
) -> None:
    with pytest.raises(PolicyError):
        parse_statements(
            "h",
            "p",
            {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": condition}]},
        )


# ------------------------------------------------------------------ AWS's action data


@pytest.mark.parametrize(
    "action",
    [
        "lambda:SendDurableExecutionCallbackSuccess",
        "lambda:SendDurableExecutionCallbackFailure",
        "lambda:CheckpointDurableExecution",
        "lambda:GetDurableExecutionState",
    ],
)
def test_the_durable_actions_are_known_and_authorize_on_the_execution(action: str) -> None:
    info = ActionCatalog.info(action)
    assert info is not None and info.name == action
    assert any("/durable-execution/" in f for f in info.resource_arn_formats)


def test_ecs_actions_carry_ecs_cluster_and_run_task_depends_on_pass_role() -> None:
    catalog = ActionCatalog()
    for action in ("ecs:RunTask", "ecs:ListTasks", "ecs:DescribeTasks", "ecs:StopTask"):
        assert catalog.request_context(action, {"ecs:cluster": CLUSTER}) == {"ecs:cluster": CLUSTER}
    # A key the action does not support is not in its request: a condition on it sees it missing.
    assert catalog.request_context(
        "ecs:RegisterTaskDefinition", {"ecs:cluster": CLUSTER, "aws:SecureTransport": "true"}
    ) == {"aws:securetransport": "true"}
    run_task = ActionCatalog.info("ecs:RunTask")
    assert run_task is not None and "iam:PassRole" in run_task.dependent_actions
    assert "s3:prefix" in catalog.request_context("s3:ListBucket", {"s3:prefix": "results/"})
    assert "iam:passedtoservice" in catalog.request_context("iam:PassRole", {"iam:PassedToService": "x"})


# ------------------------------------------------------------------ requests -> authorizations


def arn_format(action: str) -> list[re.Pattern[str]]:
    info = ActionCatalog.info(action)
    assert info is not None
    formats = [f for f in info.resource_arn_formats if f != "*"]
    fixed = {"${Partition}": "aws", "${Region}": REGION, "${Account}": ACCOUNT}
    out = []
    for f in formats:
        regex = re.escape(f)
        for name, value in fixed.items():
            regex = regex.replace(re.escape(name), value)
        out.append(re.compile(re.sub(r"\\\$\\\{[^}]+\\\}", ".+", regex)))
    return out


def assert_known_resource(request: Request) -> None:
    """The ARN we built has the form AWS's reference gives for the action's resource type."""
    if request.resource == "*":
        return
    assert any(f.fullmatch(request.resource) for f in arn_format(request.action)), request


def test_run_task_authorizes_the_task_definition_in_the_cluster_and_passes_its_roles() -> None:
    def lookup(name: str) -> tuple[str, tuple[str, ...]] | None:
        return (TASK_DEFINITION, (WORKER_ROLE, EXECUTION_ROLE)) if name == "t-worker" else None

    params = {"cluster": CLUSTER, "taskDefinition": "t-worker", "overrides": {"containerOverrides": []}}
    run, *passes = ecs_requests("RunTask", params, PLACE, lookup, passes_roles=True)
    assert run == Request("ecs:RunTask", TASK_DEFINITION, {"ecs:cluster": CLUSTER})
    assert [p.resource for p in passes] == [WORKER_ROLE, EXECUTION_ROLE]
    assert {p.context["iam:PassedToService"] for p in passes} == {"ecs-tasks.amazonaws.com"}
    for request in (run, *passes):
        assert_known_resource(request)


def test_describe_stop_and_list_tasks_name_tasks_in_the_long_arn_format() -> None:
    described = ecs_requests(
        "DescribeTasks", {"cluster": "t-cluster", "tasks": [TASK, "77aa"]}, PLACE, lambda _: None, True
    )
    assert [r.resource for r in described] == [TASK, TASK.replace("5a3c", "77aa")]
    assert all(r.context == {"ecs:cluster": CLUSTER} for r in described)
    [stop] = ecs_requests("StopTask", {"cluster": CLUSTER, "task": TASK}, PLACE, lambda _: None, True)
    [listed] = ecs_requests("ListTasks", {"cluster": CLUSTER, "startedBy": "x"}, PLACE, lambda _: None, True)
    assert (stop.resource, listed.resource) == (TASK, "*")
    for request in (*described, stop):
        assert_known_resource(request)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            S3Call("GET", "b", "results/a b.json", {}, {}),
            [("s3:GetObject", "arn:aws:s3:::b/results/a b.json")],
        ),
        (S3Call("HEAD", "b", "results/a.json", {}, {}), [("s3:GetObject", "arn:aws:s3:::b/results/a.json")]),
        (S3Call("PUT", "b", "results/a.json", {}, {}), [("s3:PutObject", "arn:aws:s3:::b/results/a.json")]),
        (
            S3Call("PUT", "b", "results/c.json", {}, {"x-amz-copy-source": "/b/results/a.json"}),
            [
                ("s3:PutObject", "arn:aws:s3:::b/results/c.json"),
                ("s3:GetObject", "arn:aws:s3:::b/results/a.json"),
            ],
        ),
        (
            S3Call("DELETE", "b", "results/a.json", {}, {}),
            [("s3:DeleteObject", "arn:aws:s3:::b/results/a.json")],
        ),
        (
            S3Call("GET", "b", "", {"list-type": ["2"], "prefix": ["results/"]}, {}),
            [("s3:ListBucket", "arn:aws:s3:::b")],
        ),
    ],
)
def test_s3_requests(call: S3Call, expected: list[tuple[str, str]]) -> None:
    requests = s3_requests(call)
    assert [(r.action, r.resource) for r in requests] == expected
    assert all(r.context["aws:SecureTransport"] == "true" for r in requests)
    for request in requests:
        assert_known_resource(request)


def test_an_s3_request_the_local_cloud_cannot_map_is_refused() -> None:
    from local.authz import Unmapped

    with pytest.raises(Unmapped):
        s3_requests(S3Call("PUT", "b", "results/a.json", {"tagging": [""]}, {}))


def test_sqs_and_logs_requests_name_the_queue_and_the_stream() -> None:
    [send] = sqs_requests(
        "SendMessageBatch", {"QueueUrl": f"http://127.0.0.1:1/{ACCOUNT}/t-dead-letters"}, PLACE
    )
    assert send == Request("sqs:SendMessage", QUEUE)
    [put] = logs_requests("PutLogEvents", {"logGroupName": "/t/worker", "logStreamName": "worker/w/1"}, PLACE)
    assert put.resource == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/t/worker:log-stream:worker/w/1"
    for request in (send, put):
        assert_known_resource(request)


def test_get_log_events_authorizes_on_the_stream_it_reads() -> None:
    """The Service Authorization Reference lists GetLogEvents on the log-stream resource: a policy
    naming the group's streams grants it, one naming only the group does not."""
    stream = {"logStreamName": "worker/worker/1"}
    for params in ({"logGroupName": "/t/worker"}, {"logGroupIdentifier": f"{LOG_GROUP}:*"}):
        [read] = logs_requests("GetLogEvents", {**params, **stream}, PLACE)
        assert read == Request("logs:GetLogEvents", f"{LOG_GROUP}:log-stream:worker/worker/1")
        assert_known_resource(read)
    [tail] = logs_requests("StartLiveTail", {"logGroupIdentifiers": [LOG_GROUP]}, PLACE)
    assert tail == Request("logs:StartLiveTail", LOG_GROUP)
    assert_known_resource(tail)


def test_lambda_routes_come_from_the_botocore_model() -> None:
    gate = LambdaGate.__new__(LambdaGate)  # only its routes
    from local.authz import _lambda_routes

    gate.routes = _lambda_routes()

    def operation(method: str, path: str) -> str:
        return next(r.operation for r in gate.routes if r.method == method and r.pattern.fullmatch(path))

    assert (
        operation("POST", "/2025-12-01/durable-executions/a%2Fb/checkpoint") == "CheckpointDurableExecution"
    )
    assert operation("GET", "/2025-12-01/durable-executions/a%2Fb/state") == "GetDurableExecutionState"
    assert operation("GET", "/2025-12-01/durable-executions/a%2Fb") == "GetDurableExecution"
    assert (
        operation("POST", "/2025-12-01/durable-execution-callbacks/eyJh/succeed")
        == "SendDurableExecutionCallbackSuccess"
    )
    assert (
        operation("POST", "/2025-12-01/durable-execution-callbacks/eyJh/fail")
        == "SendDurableExecutionCallbackFailure"
    )
    assert operation("POST", "/2015-03-31/functions/Orchestrator/invocations") == "Invoke"


def test_the_signer_is_the_access_key_and_service_of_the_sigv4_header() -> None:
    header = (
        "AWS4-HMAC-SHA256 Credential=ASIAORCHESTRATORROLE/20260101/us-east-1/ecs/aws4_request, "
        "SignedHeaders=host, Signature=ab"
    )
    assert signer(header) == ("ASIAORCHESTRATORROLE", "ecs")
    assert signer("AWS ASIAWORKERTASKROLE:c2ln") == ("ASIAWORKERTASKROLE", "s3")  # S3's SigV2
    assert signer(None) is None and signer("Bearer x") is None


# ------------------------------------------------------------------ the template's roles


@pytest.fixture(scope="module")
def iam() -> LocalIam:
    return LocalIam.from_template(Template(NAMES))


def test_each_function_and_the_worker_has_its_own_role_and_credentials(iam: LocalIam) -> None:
    assert iam.function_roles == {
        "Orchestrator": "OrchestratorRole",
        "Pipeline": "PipelineRole",
        "CompletionRelay": "CompletionRelayRole",
    }
    keys = {
        iam.credentials(r).access_key_id
        for r in ("OrchestratorRole", "CompletionRelayRole", "WorkerTaskRole")
    }
    assert len(keys) == 3 and all(k.startswith("ASIA") for k in keys)
    assert (
        iam.role_for_key(iam.function_credentials("Orchestrator").access_key_id)
        is iam.roles["OrchestratorRole"]
    )
    assert iam.role_for_key("local") is None  # the admin: the CLI, the runner, the bus, the agent
    assert (
        iam.roles["OrchestratorRole"].principal_arn
        == f"arn:aws:sts::{ACCOUNT}:assumed-role/t-OrchestratorRole/Orchestrator"
    )
    assert iam.role_of_arn(WORKER_ROLE) == "WorkerTaskRole"


@pytest.mark.parametrize(
    ("role", "request_", "allowed"),
    [
        ("OrchestratorRole", Request("ecs:RunTask", TASK_DEFINITION, {"ecs:cluster": CLUSTER}), True),
        ("OrchestratorRole", Request("ecs:RunTask", TASK_DEFINITION, {"ecs:cluster": CLUSTER + "x"}), False),
        (
            "OrchestratorRole",
            Request("iam:PassRole", WORKER_ROLE, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}),
            True,
        ),
        (
            "OrchestratorRole",
            Request("lambda:CheckpointDurableExecution", EXECUTION),
            True,
        ),  # SAM's durable policy
        ("OrchestratorRole", Request("lambda:SendDurableExecutionCallbackSuccess", EXECUTION), False),
        ("OrchestratorRole", Request("ecs:StopTask", TASK, {"ecs:cluster": CLUSTER}), True),
        (
            "OrchestratorRole",
            Request("ecs:StopTask", TASK.replace("t-cluster", "prod"), {"ecs:cluster": CLUSTER}),
            False,
        ),
        ("CompletionRelayRole", Request("lambda:SendDurableExecutionCallbackSuccess", EXECUTION), True),
        (
            "CompletionRelayRole",
            Request("lambda:SendDurableExecutionCallbackFailure", PIPELINE_EXECUTION),
            True,
        ),
        (
            "CompletionRelayRole",
            Request(
                "lambda:SendDurableExecutionCallbackSuccess", PIPELINE_EXECUTION.replace("Pipeline", "Other")
            ),
            False,
        ),
        ("PipelineRole", Request("ecs:RunTask", TASK_DEFINITION, {"ecs:cluster": CLUSTER}), True),
        ("PipelineRole", Request("lambda:SendDurableExecutionCallbackSuccess", PIPELINE_EXECUTION), False),
        ("CompletionRelayRole", Request("lambda:CheckpointDurableExecution", EXECUTION), False),
        ("CompletionRelayRole", Request("ecs:ListTasks", "*", {"ecs:cluster": CLUSTER}), True),
        ("CompletionRelayRole", Request("ecs:ListTasks", "*", {"ecs:cluster": CLUSTER + "x"}), False),
        ("CompletionRelayRole", Request("sqs:SendMessage", QUEUE), True),  # SAM's OnFailure policy
        ("CompletionRelayRole", Request("ecs:RunTask", TASK_DEFINITION, {"ecs:cluster": CLUSTER}), False),
        (
            "WorkerTaskRole",
            Request("s3:PutObject", "arn:aws:s3:::t-results/results/x.json", {"aws:SecureTransport": "true"}),
            True,
        ),
        (
            "WorkerTaskRole",
            Request("s3:PutObject", "arn:aws:s3:::t-results/x.json", {"aws:SecureTransport": "true"}),
            False,
        ),
        (
            "WorkerTaskRole",
            Request("s3:GetObject", "arn:aws:s3:::t-results/results/x.json", {"aws:SecureTransport": "true"}),
            False,
        ),
        ("WorkerTaskRole", Request("lambda:SendDurableExecutionCallbackSuccess", EXECUTION), False),
        # ListWorkerResults: a missing result is 404, not 403, for both readers (and only for them)
        ("OrchestratorRole", list_bucket("t-results", "results/x.json"), True),
        ("CompletionRelayRole", list_bucket("t-results", "results/x.json"), True),
        ("CompletionRelayRole", list_bucket("t-results", "elsewhere/x.json"), False),
        ("WorkerTaskRole", list_bucket("t-results", "results/x.json"), False),
        # ReadWorkerLogTail: the worker log group's streams, for the relay and both durable functions
        *(
            (role, Request("logs:GetLogEvents", f"{LOG_GROUP}:log-stream:worker/worker/1"), True)
            for role in ("OrchestratorRole", "PipelineRole", "CompletionRelayRole")
        ),
        ("CompletionRelayRole", Request("logs:GetLogEvents", f"{LOG_GROUP}x:log-stream:worker/w/1"), False),
        ("CompletionRelayRole", Request("logs:FilterLogEvents", LOG_GROUP), False),
        ("WorkerTaskRole", Request("logs:GetLogEvents", f"{LOG_GROUP}:log-stream:worker/worker/1"), False),
    ],
)
def test_the_template_roles_grant_what_they_say_and_nothing_else(
    iam: LocalIam, role: str, request_: Request, allowed: bool
) -> None:
    assert iam.authorize(iam.roles[role], request_).allowed is allowed


def test_a_dropped_statement_stops_granting_and_can_be_restored(iam: LocalIam) -> None:
    role, request = (
        iam.roles["OrchestratorRole"],
        Request("ecs:RunTask", TASK_DEFINITION, {"ecs:cluster": CLUSTER}),
    )
    iam.drop(["Orchestrator/RunWorkerTasks"])
    try:
        assert iam.authorize(role, request).outcome is Outcome.IMPLICIT_DENY
        assert iam.dropped == ["Orchestrator/RunWorkerTasks"]
    finally:
        iam.restore()
    assert iam.authorize(role, request).allowed


def test_dropping_a_statement_that_does_not_exist_names_the_ones_that_do(iam: LocalIam) -> None:
    with pytest.raises(PolicyError, match="Orchestrator/RunWorkerTasks"):
        iam.drop(["Orchestrator/RunWorkerTask"])
