"""The completion relay against moto (S3, ECS) and a botocore Stubber on the Lambda callback API."""

from __future__ import annotations

import copy
import json
from urllib.parse import quote

import boto3
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber
from moto import mock_aws

from aws_adapters.ecs import EcsGateway
from aws_adapters.errors import AwsUnavailable
from aws_adapters.s3 import ResultGateway
from completion_relay import handler as relay_handler
from completion_relay.gateways import CallbackGateway, CallbackNotDelivered
from completion_relay.relay import Gateways, RelayAction, relay_event
from ecs_contract.completion import ResultAccessDenied
from ecs_contract.documents import CallbackSuccess
from ecs_contract.limits import CALLBACK_RESULT_MAX_BYTES
from ecs_contract.names import redact, started_by
from ecs_contract.outcome import ErrorType
from ecs_contract.usage import TaskUsage
from testkit.lambda_context import FakeLambdaContext
from testkit.moto_world import moto_worker_cluster
from testkit.paths import load_event
from testkit.template import relay_config, template_environment

CLUSTER = "arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster"
BUCKET = "example-results-bucket"
SAMPLE = load_event("ecs/stopped-success")
CALLBACK_ID = "Ab3dEfGh1jKlMnOpQrStUvWxYz0123456789+/ExampleOpaqueCallbackId=="
RESULT_KEY = "results/9f2c6a1e0b7d4e55a1b2c3d4e5f60718.json"
ORCHESTRATOR = "arn:aws:lambda:us-west-2:111122223333:function:durable-ecs-Orchestrator"
CONFIG = relay_config(cluster_arn=CLUSTER, results_bucket=BUCKET, durable_function_arns=(ORCHESTRATOR,))


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        lambda_client = boto3.client("lambda")
        with Stubber(lambda_client) as stub:
            yield (
                Gateways(
                    callbacks=CallbackGateway(lambda_client),
                    tasks=EcsGateway(boto3.client("ecs")),
                    results=ResultGateway(s3),
                ),
                stub,
                s3,
            )
            stub.assert_no_pending_responses()


def event(name: str = "ecs/stopped-success", **detail_changes):
    sample = copy.deepcopy(load_event(name))
    sample["detail"].update(detail_changes)
    return sample


def expect_success(stub: Stubber, result: dict) -> None:
    stub.add_response(
        "send_durable_execution_callback_success",
        {},
        {
            "CallbackId": CALLBACK_ID,
            "Result": json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode(),
        },
    )


def success_document(result=None, location=None) -> dict:
    detail = SAMPLE["detail"]
    return CallbackSuccess(
        task_arn=detail["taskArn"],
        exit_code=0,
        started_at=detail["startedAt"],
        stopped_at=detail["stoppedAt"],
        result=result,
        result_location=location,
        # What the task used, read from the event as it is spelled there.
        usage=TaskUsage(
            cpu=int(detail["cpu"]),
            memory=int(detail["memory"]),
            capacity_provider=detail["capacityProviderName"],
            pull_started_at=detail["pullStartedAt"],
            stopped_at=detail["stoppedAt"],
        ),
    ).to_dict()


def test_success_sends_the_worker_result(aws):
    gateways, stub, s3 = aws
    s3.put_object(Bucket=BUCKET, Key=RESULT_KEY, Body=b'{"processedMessage": "HI"}')
    expect_success(stub, success_document(result={"processedMessage": "HI"}))

    outcome = relay_event(event(), CONFIG, gateways)

    assert (outcome.action, outcome.task_arn) == (RelayAction.SUCCEEDED, SAMPLE["detail"]["taskArn"])
    assert CALLBACK_ID not in json.dumps(outcome.as_dict())


def test_result_over_the_callback_limit_is_passed_by_location(aws):
    gateways, stub, s3 = aws
    big = json.dumps({"blob": "x" * CALLBACK_RESULT_MAX_BYTES}).encode()
    s3.put_object(Bucket=BUCKET, Key=RESULT_KEY, Body=big)
    expect_success(stub, success_document(location=f"s3://{BUCKET}/{RESULT_KEY}"))

    outcome = relay_event(event(), CONFIG, gateways)

    assert outcome.action is RelayAction.SUCCEEDED
    assert "by location" in outcome.reason


def test_result_that_fits_alone_but_not_with_the_envelope_is_passed_by_location(aws):
    gateways, stub, s3 = aws
    body = json.dumps({"text": "x" * (CALLBACK_RESULT_MAX_BYTES - 100)}).encode()
    assert len(body) <= CALLBACK_RESULT_MAX_BYTES
    s3.put_object(Bucket=BUCKET, Key=RESULT_KEY, Body=body)
    expect_success(stub, success_document(location=f"s3://{BUCKET}/{RESULT_KEY}"))

    outcome = relay_event(event(), CONFIG, gateways)

    assert "with the envelope" in outcome.reason


def test_non_ascii_results_are_sent_as_utf8_not_escaped(aws):
    gateways, stub, s3 = aws
    s3.put_object(Bucket=BUCKET, Key=RESULT_KEY, Body=json.dumps({"greeting": "grüß dich, 世界"}).encode())
    expect_success(stub, success_document(result={"greeting": "grüß dich, 世界"}))
    assert relay_event(event(), CONFIG, gateways).action is RelayAction.SUCCEEDED


def test_missing_result_object_still_completes_with_no_result(aws):
    gateways, stub, _ = aws
    expect_success(stub, success_document())
    outcome = relay_event(event(), CONFIG, gateways)
    assert "wrote no result" in outcome.reason


def test_a_result_object_s3_refuses_to_read_is_raised_for_a_retry_and_never_sent_as_a_success(aws):
    # Without s3:ListBucket S3 answers 403 for a missing key too; with it (the template grants it),
    # a 403 is a real permission problem (IAM, bucket policy, KMS key): raised, so Lambda retries the
    # event, then keeps it in the dead-letter queue for a redrive once fixed. Nothing is sent.
    gateways, _, _ = aws  # the Lambda Stubber fails the test on any callback call
    s3 = boto3.client("s3")
    with Stubber(s3) as denied:
        denied.add_client_error("get_object", "AccessDenied", "Access Denied", 403)
        with pytest.raises(ResultAccessDenied) as raised:
            relay_event(event(), CONFIG, Gateways(gateways.callbacks, gateways.tasks, ResultGateway(s3)))
    message = str(raised.value)
    assert f"s3://{BUCKET}/{RESULT_KEY}" in message and "AccessDenied" in message and "403" in message
    assert "s3:ListBucket" in message and "s3:GetObject" in message and "kms:Decrypt" in message


def test_a_missing_result_object_answered_404_completes_with_no_result():
    s3 = boto3.client("s3")
    with Stubber(s3) as missing:
        missing.add_client_error("get_object", "NoSuchKey", "The specified key does not exist.", 404)
        assert ResultGateway(s3).read(f"s3://{BUCKET}/{RESULT_KEY}", 10).size is None


def test_result_location_outside_our_prefix_is_never_read(aws):
    gateways, stub, s3 = aws
    s3.put_object(Bucket=BUCKET, Key="secrets/keys.json", Body=b'{"secret": 1}')
    sample = event()
    sample["detail"]["overrides"]["containerOverrides"][0]["environment"][2]["value"] = (
        f"s3://{BUCKET}/secrets/keys.json"
    )
    expect_success(stub, success_document())
    outcome = relay_event(sample, CONFIG, gateways)
    assert "outside the results prefix" in outcome.reason


def test_nonzero_exit_sends_a_typed_failure(aws):
    gateways, stub, _ = aws
    stub.add_response(
        "send_durable_execution_callback_failure",
        {},
        {
            "CallbackId": CALLBACK_ID,
            "Error": {
                "ErrorType": "WorkerFailed",
                "ErrorMessage": "worker exited with code 3",
                "ErrorData": json.dumps(
                    {
                        "error_type": "WorkerFailed",
                        "message": "worker exited with code 3",
                        "retryable": False,
                        "task_arn": SAMPLE["detail"]["taskArn"],
                        "exit_code": 3,
                        "stop_code": "EssentialContainerExited",
                        "reason": None,
                        "usage": {
                            "cpu": 256,
                            "memory": 512,
                            "capacityProvider": "FARGATE",
                            "pullStartedAt": "2020-01-23T17:57:52.103Z",
                            "stoppedAt": "2020-01-23T17:59:41.234Z",
                        },
                        # Apart, for the retry rules' onStatusReason and onReason.
                        "stopped_reason": "Essential container in task exited",
                        "container_reason": None,
                        "remedy": ErrorType.WORKER_FAILED.remedy,
                    },
                    separators=(",", ":"),
                ),
            },
        },
    )
    outcome = relay_event(event("ecs/stopped-nonzero-exit"), CONFIG, gateways)
    assert (outcome.action, outcome.error_type) == (RelayAction.FAILED, "WorkerFailed")


@pytest.mark.parametrize(
    ("code", "status"),
    [("CallbackTimeoutException", 400), ("ResourceNotFoundException", 404), ("404", 404)],
)
def test_completing_a_closed_callback_is_a_no_op(aws, code, status):
    gateways, stub, _ = aws
    stub.add_client_error("send_durable_execution_callback_failure", code, "closed", status)
    outcome = relay_event(event("ecs/stopped-nonzero-exit"), CONFIG, gateways)
    assert outcome.action is RelayAction.ALREADY_CLOSED


# The errors botocore's Lambda model lists for SendDurableExecutionCallbackSuccess / Failure:
# TooManyRequestsException 429, ServiceException 500, KMS{AccessDenied,Disabled,InvalidState,
# NotFound}Exception 502 (faults), InvalidParameterValueException 400, CallbackTimeoutException 400,
# ResourceNotFoundException 404. Plus what IAM answers any call: AccessDeniedException 403.
@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("TooManyRequestsException", 429),
        ("ServiceException", 500),
        ("KMSAccessDeniedException", 502),
        ("KMSDisabledException", 502),
        ("KMSInvalidStateException", 502),
        ("KMSNotFoundException", 502),
        # Our role lacks the permission: fixable, so kept for a redrive rather than dropped.
        ("AccessDeniedException", 403),
    ],
)
def test_throttling_server_kms_and_permission_errors_are_raised_so_delivery_retries(aws, code, status):
    gateways, stub, _ = aws
    stub.add_client_error("send_durable_execution_callback_failure", code, f"try later {CALLBACK_ID}", status)
    with pytest.raises(CallbackNotDelivered, match=f"{code} \\(HTTP {status}\\)") as raised:
        relay_event(event("ecs/stopped-nonzero-exit"), CONFIG, gateways)
    # The service's message may hold the callback id: the error that reaches the log and the
    # dead-letter record shows it redacted, and chains no original that would show it whole.
    assert CALLBACK_ID not in str(raised.value) and redact(CALLBACK_ID) in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


@pytest.mark.parametrize(
    ("code", "status"),
    [("InvalidParameterValueException", 400), ("ValidationException", 400), ("ConflictException", 409)],
)
def test_a_completion_the_service_refuses_is_recorded_as_rejected_not_retried(aws, code, status):
    # Given a refusal no retry can change (e.g. completing a callback of a stopped execution), whose
    # message echoes the callback id as some services do
    gateways, stub, _ = aws
    stub.add_client_error(
        "send_durable_execution_callback_failure", code, f"Callback {CALLBACK_ID} cannot be completed", status
    )

    outcome = relay_event(event("ecs/stopped-nonzero-exit"), CONFIG, gateways)

    assert outcome.action is RelayAction.REJECTED
    assert code in outcome.reason and str(status) in outcome.reason
    assert outcome.error_type == "WorkerFailed"  # what the relay tried to report
    assert CALLBACK_ID not in json.dumps(outcome.as_dict())
    assert redact(CALLBACK_ID) in outcome.reason


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        (event("ecs/running"), "RUNNING; it has no start callback"),
        (event(lastStatus="PENDING"), "PENDING, not RUNNING or STOPPED"),
        (event(clusterArn="arn:aws:ecs:us-west-2:111122223333:cluster/Other"), "another cluster"),
        (event(startedBy="someone-else/123"), "startedBy marker"),
        (event(startedBy=None), "startedBy marker"),
        (dict(event(), source="aws.ec2"), "not an event the relay handles"),
        (event(containers="oops"), "malformed task detail"),
        (
            event(
                overrides={
                    "containerOverrides": [
                        {
                            "name": "worker",
                            "environment": [{"name": "CALLBACK_ID", "value": "not a callback id!"}],
                        }
                    ]
                }
            ),
            "callback id is malformed",
        ),
        ("not an event", "not an object"),
    ],
)
def test_events_that_are_not_ours_are_ignored_and_nothing_is_sent(aws, sample, reason):
    gateways, _, _ = aws  # the Stubber fails the test on any unexpected call
    outcome = relay_event(sample, CONFIG, gateways)
    assert outcome.action is RelayAction.IGNORED
    assert reason in outcome.reason


def run_task_in_moto(callback_id: str | None) -> tuple[str, str]:
    cluster = moto_worker_cluster("relay-test")
    env = [{"name": "CALLBACK_ID", "value": callback_id}] if callback_id else []
    task = boto3.client("ecs").run_task(
        cluster=cluster.arn,
        taskDefinition="worker",
        launchType="FARGATE",
        startedBy="durable-ecs/abc",
        networkConfiguration=cluster.network(),
        overrides={"containerOverrides": [{"name": "worker", "environment": env}]},
    )["tasks"][0]
    return cluster.arn, task["taskArn"]


@pytest.mark.parametrize(
    ("on_task", "action"), [(CALLBACK_ID, RelayAction.FAILED), (None, RelayAction.IGNORED)]
)
def test_event_without_overrides_falls_back_to_describe_tasks(aws, on_task, action):
    gateways, stub, _ = aws
    cluster, task_arn = run_task_in_moto(on_task)
    sample = event("ecs/stopped-nonzero-exit", clusterArn=cluster, taskArn=task_arn)
    del sample["detail"]["overrides"]
    if on_task:
        stub.add_response("send_durable_execution_callback_failure", {})
    outcome = relay_event(sample, relay_config(cluster_arn=cluster, results_bucket=BUCKET), gateways)
    assert outcome.action == action
    if on_task:
        assert outcome.callback is not None
    else:
        assert outcome.reason == "task carries no callback id"


def relay_environment() -> dict[str, str]:
    """The relay's environment as the template sets it, on this module's cluster and bucket."""
    return template_environment(
        "CompletionRelay", CLUSTER_ARN=CLUSTER, RESULTS_BUCKET=BUCKET, DURABLE_FUNCTION_ARNS=ORCHESTRATOR
    )


def test_handler_logs_and_counts_without_leaking_the_callback_id(aws, monkeypatch, capsys, caplog):
    gateways, stub, _ = aws
    monkeypatch.setattr(relay_handler, "handler", relay_handler.build_handler(lambda: gateways))
    for name, value in relay_environment().items():
        monkeypatch.setenv(name, value)
    stub.add_response("send_durable_execution_callback_failure", {})

    answer = relay_handler.handler(event("ecs/stopped-nonzero-exit"), FakeLambdaContext())

    assert answer["action"] == RelayAction.FAILED
    record = next(r for r in caplog.records if getattr(r, "action", None) == RelayAction.FAILED)
    assert (record.error_type, record.task_arn) == ("WorkerFailed", SAMPLE["detail"]["taskArn"])
    assert CALLBACK_ID not in json.dumps(record.__dict__, default=str)
    emf = json.loads(next(line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line))
    assert emf["TasksFailed"] == [1.0] and emf["TasksFailedWorkerFailed"] == [1.0]
    assert emf["service"] == "completion_relay"


def test_handler_counts_a_rejected_completion_as_rejected_and_logs_it_as_a_warning(
    aws, monkeypatch, capsys, caplog
):
    gateways, stub, _ = aws
    monkeypatch.setattr(relay_handler, "handler", relay_handler.build_handler(lambda: gateways))
    for name, value in relay_environment().items():
        monkeypatch.setenv(name, value)
    stub.add_client_error(
        "send_durable_execution_callback_failure", "InvalidParameterValueException", "no", 400
    )

    answer = relay_handler.handler(event("ecs/stopped-nonzero-exit"), FakeLambdaContext())

    assert answer["action"] == RelayAction.REJECTED
    record = next(r for r in caplog.records if getattr(r, "action", None) == RelayAction.REJECTED)
    assert record.levelname == "WARNING"
    emf = json.loads(next(line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line))
    assert emf["CompletionsRejected"] == [1.0]
    assert "TasksFailed" not in emf and "TasksFailedWorkerFailed" not in emf  # nothing was delivered


def test_an_unreachable_callback_api_is_retried_without_the_callback_id_in_the_error():
    """botocore names the request URL, which holds the callback id; the relay's error must not."""
    unreachable = boto3.client(
        "lambda",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    with pytest.raises(CallbackNotDelivered) as raised:
        CallbackGateway(unreachable).succeed(CALLBACK_ID, b"{}")
    message = str(raised.value)
    assert "EndpointConnectionError" in message and redact(CALLBACK_ID) in message
    assert CALLBACK_ID not in message and quote(CALLBACK_ID, safe="") not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__  # no chained original


# -- cancellation: an ended execution's tasks are stopped -----------------------------------------


def test_cancellation_lists_tasks_with_started_by_as_the_only_filter():
    # botocore's ECS model, ListTasksRequest.startedBy: "When you specify startedBy as the filter, it
    # must be the only filter that you use" (ECS answers InvalidParameterException; moto does not).
    # RUNNING is ListTasks' default desiredStatus, so the answer is the same tasks.
    ecs = boto3.client("ecs")
    marker = "durable-ecs/abc"
    with Stubber(ecs) as stub:
        stub.add_response(
            "list_tasks",
            {"taskArns": ["arn:t1"], "nextToken": "n1"},
            {"cluster": CLUSTER, "startedBy": marker},
        )
        stub.add_response(
            "list_tasks",
            {"taskArns": ["arn:t2"]},
            {"cluster": CLUSTER, "startedBy": marker, "nextToken": "n1"},
        )
        assert EcsGateway(ecs).running(CLUSTER, marker) == ["arn:t1", "arn:t2"]
        stub.assert_no_pending_responses()


def test_a_throttled_list_tasks_is_raised_for_lambda_to_retry_the_event():
    # The same classification as the orchestrator's steps (aws_adapters.errors): Lambda's async
    # retries, then the dead-letter queue, ask again.
    ecs = boto3.client("ecs")
    gateways = Gateways(callbacks=None, tasks=EcsGateway(ecs), results=None)  # type: ignore[arg-type]
    with Stubber(ecs) as stub:
        stub.add_client_error("list_tasks", "ThrottlingException", "Rate exceeded", 400)
        with pytest.raises(AwsUnavailable, match="ListTasks: ThrottlingException"):
            relay_event(event("lambda/execution-stopped"), CONFIG, gateways)
        stub.assert_no_pending_responses()


@pytest.fixture
def cluster_with_tasks():
    """moto ECS, behind the local cloud's ECS rules (ListTasks answers as ECS does), with tasks of two
    executions of ours and one task of somebody else."""
    with mock_aws():
        cluster = moto_worker_cluster("workers")
        ecs = boto3.client("ecs")
        ended = load_event("lambda/execution-stopped")["detail"]["durableExecutionArn"]
        other = ended.replace("9f7d84c9", "00000000")

        def run(started: str) -> str:
            task = ecs.run_task(
                cluster=cluster.arn, taskDefinition="worker", launchType="FARGATE",
                startedBy=started, networkConfiguration=cluster.network(),
            )  # fmt: skip
            return task["tasks"][0]["taskArn"]

        tasks = {
            "ended": run(started_by("durable-ecs", ended)),
            "other-execution": run(started_by("durable-ecs", other)),
            "not-ours": run("someone-else"),
        }
        config = relay_config(
            cluster_arn=cluster.arn, results_bucket=BUCKET, durable_function_arns=(ORCHESTRATOR,)
        )
        yield ecs, config, tasks


def desired(ecs, cluster_arn: str, arn: str) -> str:
    return ecs.describe_tasks(cluster=cluster_arn, tasks=[arn])["tasks"][0]["desiredStatus"]


@pytest.mark.parametrize("status", ["STOPPED", "TIMED_OUT", "FAILED"])
def test_an_ended_execution_has_its_task_stopped_and_no_other(cluster_with_tasks, status):
    ecs, config, tasks = cluster_with_tasks
    sample = event("lambda/execution-stopped", status=status)
    gateways = Gateways(callbacks=None, tasks=EcsGateway(ecs), results=None)  # type: ignore[arg-type]

    outcome = relay_event(sample, config, gateways)

    assert (outcome.action, outcome.task_arn) == (RelayAction.CANCELLED, tasks["ended"])
    assert f"execution {status}; stopped 1 task(s)" == outcome.reason
    assert desired(ecs, config.cluster_arn, tasks["ended"]) == "STOPPED"
    stopped = ecs.describe_tasks(cluster=config.cluster_arn, tasks=[tasks["ended"]])["tasks"][0]
    assert stopped["stoppedReason"] == f"durable execution {status}"
    assert desired(ecs, config.cluster_arn, tasks["other-execution"]) == "RUNNING"
    assert desired(ecs, config.cluster_arn, tasks["not-ours"]) == "RUNNING"
    # A second delivery of the same event finds nothing left to stop
    assert relay_event(sample, config, gateways).action is RelayAction.IGNORED


@pytest.mark.parametrize("qualifier", ["$LATEST", "1", "live"])
def test_an_ended_execution_named_with_another_qualifier_still_has_its_task_stopped(
    cluster_with_tasks, qualifier
):
    # Given the task started with the ARN the orchestrator saw (qualified by its version, 2), and a
    # status-change event that names the same execution with another qualifier
    ecs, config, tasks = cluster_with_tasks
    ended = load_event("lambda/execution-stopped")["detail"]["durableExecutionArn"]
    function, _, rest = ended.partition(":2/durable-execution/")
    sample = event(
        "lambda/execution-stopped", durableExecutionArn=f"{function}:{qualifier}/durable-execution/{rest}"
    )
    gateways = Gateways(callbacks=None, tasks=EcsGateway(ecs), results=None)  # type: ignore[arg-type]

    outcome = relay_event(sample, config, gateways)

    assert (outcome.action, outcome.task_arn) == (RelayAction.CANCELLED, tasks["ended"])
    assert desired(ecs, config.cluster_arn, tasks["other-execution"]) == "RUNNING"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"status": "RUNNING"}, "leaves nothing to stop"),
        ({"status": "SUCCEEDED"}, "leaves nothing to stop"),
        ({"functionArn": "arn:aws:lambda:us-west-2:111122223333:function:other:1"}, "another function"),
        ({"functionArn": ORCHESTRATOR + "-evil:1"}, "another function"),
        ({"durableExecutionArn": None}, "without durableExecutionArn"),
    ],
)
def test_execution_events_that_ask_for_nothing_stop_nothing(cluster_with_tasks, changes, reason):
    ecs, config, tasks = cluster_with_tasks
    gateways = Gateways(callbacks=None, tasks=EcsGateway(ecs), results=None)  # type: ignore[arg-type]
    outcome = relay_event(event("lambda/execution-stopped", **changes), config, gateways)
    assert outcome.action is RelayAction.IGNORED and reason in outcome.reason
    assert {desired(ecs, config.cluster_arn, arn) for arn in tasks.values()} == {"RUNNING"}


START_CALLBACK_ID = "St4rtCallbackIdOpaqueExample0123456789+/AbCdEfGhIjKlMnOpQrSt=="


def with_start_callback(sample: dict) -> dict:
    """The event of a task run with a start timeout: its overrides carry the start callback too."""
    (worker,) = sample["detail"]["overrides"]["containerOverrides"]
    worker["environment"].append({"name": "START_CALLBACK_ID", "value": START_CALLBACK_ID})
    return sample


def expect_started(stub: Stubber, detail: dict) -> None:
    document = {
        "taskArn": detail["taskArn"],
        "lastStatus": detail["lastStatus"],
        "startedAt": detail.get("startedAt"),
    }
    stub.add_response(
        "send_durable_execution_callback_success",
        {},
        {"CallbackId": START_CALLBACK_ID, "Result": json.dumps(document, separators=(",", ":")).encode()},
    )


def test_a_running_task_with_a_start_timeout_has_its_start_callback_completed(aws):
    gateways, stub, _ = aws
    sample = with_start_callback(event("ecs/running"))
    expect_started(stub, sample["detail"])
    outcome = relay_event(sample, CONFIG, gateways)
    assert (outcome.action, outcome.task_arn) == (RelayAction.STARTED, sample["detail"]["taskArn"])
    assert START_CALLBACK_ID not in json.dumps(outcome.as_dict())


def test_a_task_that_stopped_before_it_ran_completes_its_callback_then_its_start_callback(aws):
    # No RUNNING event will come for it: the orchestrator, waiting on the start callback, must wake.
    gateways, stub, _ = aws
    sample = with_start_callback(event("ecs/stopped-failed-to-start"))
    assert sample["detail"].get("startedAt") is None
    stub.add_response(
        "send_durable_execution_callback_failure", {}, {"CallbackId": CALLBACK_ID, "Error": ANY}
    )
    expect_started(stub, sample["detail"])  # after the completion: one resume finds both
    outcome = relay_event(sample, CONFIG, gateways)
    assert (outcome.action, outcome.error_type) == (RelayAction.FAILED, "TaskFailedToStart")


def test_a_task_that_ran_does_not_have_its_start_callback_completed_again_when_it_stops(aws):
    gateways, stub, s3 = aws
    s3.put_object(Bucket=BUCKET, Key=RESULT_KEY, Body=b'{"processedMessage": "HI"}')
    sample = with_start_callback(event())
    stub.add_response(
        "send_durable_execution_callback_success", {}, {"CallbackId": CALLBACK_ID, "Result": ANY}
    )
    assert relay_event(sample, CONFIG, gateways).action is RelayAction.SUCCEEDED
    # (the stub would fail on a second call: its queue holds one response)
