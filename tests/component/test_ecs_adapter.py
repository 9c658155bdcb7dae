"""The ECS adapter (aws_adapters.ecs) as the orchestrator starts and stops tasks with it, against a
botocore Stubber: the requests it makes, the errors it maps."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from aws_adapters.ecs import EcsGateway
from aws_adapters.errors import AwsThrottled, AwsUnavailable
from durable_ecs import ecs_tasks
from ecs_contract.names import client_token
from testkit.template import orchestrator_config

CONFIG = orchestrator_config(
    cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/workers",
    task_definition="stack-worker",
    subnets=("subnet-a", "subnet-b"),
    security_groups=(),
    results_bucket="results",
    assign_public_ip="DISABLED",
)
CALLBACK_ID = "Q2FsbGJhY2s="


@pytest.fixture
def ecs():
    client = boto3.client("ecs")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_run_task_request_shape(ecs):
    client, stub = ecs
    stub.add_response(
        "run_task",
        {"tasks": [{"taskArn": "arn:t"}]},
        {
            "cluster": CONFIG.cluster_arn,
            "taskDefinition": "stack-worker",
            # Always a capacity provider strategy, never launchType (on-demand unless told otherwise).
            "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}],
            "count": 1,
            "startedBy": "durable-ecs/abc",
            "clientToken": client_token(CALLBACK_ID),
            # No security group configured: ECS uses the VPC default, so none is sent.
            "networkConfiguration": {
                "awsvpcConfiguration": {"subnets": ["subnet-a", "subnet-b"], "assignPublicIp": "DISABLED"}
            },
            "overrides": ANY,
        },
    )
    started = ecs_tasks.run_task(
        EcsGateway(client), CONFIG, callback_id=CALLBACK_ID, job_json="{}", started_by="durable-ecs/abc"
    ).to_dict()  # as the start-task step checkpoints it
    assert started == {"taskArn": "arn:t"}


def test_overrides_over_the_ecs_limit_are_refused_before_any_call(ecs):
    client, _ = ecs  # the Stubber fails the test if RunTask were called
    answer = ecs_tasks.run_task(
        EcsGateway(client),
        CONFIG,
        callback_id=CALLBACK_ID,
        job_json='"' + "x" * 8192 + '"',
        started_by="durable-ecs/a",
    ).to_dict()
    failure = answer["failure"]
    assert failure["ErrorType"] == "TaskStartRejected"  # terminal: asking again cannot help
    assert "8192" in failure["ErrorMessage"] and '"retryable":false' in failure["ErrorData"]


def test_stop_task_of_a_task_ecs_forgot_is_not_an_error(ecs):
    client, stub = ecs
    stub.add_client_error("stop_task", "InvalidParameterException", "The referenced task was not found.", 400)
    assert EcsGateway(client).stop(CONFIG.cluster_arn, "arn:t", "timed out") is False


def test_stop_task_throttling_is_raised_for_the_step_to_retry(ecs):
    client, stub = ecs
    stub.add_client_error("stop_task", "ThrottlingException", "Rate exceeded", 400)
    with pytest.raises(AwsUnavailable, match="StopTask: ThrottlingException"):
        EcsGateway(client).stop(CONFIG.cluster_arn, "arn:t", "timed out")


def test_only_run_task_tells_throttling_apart(ecs):
    # StopTask's (and DescribeTasks') throttling keeps the 4 attempts of any other transient error.
    client, stub = ecs
    stub.add_client_error("stop_task", "ThrottlingException", "Rate exceeded", 400)
    with pytest.raises(AwsUnavailable) as raised:
        EcsGateway(client).stop(CONFIG.cluster_arn, "arn:aws:ecs:us-east-1:123456789012:task/w/t1", "r")
    assert not isinstance(raised.value, AwsThrottled)


def test_stop_task_refused_for_another_reason_is_not_retried(ecs):
    client, stub = ecs
    stub.add_client_error("stop_task", "AccessDeniedException", "not authorized", 400)
    with pytest.raises(ClientError, match="AccessDeniedException"):
        EcsGateway(client).stop(CONFIG.cluster_arn, "arn:t", "timed out")


def run(client):
    return ecs_tasks.run_task(
        EcsGateway(client), CONFIG, callback_id=CALLBACK_ID, job_json="{}", started_by="durable-ecs/a"
    ).to_dict()


# RunTask's errors in botocore's ECS model: ServerException (a fault), and AccessDeniedException,
# BlockedException, ClientException, ClusterNotFoundException, ConflictException,
# InvalidParameterException, PlatformTaskDefinitionIncompatibilityException,
# PlatformUnknownException, UnsupportedFeatureException. Throttling comes unmodeled.
@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        ("ServerException", 500, "internal"),  # modeled: botocore.errorfactory.ServerException
        ("ThrottlingException", 400, "Rate exceeded"),  # unmodeled: botocore.exceptions.ClientError
        ("RequestLimitExceeded", 400, "Request limit exceeded."),
        ("ServiceUnavailable", 503, "unavailable"),
        (
            "InvalidParameterException",
            400,
            "Error retrieving subnet information for [subnet-1]: Rate exceeded (ErrorCode: Throttling)",
        ),
    ],
)
def test_run_task_transient_errors_are_raised_as_aws_unavailable_for_the_step_to_retry(
    ecs, code, status, message
):
    client, stub = ecs
    stub.add_client_error("run_task", code, message, status)
    with pytest.raises(AwsUnavailable, match=f"RunTask: {code} \\(HTTP {status}\\)"):
        run(client)


@pytest.mark.parametrize(
    ("code", "status", "message", "throttled"),
    [
        ("ThrottlingException", 400, "Rate exceeded", True),  # what ECS answers (request-throttling.html)
        ("RequestLimitExceeded", 400, "Request limit exceeded.", True),
        ("TooManyRequestsException", 429, "slow down", True),
        (
            "InvalidParameterException",
            400,
            "Error retrieving subnet information for [subnet-1]: Rate exceeded (ErrorCode: Throttling)",
            True,
        ),
        ("ServerException", 500, "internal", False),
        ("ServiceUnavailable", 503, "unavailable", False),
    ],
)
def test_run_task_throttling_is_told_apart_from_other_transient_errors(ecs, code, status, message, throttled):
    # The step retries throttling for as long as it lasts, other transient errors 4 times in all.
    client, stub = ecs
    stub.add_client_error("run_task", code, message, status)
    with pytest.raises(AwsUnavailable) as raised:
        run(client)
    assert isinstance(raised.value, AwsThrottled) is throttled


def test_run_task_network_errors_are_raised_as_aws_unavailable():
    unreachable = boto3.client(
        "ecs",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    with pytest.raises(AwsUnavailable, match="RunTask: EndpointConnectionError"):
        run(unreachable)


@pytest.mark.parametrize(
    "code",
    [
        "InvalidParameterException",
        "ClientException",
        "AccessDeniedException",
        "ClusterNotFoundException",
        "ConflictException",
        "BlockedException",
        "UnsupportedFeatureException",
    ],
)
def test_run_task_refusals_are_a_terminal_task_start_rejected(ecs, code):
    client, stub = ecs
    stub.add_client_error("run_task", code, "no", 400)
    failure = run(client)["failure"]
    assert failure["ErrorType"] == "TaskStartRejected"
    assert failure["ErrorMessage"] == f"RunTask rejected the request ({code}): no"
    assert '"retryable":false' in failure["ErrorData"]


@pytest.mark.parametrize(
    "message",
    [
        "Capacity is unavailable at this time. Please try again later or in a different availability zone",
        "You've reached the limit on the number of tasks you can run concurrently",
        "You've reached the limit on the number of vCPUs you can run concurrently",
    ],
)
@pytest.mark.parametrize("code", ["ClientException", "InvalidParameterException"])
def test_run_task_refusing_for_capacity_or_a_fargate_quota_is_a_retryable_capacity_unavailable(
    ecs, code, message
):
    # Capacity comes back, and Spot's quota is counted apart from on-demand's: never terminal.
    client, stub = ecs
    stub.add_client_error("run_task", code, message, 400)
    failure = run(client)["failure"]
    assert failure["ErrorType"] == "CapacityUnavailable"
    assert failure["ErrorMessage"] == f"RunTask started no task ({code}): {message}"
    assert '"retryable":true' in failure["ErrorData"]


def test_run_task_failures_for_capacity_are_a_retryable_capacity_unavailable(ecs):
    client, stub = ecs
    reason = (
        "Capacity is unavailable at this time. Please try again later or in a different availability zone"
    )
    stub.add_response("run_task", {"tasks": [], "failures": [{"reason": reason}]})
    failure = run(client)["failure"]
    assert failure["ErrorType"] == "CapacityUnavailable"
    assert '"retryable":true' in failure["ErrorData"]


def test_a_conflict_on_our_client_token_hands_back_the_task_it_already_started(ecs):
    # A retry of the start step in another invocation (another trace context in the environment)
    # asks with the same token and a different request: ECS names the task the token started.
    client, stub = ecs
    stub.add_client_error(
        "run_task", "ConflictException", "in use", 400, modeled_fields={"resourceIds": ["arn:first"]}
    )
    assert run(client) == {"taskArn": "arn:first"}


def test_stop_task_reason_is_cut_to_the_ecs_limit(ecs):
    client, stub = ecs
    stub.add_response("stop_task", {}, {"cluster": CONFIG.cluster_arn, "task": "arn:t", "reason": "r" * 255})
    assert EcsGateway(client).stop(CONFIG.cluster_arn, "arn:t", "r" * 1000) is True
