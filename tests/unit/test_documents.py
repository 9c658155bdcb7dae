"""The documents the orchestrator checkpoints and returns, in their wire form.

Deployed executions replay what an earlier version checkpointed, and callers parse the execution's
result: these literals are the compatibility promise, spelled here once on purpose. Everything
else in the repository reads and writes them through ecs_contract.documents.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ecs_contract.cost import AttemptCost
from ecs_contract.documents import (
    CallbackSuccess,
    CompletedBy,
    ExecutionResult,
    Operation,
    ReconcileResult,
    StartTaskResult,
    TaskState,
)
from ecs_contract.logs import LogLocation
from ecs_contract.outcome import ErrorType, TaskFailed, TaskSucceeded
from ecs_contract.usage import TaskUsage

ARN = "arn:aws:ecs:us-east-1:123456789012:task/workers/t1"
FAILURE = TaskFailed(ErrorType.CAPACITY_UNAVAILABLE, "RunTask started no task: RESOURCE:ENI", retryable=True)
USAGE = TaskUsage(1024, 4096, "FARGATE_SPOT", "2026-01-02T03:03:55Z", "2026-01-02T03:05:05Z")
USAGE_WIRE = {
    "cpu": 1024,
    "memory": 4096,
    "capacityProvider": "FARGATE_SPOT",
    "pullStartedAt": "2026-01-02T03:03:55Z",
    "stoppedAt": "2026-01-02T03:05:05Z",
}
# A Spot attempt interrupted, then the on-demand one that succeeded (figures given, not computed
# here: tests/unit/test_cost.py checks the arithmetic).
COSTS = (
    AttemptCost("FARGATE_SPOT", 70, 70.0, 280.0, 0.000339, 2, 0.000016, 3, 0.000001),
    AttemptCost("FARGATE", 60, 60.0, 240.0, 0.000971, 2, 0.000016, 2, 0.000001),
)
COSTS_WIRE = {
    "totalUsd": 0.001344,
    "attempts": [
        {
            "capacityProvider": "FARGATE_SPOT",
            "billedSeconds": 70,
            "vcpuSeconds": 70.0,
            "gbSeconds": 280.0,
            "fargateUsd": 0.000339,
            "durableOperations": 2,
            "durableOperationsUsd": 0.000016,
            "invocations": 3,
            "invocationsUsd": 0.000001,
            "totalUsd": 0.000356,
        },
        {
            "capacityProvider": "FARGATE",
            "billedSeconds": 60,
            "vcpuSeconds": 60.0,
            "gbSeconds": 240.0,
            "fargateUsd": 0.000971,
            "durableOperations": 2,
            "durableOperationsUsd": 0.000016,
            "invocations": 2,
            "invocationsUsd": 0.000001,
            "totalUsd": 0.000988,
        },
    ],
}
LOG = LogLocation.of_task("/stack/worker", ARN, "us-east-1")
LOG_WIRE = {
    "group": "/stack/worker",
    "stream": "worker/worker/t1",
    "console": "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/"
    "log-group/$252Fstack$252Fworker/log-events/worker$252Fworker$252Ft1",
}
SUCCESS = CallbackSuccess(
    ARN, 0, "2026-01-02T03:04:05Z", "2026-01-02T03:05:05Z", {"ok": True}, None, USAGE, LOG
)
SUCCESS_WIRE = {
    "taskArn": ARN,
    "exitCode": 0,
    "startedAt": "2026-01-02T03:04:05Z",
    "stoppedAt": "2026-01-02T03:05:05Z",
    "result": {"ok": True},
    "resultLocation": None,
    "usage": USAGE_WIRE,
    "log": LOG_WIRE,
}


def test_operation_names_are_the_ones_deployed_histories_hold():
    assert [op.named(2) for op in Operation] == [
        "task-completion #2",
        "start-task #2",
        "reconcile-task #2",
        "stop-timed-out-task #2",
        "backoff #2",
        "task-started #2",
        "reconcile-start #2",
        "stop-unstarted-task #2",
        "stop-hung-task #2",
    ]
    assert Operation.START_TASK.names("start-task #12") and Operation.START_TASK.names("start-task")
    assert not Operation.START_TASK.names("start-task-2") and not Operation.START_TASK.names(None)
    assert not Operation.START_TASK.names("start-ecs-task")  # the polling baseline's step


@pytest.mark.parametrize(
    ("document", "wire"),
    [
        (StartTaskResult(ARN), {"taskArn": ARN}),
        (StartTaskResult(FAILURE), {"failure": FAILURE.callback_error()}),
        (ReconcileResult.unknown(), {"state": "unknown"}),
        (ReconcileResult.running("DEPROVISIONING"), {"state": "running", "lastStatus": "DEPROVISIONING"}),
        (ReconcileResult.stopped(FAILURE), {"state": "stopped", "failure": FAILURE.callback_error()}),
        (ReconcileResult.stopped(SUCCESS), {"state": "stopped", "completion": SUCCESS_WIRE}),
        (SUCCESS, SUCCESS_WIRE),
        (
            ExecutionResult(SUCCESS, CompletedBy.RECONCILE, attempts=2),
            {
                "status": "SUCCEEDED",
                "taskArn": ARN,
                "exitCode": 0,
                "result": {"ok": True},
                "resultLocation": None,
                "startedAt": "2026-01-02T03:04:05Z",
                "stoppedAt": "2026-01-02T03:05:05Z",
                "completedBy": "reconcile",
                "attempts": 2,
                "usage": USAGE_WIRE,
                "cost": {"totalUsd": 0.0, "attempts": []},
                "log": LOG_WIRE,
            },
        ),
        (
            ExecutionResult(SUCCESS, CompletedBy.EVENT, attempts=2, costs=COSTS),
            {
                "status": "SUCCEEDED",
                "taskArn": ARN,
                "exitCode": 0,
                "result": {"ok": True},
                "resultLocation": None,
                "startedAt": "2026-01-02T03:04:05Z",
                "stoppedAt": "2026-01-02T03:05:05Z",
                "completedBy": "event",
                "attempts": 2,
                "usage": USAGE_WIRE,
                "cost": COSTS_WIRE,
                "log": LOG_WIRE,
            },
        ),
    ],
)
def test_each_document_has_its_wire_form_and_reads_back_from_it(document, wire):
    # The bytes too: key order is kept (the callback limit counts the bytes, the README shows them).
    assert json.dumps(document.to_dict()) == json.dumps(wire)
    assert type(document).from_dict(json.loads(json.dumps(wire))) == document


def test_a_failure_checkpointed_by_the_start_step_reads_back_as_the_same_failure():
    assert StartTaskResult.from_dict({"failure": FAILURE.callback_error()}).outcome == FAILURE


def test_a_completion_sent_by_hand_reads_missing_keys_as_unknown():
    """An operator may complete the callback with less than the relay sends."""
    assert CallbackSuccess.from_dict({"exitCode": 0}, task_arn=ARN) == CallbackSuccess(ARN, 0)
    assert CallbackSuccess.from_dict({}) == CallbackSuccess(None, None)


def test_the_success_document_carries_the_outcome_of_decide():
    outcome = TaskSucceeded(ARN, 0, "2026-01-02T03:04:05Z", "2026-01-02T03:05:05Z", USAGE)
    assert CallbackSuccess.of(outcome, {"ok": True}, log=LOG) == SUCCESS
    assert ReconcileResult.stopped(SUCCESS).state is TaskState.STOPPED


def test_a_failure_reads_back_with_its_usage_and_without_fields_it_does_not_know():
    """An execution replays with the code it started with, while the relay may already be newer and
    send more: the fields this version knows are read, the others left, never an Unknown failure."""
    failure = TaskFailed(ErrorType.TASK_INTERRUPTED, "interrupted", retryable=True, task_arn=ARN, usage=USAGE)
    error = failure.callback_error()
    assert json.loads(error["ErrorData"])["usage"] == USAGE_WIRE
    newer = {**json.loads(error["ErrorData"]), "a_field_of_a_newer_relay": [1, 2]}
    assert TaskFailed.from_callback_error(error["ErrorMessage"], json.dumps(newer)) == failure


def test_a_failure_carries_the_task_s_and_the_container_s_reasons_apart_and_an_older_one_reads_without():
    """The retry rules match each (ecs_contract.retry_rules); a failure an older relay sent has neither."""
    failure = TaskFailed(
        ErrorType.OUT_OF_MEMORY,
        "worker ran out of memory",
        task_arn=ARN,
        exit_code=137,
        reason="OutOfMemoryError: Container killed due to memory usage",
        stopped_reason="Essential container in task exited",
        container_reason="OutOfMemoryError: Container killed due to memory usage",
    )
    error = failure.callback_error()
    sent = json.loads(error["ErrorData"])
    assert (sent["stopped_reason"], sent["container_reason"]) == (
        "Essential container in task exited",
        "OutOfMemoryError: Container killed due to memory usage",
    )
    assert TaskFailed.from_callback_error(error["ErrorMessage"], error["ErrorData"]) == failure
    older = {k: v for k, v in sent.items() if k not in ("stopped_reason", "container_reason")}
    assert TaskFailed.from_callback_error(error["ErrorMessage"], json.dumps(older)) == replace(
        failure, stopped_reason=None, container_reason=None
    )


def test_a_failure_carries_its_log_and_tail_in_its_data_and_the_newest_lines_in_its_message():
    failure = TaskFailed(ErrorType.WORKER_FAILED, "worker exited with code 1", task_arn=ARN, exit_code=1)
    failure = failure.with_log(LOG, [f"line {i}" for i in range(8)])
    error = failure.callback_error()
    data = json.loads(error["ErrorData"])
    assert data["log"] == LOG_WIRE
    assert data["log_tail"] == [f"line {i}" for i in range(8)]
    assert error["ErrorMessage"] == (
        "worker exited with code 1\nlast 5 line(s) of the worker's log:\n"
        "  line 3\n  line 4\n  line 5\n  line 6\n  line 7"
    )
    assert TaskFailed.from_callback_error(error["ErrorMessage"], error["ErrorData"]) == failure
    # Without a tail the message is the failure's own, as before.
    assert TaskFailed(ErrorType.WORKER_FAILED, "exited").callback_error()["ErrorMessage"] == "exited"
