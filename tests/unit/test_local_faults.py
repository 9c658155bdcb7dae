"""The local cloud's fault registry, execution events and redrive records, without a running cloud."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from completion_relay.config import RelayConfig
from completion_relay.relay import ENDED_STATUSES
from ecs_contract.names import EXECUTION_STATUS_CHANGE
from local.executions import ExecutionWatcher
from local.faults import FaultError, Faults, event_job_message, job_message
from local.redrive import original_event
from local.seed import lambda_arn
from local.template import Function
from testkit.paths import ROOT, load_event


def test_a_fault_fires_only_for_its_kind_and_job_and_only_count_times():
    faults = Faults()
    faults.arm("relay-error", "job-a", count=2)
    assert not faults.fire("relay-error", "job-b")
    assert not faults.fire("drop-stopped", "job-a")
    assert [faults.fire("relay-error", "job-a") for _ in range(3)] == [True, True, False]
    assert faults.listing() == [{"kind": "relay-error", "message": "job-a", "count": 2, "fired": 2}]


@pytest.mark.parametrize(
    ("kind", "message", "count", "error"),
    [
        ("meteor", "m", 1, "unknown fault 'meteor'"),
        ("drop-stopped", "m", 0, "count"),
        ("drop-stopped", "", 1, "message"),
    ],
)
def test_a_fault_that_cannot_be_armed_says_why(kind, message, count, error):
    with pytest.raises(FaultError, match=error):
        Faults().arm(kind, message, count)


def test_the_job_message_is_read_from_the_task_environment_and_from_its_event():
    assert job_message({"JOB_INPUT": json.dumps({"message": "hi"})}) == "hi"
    assert job_message({"JOB_INPUT": "not json"}) is None
    assert job_message({"JOB_INPUT": "[1]"}) is None
    event = load_event("ecs/stopped-success")
    env = event["detail"]["overrides"]["containerOverrides"][0]["environment"]
    expected = json.loads(next(e["value"] for e in env if e["name"] == "JOB_INPUT")).get("message")
    assert event_job_message(event) == expected
    assert event_job_message({"detail": {}}) is None


class FakeRunner:
    def __init__(self, pages):
        self.pages = pages

    def list_durable_executions_by_function(self, **kwargs):
        return self.pages[kwargs.get("Marker", 0)]


def test_the_watcher_publishes_each_status_change_once_in_lambdas_event_shape():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    running = {"DurableExecutionArn": "e1", "Status": "RUNNING", "StartTimestamp": start}
    stopped = {**running, "Status": "STOPPED", "EndTimestamp": start, "FunctionArn": "arn:x:other"}
    published: list[dict[str, Any]] = []

    def publish(event: dict[str, Any]) -> int:
        published.append(event)
        return 1  # as the bus answers: how many rules the event matched

    orchestrator = Function("Orchestrator", "h", ROOT, (), {}, 60, 256, {"ExecutionTimeout": 60}, 0, None, ())
    runner = FakeRunner({0: {"DurableExecutions": [running], "NextMarker": 1}, 1: {"DurableExecutions": []}})
    watcher = ExecutionWatcher([orchestrator], runner, publish, "123456789012", "us-east-1")
    watcher.scan(orchestrator)
    watcher.scan(orchestrator)  # nothing changed: nothing published
    runner.pages[0] = {"DurableExecutions": [stopped]}
    watcher.scan(orchestrator)

    assert [e["detail"]["status"] for e in published] == ["RUNNING", "STOPPED"]
    event = published[-1]
    assert EXECUTION_STATUS_CHANGE.of(event)
    assert event["detail"]["functionArn"] == lambda_arn("Orchestrator")  # a foreign ARN is not echoed
    assert event["detail"]["endTimestamp"].endswith("Z")
    config = RelayConfig("c", "b", orchestrator_function_arn=lambda_arn("Orchestrator"))
    assert (
        config.is_orchestrator(event["detail"]["functionArn"]) and event["detail"]["status"] in ENDED_STATUSES
    )


def test_redrive_takes_the_event_out_of_either_kind_of_dead_letter():
    event = load_event("ecs/stopped-success")
    assert original_event(json.dumps(event)) == event  # EventBridge: the event itself
    record = {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": event}
    assert original_event(json.dumps(record)) == event  # Lambda's on-failure record
