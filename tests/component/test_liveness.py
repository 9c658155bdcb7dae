"""Liveness under the SDK's durable runner (which enforces a callback's heartbeat timeout): a task
whose callback gets no heartbeat within LivenessTimeoutSeconds is stopped and fails as TaskHung
naming its last progress line; one heartbeated past it runs on and succeeds."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from aws_durable_execution_sdk_python.execution import InvocationStatus
from aws_durable_execution_sdk_python.lambda_service import OperationStatus

from aws_adapters.logs import LogGateway
from ecs_contract.documents import ExecutionResult, Operation
from ecs_contract.logs import LogLocation
from ecs_contract.progress import Progress
from orchestrator.handler import build_handler
from testkit.moto_relay import MotoEcsRelay, World

LIVENESS = 2
LOG_GROUP = "/t/worker"  # testkit.template.NAMES: what the template's WORKER_LOG_GROUP resolves to


def with_logs(aws: MotoEcsRelay) -> Callable[[Any, Any], Any]:
    gateways = replace(aws.gateways(), logs=LogGateway(boto3.client("logs")))
    return build_handler(lambda: gateways)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with World.serving(monkeypatch.setenv, with_logs, task_timeout=60) as world:
        monkeypatch.setenv("LIVENESS_TIMEOUT_SECONDS", str(LIVENESS))
        monkeypatch.setenv("MAX_ATTEMPTS", "1")
        boto3.client("logs").create_log_group(logGroupName=LOG_GROUP)
        yield world


def print_lines(task_arn: str, *lines: str) -> None:
    """What the awslogs driver writes of the worker's output."""
    logs = boto3.client("logs")
    stream = LogLocation.of_task(LOG_GROUP, task_arn, "us-east-1").stream
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    now = int(time.time() * 1000)  # CloudWatch Logs refuses events older than 14 days
    events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)


def test_a_silent_task_is_stopped_and_fails_as_hung_naming_its_last_progress(world):
    arn = world.start({"message": "hangs", "processingTime": 50})
    task = world.started_task()
    last = Progress.of(0.4, "chunk 4 of 10", at="2026-12-01T18:50:00Z")
    print_lines(task["taskArn"], Progress.of(0.1, "chunk 1").line(), last.line(), "then silence")

    result = world.runner.wait_for_result(arn, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "orchestrator.errors.TaskHung"
    assert result.error.message.startswith(f"task hung: no progress for {LIVENESS} s; ")
    assert "last progress 40% chunk 4 of 10 at 2026-12-01T18:50:00Z; it was stopped" in result.error.message
    assert result.get_callback(Operation.TASK_COMPLETION.named(1)).status is OperationStatus.TIMED_OUT
    assert result.get_step(Operation.STOP_HUNG_TASK.named(1)).status is OperationStatus.SUCCEEDED
    assert Operation.STOP_TIMED_OUT_TASK.named(1) not in [op.name for op in result.operations]
    (stopped,) = world.describe([task["taskArn"]])
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["stoppedReason"] == f"task hung: no progress for {LIVENESS} s"


def test_a_task_heartbeated_within_the_liveness_timeout_runs_past_it_and_succeeds(world):
    arn = world.start({"message": "alive", "processingTime": 50})
    task = world.started_task()
    callback_id = world.runner.wait_for_callback(arn, name=Operation.TASK_COMPLETION.named(1), timeout=10)
    # The relay heartbeats the callback on each progress line: here twice per liveness timeout,
    # for three timeouts' worth
    done = threading.Event()

    def heartbeats() -> None:
        for _ in range(6):
            world.runner.send_callback_heartbeat(callback_id)
            if done.wait(LIVENESS / 2):
                return

    beating = threading.Thread(target=heartbeats)
    beating.start()
    beating.join()
    world.stop(task, exit_code=0, result={"alive": True})
    done.set()

    result = world.runner.wait_for_result(arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert ExecutionResult.from_dict(json.loads(result.result)).completion.result == {"alive": True}
    assert result.get_callback(Operation.TASK_COMPLETION.named(1)).status is OperationStatus.SUCCEEDED
