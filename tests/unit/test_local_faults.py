"""The local cloud's fault registry, execution events and redrive records, without a running cloud."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from completion_relay.relay import ENDED_STATUSES
from ecs_contract.names import EXECUTION_STATUS_CHANGE, started_by
from local.executions import ExecutionWatcher
from local.faults import FaultError, Faults, event_started_by
from local.redrive import original_event
from local.seed import lambda_arn
from local.template import Function
from testkit.paths import ROOT, load_event
from testkit.template import relay_config

# Two executions of the orchestrator, and the startedBy of the tasks each starts (the marker, then
# a digest of the execution ARN: ecs_contract.names.started_by).
ARN_A = f"{lambda_arn('Orchestrator')}:1/durable-execution/job-a/0b8f5c2e"
ARN_B = f"{lambda_arn('Orchestrator')}:1/durable-execution/job-b/7d41a9e0"
TASK_OF_A, TASK_OF_B = started_by("durable-ecs", ARN_A), started_by("durable-ecs", ARN_B)


def executions(name: str) -> list[str]:
    return {"job-a": [ARN_A], "job-b": [ARN_B]}.get(name, [])


def test_a_fault_fires_only_for_its_kind_and_execution_and_only_count_times():
    faults = Faults(executions)
    faults.arm("relay-error", "job-a", count=2)
    assert not faults.fire("relay-error", TASK_OF_B)
    assert not faults.fire("drop-stopped", TASK_OF_A)
    assert not faults.fire("relay-error", None)  # a task started by hand, without startedBy
    assert not faults.fire("relay-error", "durable-ecs/" + "0" * 32)  # another execution's task
    assert [faults.fire("relay-error", TASK_OF_A) for _ in range(3)] == [True, True, False]
    assert faults.listing() == [{"kind": "relay-error", "execution": "job-a", "count": 2, "fired": 2}]


def test_a_fault_matches_whatever_marker_and_qualifier_name_the_execution():
    faults = Faults(lambda name: [ARN_A.replace(":1/", ":$LATEST/")])  # the same execution, unqualified
    faults.arm("never-start", "job-a")
    assert faults.fire("never-start", started_by("other-marker", ARN_A))


@pytest.mark.parametrize(
    ("kind", "execution", "count", "error"),
    [
        ("meteor", "m", 1, "unknown fault 'meteor'"),
        ("drop-stopped", "m", 0, "count"),
        ("drop-stopped", "m", True, "count"),
        ("drop-stopped", "", 1, "durable execution's name"),
        ("drop-stopped", None, 1, "durable execution's name"),
        ("drop-stopped", "has space", 1, "1 to 64 letters, digits, '-' or '_'"),
        ("drop-stopped", "x" * 65, 1, "invoke --name"),
    ],
)
def test_a_fault_that_cannot_be_armed_says_why(kind, execution, count, error):
    with pytest.raises(FaultError, match=error):
        Faults().arm(kind, execution, count)


def test_the_started_by_is_read_from_the_tasks_event():
    event = load_event("ecs/stopped-success")
    assert event_started_by(event) == event["detail"]["startedBy"]
    assert event_started_by({"detail": {}}) is None


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
    config = relay_config(
        cluster_arn="c", results_bucket="b", durable_function_arns=(lambda_arn("Orchestrator"),)
    )
    assert (
        config.is_durable_function(event["detail"]["functionArn"])
        and event["detail"]["status"] in ENDED_STATUSES
    )


def test_redrive_takes_the_event_out_of_either_kind_of_dead_letter():
    event = load_event("ecs/stopped-success")
    assert original_event(json.dumps(event)) == event  # EventBridge: the event itself
    record = {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": event}
    assert original_event(json.dumps(record)) == event  # Lambda's on-failure record
