"""The relay's heartbeat path: a CloudWatch Logs subscription payload of progress lines, botocore
Stubbers on ECS (one DescribeTasks per payload) and on the callback API (one heartbeat per task)."""

from __future__ import annotations

import base64
import gzip
import json
import logging
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from aws_adapters.ecs import EcsGateway
from aws_adapters.s3 import ResultGateway
from completion_relay import handler as relay_handler
from completion_relay.gateways import CallbackGateway
from completion_relay.liveness import relay_progress
from completion_relay.relay import Gateways, RelayAction
from ecs_contract.names import redact, started_by
from ecs_contract.progress import Progress
from testkit.lambda_context import FakeLambdaContext
from testkit.template import relay_config

CLUSTER = "arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster"
MARKER = "durable-ecs"
EXECUTION = "arn:aws:lambda:us-west-2:111122223333:function:o:1/durable-execution/o/e1"
CALLBACKS = {
    "0a1b2c3d4e5f": "Ab3dEfGh1jKlMnOpQrStUvWxYz0123456789+/HeartbeatCallbackIdOne==",
    "9f8e7d6c5b4a": "Zy9xWvUt8sRqPoNmLkJiHgFeDcBa9876543210+/HeartbeatCallbackIdTwo==",
}
CONFIG = relay_config(cluster_arn=CLUSTER, started_by_marker=MARKER)


def payload(stream: str, *messages: str, message_type: str = "DATA_MESSAGE") -> dict[str, Any]:
    """CloudWatch Logs' payload for a Lambda subscription, as the Lambda developer guide shows it."""
    document = {
        "messageType": message_type,
        "owner": "111122223333",
        "logGroup": "/durable-ecs/worker",
        "logStream": stream,
        "subscriptionFilters": ["durable-ecs-WorkerProgressSubscription-1"],
        "logEvents": [
            {"id": str(i), "timestamp": 1_764_614_400_000 + i, "message": m} for i, m in enumerate(messages)
        ],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(document).encode())).decode()}}


def task(task_id: str, status: str = "RUNNING", marker: str = MARKER) -> dict[str, Any]:
    return {
        "taskArn": f"arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/{task_id}",
        "clusterArn": CLUSTER,
        "lastStatus": status,
        "startedBy": started_by(marker, EXECUTION),
        "containers": [{"name": "worker", "lastStatus": status}],
        "overrides": {
            "containerOverrides": [
                {"name": "worker", "environment": [{"name": "CALLBACK_ID", "value": CALLBACKS[task_id]}]}
            ]
        },
    }


@pytest.fixture
def stubs():
    ecs, lambda_client = (
        boto3.client(s, region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
        for s in ("ecs", "lambda")
    )
    with Stubber(ecs) as ecs_stub, Stubber(lambda_client) as lambda_stub:
        gateways = Gateways(
            callbacks=CallbackGateway(lambda_client),
            tasks=EcsGateway(ecs),
            results=ResultGateway(boto3.client("s3", region_name="us-west-2")),
        )
        yield gateways, ecs_stub, lambda_stub
        ecs_stub.assert_no_pending_responses()
        lambda_stub.assert_no_pending_responses()


LINES = [
    Progress.of(0.1, "first").line(),
    Progress.of(0.2, "second").line(),
    Progress.of(0.3, "third").line(),
]


def test_one_describe_and_one_heartbeat_per_task_however_many_lines(stubs):
    gateways, ecs, callbacks = stubs
    ecs.add_response(
        "describe_tasks", {"tasks": [task("0a1b2c3d4e5f")]}, {"cluster": CLUSTER, "tasks": ["0a1b2c3d4e5f"]}
    )
    callbacks.add_response(
        "send_durable_execution_callback_heartbeat", {}, {"CallbackId": CALLBACKS["0a1b2c3d4e5f"]}
    )
    result = relay_progress(payload("worker/worker/0a1b2c3d4e5f", *LINES), CONFIG, gateways)
    assert result.action is RelayAction.HEARTBEAT
    assert result.reason == "1 heartbeat(s); last progress 30% third"
    assert result.callback == redact(CALLBACKS["0a1b2c3d4e5f"])


def test_the_tasks_of_a_payload_are_described_in_one_call(stubs, monkeypatch):
    """CloudWatch Logs sends one stream a payload; the relay's core takes several (one DescribeTasks)."""
    from completion_relay import liveness

    gateways, ecs, callbacks = stubs
    ids = list(CALLBACKS)
    ecs.add_response("describe_tasks", {"tasks": [task(i) for i in ids]}, {"cluster": CLUSTER, "tasks": ids})
    for i in ids:
        callbacks.add_response("send_durable_execution_callback_heartbeat", {}, {"CallbackId": CALLBACKS[i]})
    reports = [liveness.TaskProgress(i, Progress.of(0.5, i)) for i in ids]
    monkeypatch.setattr(liveness, "progress_of", lambda event: reports)
    result = relay_progress(payload("worker/worker/x", LINES[0]), CONFIG, gateways)
    assert result.action is RelayAction.HEARTBEAT and result.reason.startswith("2 heartbeat(s)")


@pytest.mark.parametrize(
    ("described", "why"),
    [
        (task("0a1b2c3d4e5f", status="STOPPED"), "STOPPED, no open callback"),
        (task("0a1b2c3d4e5f", marker="someone-else"), "not a task of ours"),
    ],
)
def test_no_heartbeat_for_a_stopped_task_or_one_not_ours(stubs, described, why):
    gateways, ecs, _ = stubs
    ecs.add_response(
        "describe_tasks", {"tasks": [described]}, {"cluster": CLUSTER, "tasks": ["0a1b2c3d4e5f"]}
    )
    result = relay_progress(payload("worker/worker/0a1b2c3d4e5f", LINES[0]), CONFIG, gateways)
    assert result.action is RelayAction.IGNORED and why in result.reason


@pytest.mark.parametrize(
    "event",
    [
        payload("worker/worker/0a1b2c3d4e5f", "plain line, no progress"),
        payload("worker/worker/0a1b2c3d4e5f", LINES[0], message_type="CONTROL_MESSAGE"),
        payload("other/stream/0a1b2c3d4e5f", LINES[0]),
        {"awslogs": {"data": "bm90IGd6aXA="}},
    ],
)
def test_what_is_not_a_worker_s_progress_calls_nothing(stubs, event):
    gateways, _, _ = stubs
    assert relay_progress(event, CONFIG, gateways).action is RelayAction.IGNORED


@pytest.mark.parametrize(
    ("code", "status", "why"),
    [
        ("CallbackTimeoutException", 400, "callback already closed"),
        ("TooManyRequestsException", 429, "heartbeat not sent"),
        ("ServiceException", 500, "heartbeat not sent"),
    ],
)
def test_a_heartbeat_that_fails_is_not_retried_and_never_names_the_callback(stubs, code, status, why):
    gateways, ecs, callbacks = stubs
    callback_id = CALLBACKS["0a1b2c3d4e5f"]
    ecs.add_response(
        "describe_tasks", {"tasks": [task("0a1b2c3d4e5f")]}, {"cluster": CLUSTER, "tasks": ["0a1b2c3d4e5f"]}
    )
    callbacks.add_client_error(
        "send_durable_execution_callback_heartbeat",
        service_error_code=code,
        service_message=f"callback {callback_id} refused",
        http_status_code=status,
        expected_params={"CallbackId": callback_id},
    )
    result = relay_progress(payload("worker/worker/0a1b2c3d4e5f", LINES[0]), CONFIG, gateways)
    assert result.action is RelayAction.IGNORED and why in result.reason
    assert callback_id not in json.dumps(result.as_dict())


def test_the_handler_routes_a_logs_payload_and_logs_no_callback_id(stubs, monkeypatch, caplog, capsys):
    gateways, ecs, callbacks = stubs
    monkeypatch.setattr(relay_handler, "aws_gateways", lambda: gateways)
    for key, value in {
        "CLUSTER_ARN": CLUSTER,
        "RESULTS_BUCKET": "bucket",
        "DURABLE_FUNCTION_ARNS": "arn:aws:lambda:us-west-2:111122223333:function:o",
        "STARTED_BY_MARKER": MARKER,
        "WORKER_LOG_GROUP": "/stack/worker",
        "LOG_TAIL_LINES": "20",
    }.items():
        monkeypatch.setenv(key, value)
    ecs.add_response(
        "describe_tasks", {"tasks": [task("0a1b2c3d4e5f")]}, {"cluster": CLUSTER, "tasks": ["0a1b2c3d4e5f"]}
    )
    callbacks.add_response(
        "send_durable_execution_callback_heartbeat", {}, {"CallbackId": CALLBACKS["0a1b2c3d4e5f"]}
    )
    handler = relay_handler.build_handler(lambda: gateways)
    with caplog.at_level(logging.DEBUG):
        answer = handler(payload("worker/worker/0a1b2c3d4e5f", *LINES), FakeLambdaContext())
    assert answer["action"] == RelayAction.HEARTBEAT
    out = capsys.readouterr()
    for callback_id in CALLBACKS.values():
        assert callback_id not in out.out + out.err + caplog.text
