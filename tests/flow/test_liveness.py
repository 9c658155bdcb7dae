"""Liveness on the local cloud (LivenessTimeoutSeconds): the worker's progress lines pass the
template's subscription filter to the relay, which heartbeats the task's callback; a worker that
goes silent (fault "hang") is stopped when the liveness timeout passes, its attempt a TaskHung that
names its last progress, and retried; a worker that keeps reporting runs past the timeout."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from completion_relay.relay import RelayAction
from ecs_contract.documents import ExecutionResult, Operation
from ecs_contract.progress import parse_progress
from testkit.local_cloud import PARAMETERS, Cloud, entry, execution_name, kinds, running_cloud, step_result

pytestmark = pytest.mark.flow

# The first heartbeat must come within it: RunTask, the worker's start, its first progress line,
# the subscription's batch and the relay's cold start on a loaded machine; short enough to wait for.
LIVENESS = 10
PROCESSING = 2 * LIVENESS + 5  # the healthy job runs well past the liveness timeout


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    state_dir = tmp_path_factory.mktemp("liveness-cloud")
    parameters = {**PARAMETERS, "TaskTimeoutSeconds": 120, "LivenessTimeoutSeconds": LIVENESS}
    with running_cloud(state_dir, parameters) as running:
        yield running


def heartbeats(cloud: Cloud, task_arn: str) -> list[dict[str, object]]:
    """The relay's invocations by the log subscription for this task, as the local cloud recorded them."""
    path = cloud.state_dir / "subscriptions.jsonl"
    task_id = task_arn.rsplit("/", 1)[-1]
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [r for r in records if str(r["logStream"]).endswith(f"/{task_id}")]


def test_a_worker_that_reports_progress_runs_past_the_liveness_timeout(cloud: Cloud) -> None:
    arn = cloud.start({"message": "alive", "processingTime": PROCESSING})
    execution = cloud.wait(arn, timeout=PROCESSING + 60)
    assert execution["Status"] == "SUCCEEDED", execution.get("Error")
    result = ExecutionResult.from_dict(json.loads(execution["Result"]))
    assert result.attempts == 1
    assert entry("CallbackSucceeded", Operation.TASK_COMPLETION) in kinds(cloud.history(arn))
    # Only progress lines reached the relay (the demo's plain lines did not), and it heartbeated
    delivered = heartbeats(cloud, result.completion.task_arn or "")
    assert len(delivered) >= PROCESSING // LIVENESS
    messages = [m for record in delivered for m in record["messages"]]  # type: ignore[attr-defined]
    assert all(parse_progress(m) is not None for m in messages)
    assert {json.loads(str(r["response"]))["action"] for r in delivered} <= {
        RelayAction.HEARTBEAT,
        RelayAction.IGNORED,  # the last line may come after the task stopped
    }
    assert RelayAction.HEARTBEAT in cloud.relay_actions(result.completion.task_arn or "", heartbeats=True)


def test_a_hung_worker_is_stopped_at_the_liveness_timeout_and_retried_as_task_hung(cloud: Cloud) -> None:
    name = execution_name("hang")
    cloud.arm("hang", name)
    arn = cloud.start({"message": "hangs", "processingTime": 3}, name)
    execution = cloud.wait(arn, timeout=LIVENESS + 90)
    assert execution["Status"] == "SUCCEEDED", execution.get("Error")
    result = ExecutionResult.from_dict(json.loads(execution["Result"]))
    assert result.attempts == 2
    history = cloud.history(arn)
    assert entry("CallbackTimedOut", Operation.TASK_COMPLETION) in kinds(history)
    assert entry("StepSucceeded", Operation.RECONCILE_TASK) in kinds(history)
    assert entry("StepSucceeded", Operation.STOP_HUNG_TASK) in kinds(history)
    assert entry("StepSucceeded", Operation.STOP_TIMED_OUT_TASK) not in kinds(history)
    # The hung attempt's failure says when the last progress came and what it said: the worker's first
    # progress line, after which the fault froze it
    failure = step_result(history, Operation.STOP_HUNG_TASK.named(1))["failure"]
    assert failure["ErrorType"] == "TaskHung"
    message = failure["ErrorMessage"]
    assert message.startswith(
        f"task hung: no progress for {LIVENESS} s; last progress 0% processing 'hangs': 0/3 s at 20"
    )
    first, second = sorted(cloud.tasks_of(arn), key=lambda t: t["createdAt"])
    assert first["stopCode"] == "UserInitiated"
    assert first["stoppedReason"] == f"task hung: no progress for {LIVENESS} s"
    assert result.completion.task_arn == second["taskArn"]


def test_without_read_worker_log_tail_a_hung_task_s_failure_says_its_log_was_refused(cloud: Cloud) -> None:
    """The statement's second flow (tests/flow/test_iam.py has its log-tail flow): dropped, the hang
    is still found and the task stopped, but its last progress cannot be read."""
    statement = "Orchestrator/ReadWorkerLogTail"
    assert cloud.control("/iam/drop", "POST", {"statements": [statement]}) == {"dropped": [statement]}
    try:
        name = execution_name("hang-no-log")
        cloud.arm("hang", name)
        arn = cloud.start({"message": "hangs", "processingTime": 3}, name)
        execution = cloud.wait(arn, timeout=LIVENESS + 90)
    finally:
        cloud.control("/iam/restore", "POST", {})
    assert execution["Status"] == "SUCCEEDED", execution.get("Error")
    failure = step_result(cloud.history(arn), Operation.STOP_HUNG_TASK.named(1))["failure"]
    assert failure["ErrorMessage"].startswith(
        f"task hung: no progress for {LIVENESS} s; "
        "its log could not be read (AccessDeniedException); it was stopped"
    )
