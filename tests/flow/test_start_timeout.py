"""A start timeout (StartTimeoutSeconds) on the local cloud: the relay completes each task's start
callback on its RUNNING event, and a task stuck in PROVISIONING is stopped when the start timeout
passes and retried, without waiting for the run's timeout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from completion_relay.relay import RelayAction
from ecs_contract.documents import ExecutionResult, Operation
from testkit.local_cloud import PARAMETERS, Cloud, entry, execution_name, kinds, running_cloud
from testkit.poll import poll

pytestmark = pytest.mark.flow

# Long enough for a RUNNING event to reach the relay on a loaded machine (a cold start included),
# short enough that the stuck task's test does not wait long.
START_TIMEOUT = 10
CLOSED = ("CallbackSucceeded", "CallbackFailed", "CallbackTimedOut")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    state_dir = tmp_path_factory.mktemp("start-timeout-cloud")
    with running_cloud(state_dir, {**PARAMETERS, "StartTimeoutSeconds": START_TIMEOUT}) as running:
        yield running


def closed_once(history: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The callbacks created and closed; none is created or closed twice."""
    created = [e["Name"] for e in history if e["EventType"] == "CallbackStarted"]
    closed = [e["Name"] for e in history if e["EventType"] in CLOSED]
    assert len(set(created)) == len(created) and len(set(closed)) == len(closed), (created, closed)
    assert set(closed) <= set(created)
    return created, closed


def operations(history: list[dict[str, Any]]) -> set[str]:
    """The durable operations of the history, the execution's own aside."""
    return {e["Name"] for e in history if e.get("Name") and not e["EventType"].startswith("Execution")}


def test_the_relay_tells_the_orchestrator_the_task_started(cloud: Cloud) -> None:
    arn = cloud.start({"message": "started", "processingTime": 1})
    execution = cloud.wait(arn)
    assert execution["Status"] == "SUCCEEDED", execution.get("Error")
    result = ExecutionResult.from_dict(json.loads(execution["Result"]))
    history = cloud.history(arn)
    created, closed = closed_once(history)
    assert (
        sorted(created)
        == sorted(closed)
        == sorted([Operation.TASK_COMPLETION.named(1), Operation.TASK_STARTED.named(1)])
    )
    assert entry("CallbackSucceeded", Operation.TASK_STARTED) in kinds(history)
    assert not [k for k in kinds(history) if Operation.RECONCILE_START.value in k]
    actions = poll(
        lambda: len(a := cloud.relay_actions(result.completion.task_arn or "")) == 2 and a, what="2"
    )
    assert actions == sorted([RelayAction.STARTED, RelayAction.SUCCEEDED])
    # What it cost: its two callbacks and its start step; the relay's and the resume's invocations
    # on RUNNING, then on STOPPED
    [spent] = result.costs
    assert (spent.durable_operations, spent.invocations) == (3, 4) and spent.fargate_usd > 0
    assert spent.durable_operations == len(operations(history))


def test_a_task_stuck_in_provisioning_is_stopped_at_the_start_timeout_and_retried(cloud: Cloud) -> None:
    name = execution_name("stuck")
    cloud.arm("stuck-provisioning", name)
    arn = cloud.start({"message": "stuck", "processingTime": 1}, name)
    execution = cloud.wait(arn, timeout=START_TIMEOUT + 60)
    assert execution["Status"] == "SUCCEEDED", execution.get("Error")
    result = ExecutionResult.from_dict(json.loads(execution["Result"]))
    assert result.attempts == 2
    history = cloud.history(arn)
    closed_once(history)
    assert entry("CallbackTimedOut", Operation.TASK_STARTED) in kinds(history)
    assert entry("StepSucceeded", Operation.RECONCILE_START) in kinds(history)
    assert entry("StepSucceeded", Operation.STOP_UNSTARTED_TASK) in kinds(history)
    # The run's timeout was never reached: the first task's completion callback did not time out
    assert entry("CallbackTimedOut", Operation.TASK_COMPLETION) not in kinds(history)
    first, second = sorted(cloud.tasks_of(arn), key=lambda t: t["createdAt"])
    assert first.get("startedAt") is None and first["stopCode"] == "UserInitiated"
    assert first["stoppedReason"] == f"task did not start within {START_TIMEOUT} s"
    # Stuck on Spot: the next attempt runs on on-demand Fargate, at once
    assert (first["capacityProviderName"], second["capacityProviderName"]) == ("FARGATE_SPOT", "FARGATE")
    assert result.completion.task_arn == second["taskArn"]
    assert entry("WaitSucceeded", Operation.BACKOFF) not in kinds(history)
    # What each attempt cost: the stuck one, its two callbacks, start, reconcile-start and stop steps,
    # and no Fargate (it never pulled its image); the second, as a task that started
    spent = [(c.durable_operations, c.invocations, c.fargate_usd > 0) for c in result.costs]
    assert spent == [(5, 3, False), (3, 4, True)]
    assert sum(c.durable_operations for c in result.costs) == len(operations(history))
