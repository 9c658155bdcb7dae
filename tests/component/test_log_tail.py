"""A failed task's last log lines, read once into its failure (the relay and the reconcile step), and
the log stream named in every result; a read that fails never holds back the completion."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_durable_execution_sdk_python.execution import InvocationStatus
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends

from aws_adapters.logs import LogGateway
from aws_adapters.s3 import ResultGateway
from completion_relay import handler as relay_handler
from completion_relay.gateways import Delivery
from completion_relay.relay import Gateways, RelayAction, RelayResult, relay_event
from ecs_contract.documents import Operation, ReconcileResult
from ecs_contract.logs import worker_log
from ecs_contract.outcome import TaskFailed
from testkit.paths import load_event
from testkit.template import relay_config

CLUSTER = "arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster"
CONFIG = relay_config(cluster_arn=CLUSTER, results_bucket="example-results-bucket")
FAILED = load_event("ecs/stopped-nonzero-exit")
NEVER_STARTED = load_event("ecs/stopped-failed-to-start")
LOG = worker_log(CONFIG.worker_log_group, FAILED["detail"]["taskArn"])


@dataclass
class Callbacks:
    """The callback API, recording what the relay sent."""

    failures: list[dict[str, str]] = field(default_factory=list)
    successes: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, callback_id: str, error: dict[str, str]) -> Delivery:
        self.failures.append(error)
        return Delivery.SENT

    def succeed(self, callback_id: str, result: bytes) -> Delivery:
        self.successes.append(json.loads(result))
        return Delivery.SENT


@pytest.fixture
def logs() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("logs")
        client.create_log_group(logGroupName=CONFIG.worker_log_group)
        yield client


def write_lines(logs: Any, lines: list[str], stream: str = LOG.stream) -> None:
    logs.create_log_stream(logGroupName=CONFIG.worker_log_group, logStreamName=stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=CONFIG.worker_log_group, logStreamName=stream, logEvents=events)


def relay(event: dict[str, Any], logs_client: Any, **config: Any) -> tuple[RelayResult, dict[str, str]]:
    callbacks = Callbacks()
    gateways = Gateways(callbacks, None, None, LogGateway(logs_client))  # type: ignore[arg-type]
    outcome = relay_event(event, relay_config(cluster_arn=CLUSTER, **config), gateways)
    (error,) = callbacks.failures
    return outcome, error


def test_a_failed_task_s_last_lines_are_in_its_error_data_and_the_newest_in_its_message(logs):
    # Given a worker that printed 30 lines, then exited 3
    write_lines(logs, [f"step {i}" for i in range(30)])

    # When the relay completes its callback
    outcome, error = relay(FAILED, logs)

    # Then the failure carries the last LogTailLines (20) lines and names the stream
    assert (outcome.action, outcome.log_tail_unread) == (RelayAction.FAILED, None)
    data = json.loads(error["ErrorData"])
    assert data["log_tail"] == [f"step {i}" for i in range(10, 30)]
    assert data["log"] == LOG.to_dict()
    assert data["log"]["stream"] == "worker/worker/c13b4cb40f1f4fe4a2971f76ae5a47ad"
    # And its message is the failure's, then the newest five lines
    assert error["ErrorMessage"].splitlines() == [
        "worker exited with code 3",
        "last 5 line(s) of the worker's log:",
        *(f"  step {i}" for i in range(25, 30)),
    ]
    # And the orchestrator reads the same failure back from the callback
    failure = TaskFailed.from_callback_error(error["ErrorMessage"], error["ErrorData"])
    assert (failure.log, failure.log_tail[-1]) == (LOG, "step 29")


def test_a_missing_stream_is_no_tail_and_the_stream_is_still_named(logs):
    _, error = relay(FAILED, logs)
    data = json.loads(error["ErrorData"])
    assert (data["log_tail"], data["log"]) == ([], LOG.to_dict())
    assert error["ErrorMessage"] == "worker exited with code 3"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("AccessDeniedException", 400),  # Logs' AccessDenied (modeled without a status: JSON's 400)
        ("ThrottlingException", 400),  # GetLogEvents: 25 requests a second per account and Region
        ("ServiceUnavailableException", 500),
    ],
)
def test_a_log_read_that_fails_never_holds_back_the_completion(code, status, caplog):
    # Given a log read that is denied, throttled or fails
    logs = boto3.client("logs")
    with Stubber(logs) as refused:
        refused.add_client_error("get_log_events", code, "no", status)
        # When the relay completes the failed task's callback
        outcome, error = relay(FAILED, logs)
    # Then the failure is sent, without the tail but with the stream, and says why
    assert outcome.action is RelayAction.FAILED
    assert outcome.log_tail_unread is not None and code in outcome.log_tail_unread
    data = json.loads(error["ErrorData"])
    assert (data["log_tail"], data["log"]) == ([], LOG.to_dict())
    # And the handler logs the reason as a warning
    with caplog.at_level(logging.INFO):
        relay_handler.record(outcome)
    (record,) = [r for r in caplog.records if r.getMessage() == "relay: failed"]
    assert record.levelno == logging.WARNING and code in record.log_tail_unread


def test_no_read_when_the_tail_is_off_or_the_task_never_ran():
    logs = boto3.client("logs")
    with Stubber(logs):  # any call fails the test: none is expected
        _, off = relay(FAILED, logs, log_tail_lines=0)
        _, unstarted = relay(NEVER_STARTED, logs)
    assert json.loads(off["ErrorData"])["log"] == LOG.to_dict()  # named all the same
    assert json.loads(unstarted["ErrorData"])["log"] is None  # no stream was ever made
    assert json.loads(unstarted["ErrorData"])["log_tail"] == []


def test_a_success_names_the_worker_s_stream_and_reads_nothing_of_it():
    logs, callbacks = boto3.client("logs"), Callbacks()
    event = load_event("ecs/stopped-success")
    with mock_aws(), Stubber(logs):  # any log call fails the test
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=CONFIG.results_bucket)
        gateways = Gateways(callbacks, None, ResultGateway(s3), LogGateway(logs))  # type: ignore[arg-type]
        assert relay_event(event, CONFIG, gateways).action is RelayAction.SUCCEEDED
    (document,) = callbacks.successes
    assert document["log"] == worker_log(CONFIG.worker_log_group, event["detail"]["taskArn"]).to_dict()


# ---------------------------------------------------------------- the reconcile step


@pytest.mark.parametrize("task_timeout", [2])
def test_a_failure_found_by_the_reconcile_step_carries_the_tail_too(world):
    # Given a task that printed lines, exited 2, and whose STOPPED event was lost
    arn = world.start({"message": "event lost", "processingTime": 1})
    task = world.started_task()
    region = world.ecs.meta.region_name
    cluster = world.cluster_arn.rsplit("/", 1)[1]
    stored: Any = ecs_backends[DEFAULT_ACCOUNT_ID][region].tasks[cluster][task["taskArn"]]
    stored.started_at = datetime.now(UTC)  # it ran (moto stamps no startedAt)
    logs = boto3.client("logs")
    group = world.environment(2)["WORKER_LOG_GROUP"]
    location = worker_log(group, task["taskArn"])
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=location.stream)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=location.stream,
        logEvents=[{"timestamp": now + i, "message": f"line {i}"} for i in range(3)],
    )
    world.finish_without_event(task, exit_code=2, reason="job failed")

    # When the callback times out and the reconcile step finds the task stopped
    result = world.runner.wait_for_result(arn, timeout=30)

    # Then the failure it checkpointed has the stream and its last lines
    assert result.status is InvocationStatus.FAILED
    step = result.get_step(Operation.RECONCILE_TASK.named(1))
    found = ReconcileResult.from_dict(json.loads(step.result)).outcome
    assert isinstance(found, TaskFailed)
    assert (found.log, found.log_tail) == (location, ("line 0", "line 1", "line 2"))
