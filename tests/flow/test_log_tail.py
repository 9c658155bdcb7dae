"""The worker's log in every result, on the local cloud: a failed task's last lines in its failure
(read once by the relay, or by the reconcile step when the STOPPED event was lost), and the log
stream named by a success."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from completion_relay.relay import RelayAction
from ecs_contract.documents import ExecutionResult, Operation, ReconcileResult
from ecs_contract.logs import worker_log
from ecs_contract.outcome import TaskFailed
from testkit.local_cloud import PARAMETERS, Cloud, error_type, execution_name, running_cloud, started_task
from testkit.poll import poll

pytestmark = pytest.mark.flow

TAIL_LINES = 2  # LogTailLines: fewer than the failing job prints, to see which ones are kept


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with running_cloud(tmp_path_factory.mktemp("log-tail"), {**PARAMETERS, "LogTailLines": TAIL_LINES}) as up:
        yield up


def failing_job(label: str) -> dict[str, Any]:
    """Prints two lines, then fails. Its progress reports (report_progress) go out only at the
    first: one line an hour, so which lines end its log does not hang on the clock."""
    return {
        "message": label,
        "processingTime": 2,
        "fail": f"{label} broke",
        "overrides": {"environment": {"PROGRESS_INTERVAL_SECONDS": "3600"}},
    }


def expected_lines(label: str) -> list[str]:
    return [
        f"processing '{label}': 0/2 s",
        f"processing '{label}': 1/2 s",
        f"worker: job failed: RuntimeError: job asked to fail: {label} broke",
    ]


def callback_failure(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The Error the relay completed the task's callback with, as the history holds it."""
    (event,) = [e for e in history if e["EventType"] == "CallbackFailed"]
    error: dict[str, Any] = event["CallbackFailedDetails"]["Error"]["Payload"]
    return error


def relay_records(cloud: Cloud, task_arn: str) -> list[dict[str, Any]]:
    log = cloud.state_dir / "logs" / "CompletionRelay.log"
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [r for r in records if r.get("task_arn") == task_arn and "action" in r]


def test_a_failed_task_s_last_lines_come_with_its_failure(cloud: Cloud) -> None:
    # Given a worker that prints lines, then exits non-zero
    arn = cloud.start(failing_job("tail"))

    # When its task stops and the relay completes the callback
    execution = cloud.wait(arn)

    # Then the execution fails with WorkerFailed
    assert (execution["Status"], error_type(execution)) == ("FAILED", "WorkerFailed")
    history = cloud.history(arn)
    task_arn = started_task(history)
    # And the callback failure carries the last LogTailLines lines and names the stream
    error = callback_failure(history)
    data = json.loads(error["ErrorData"])
    assert data["log_tail"] == expected_lines("tail")[-TAIL_LINES:]
    location = worker_log(cloud.target.worker_logs.group, task_arn)
    assert data["log"] == location.to_dict()
    assert location.stream == cloud.target.worker_logs.stream(task_arn)  # the stream the agent writes
    # And its message, the newest of them
    assert error["ErrorMessage"].splitlines() == [
        "worker exited with code 1",
        f"last {TAIL_LINES} line(s) of the worker's log:",
        *(f"  {line}" for line in expected_lines("tail")[-TAIL_LINES:]),
    ]

    # And the relay read it without trouble
    # (its records of the task: the completion, and a heartbeat for the worker's progress line)
    def completions() -> list[dict[str, Any]]:
        return [r for r in relay_records(cloud, task_arn) if r["action"] != RelayAction.HEARTBEAT.value]

    (record,) = poll(completions, 30, what="the relay's record", interval=0.1)
    assert record["action"] == RelayAction.FAILED.value and "log_tail_unread" not in record


def test_a_failure_the_reconcile_step_finds_has_the_tail_too(cloud: Cloud) -> None:
    # Given a failing worker whose STOPPED event is lost
    name = execution_name("tail-reconcile")
    cloud.arm("drop-stopped", name)
    arn = cloud.start(failing_job("lost"), name)

    # When the callback times out and the reconcile step finds the task stopped
    execution = cloud.wait(arn, timeout=PARAMETERS["TaskTimeoutSeconds"] + 60)

    # Then the failure it checkpointed carries the same tail
    assert error_type(execution) == "WorkerFailed"
    history = cloud.history(arn)
    (step,) = [
        e
        for e in history
        if e["EventType"] == "StepSucceeded" and e.get("Name") == Operation.RECONCILE_TASK.named(1)
    ]
    found = ReconcileResult.from_dict(json.loads(step["StepSucceededDetails"]["Result"]["Payload"])).outcome
    assert isinstance(found, TaskFailed)
    assert list(found.log_tail) == expected_lines("lost")[-TAIL_LINES:]
    assert found.log == worker_log(cloud.target.worker_logs.group, started_task(history))


def test_a_success_names_the_worker_s_log(cloud: Cloud) -> None:
    arn = cloud.start({"message": "fine", "processingTime": 0})
    execution = cloud.wait(arn)
    assert execution["Status"] == "SUCCEEDED"
    result = ExecutionResult.from_dict(json.loads(execution["Result"]))
    task_arn = result.completion.task_arn
    assert task_arn is not None
    assert result.completion.log == worker_log(cloud.target.worker_logs.group, task_arn)
    assert json.loads(execution["Result"])["log"]["console"].startswith("https://us-east-1.console.aws")
