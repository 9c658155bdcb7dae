"""`run_tasks`, the library's fan-out, from a durable function of the test's own under the SDK's
test runner: ECS in moto, every task completed by the relay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.execution import InvocationStatus
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from moto import mock_aws

from aws_adapters.ecs import EcsGateway
from aws_adapters.s3 import ResultGateway
from completion_relay.relay import RelayAction
from durable_ecs import EcsSettings, FanOutResult, Gateways, ItemStatus, TaskRequest, run_tasks
from ecs_contract.documents import ExecutionResult, Operation
from ecs_contract.names import JOB_INPUT_ENV, TASK_ATTEMPT_ENV, TASK_INDEX_ENV
from testkit.moto_relay import MotoEcsRelay, World
from testkit.moto_world import BUCKET

WORDS = ["a", "b", "c", "d", "e"]


@pytest.fixture
def fan_out(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with mock_aws():
        aws = MotoEcsRelay.create(BUCKET)
        for name, value in aws.environment(30).items():
            monkeypatch.setenv(name, value)
        gateways = Gateways(EcsGateway(aws.orchestrator_ecs), ResultGateway(aws.orchestrator_s3))

        @durable_execution
        def handler(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
            requests = [TaskRequest(job={"message": word, "processingTime": 0}) for word in event["words"]]
            return run_tasks(
                ctx,
                "word",
                requests,
                max_concurrency=event["maxConcurrency"],
                tolerated_failures=event.get("toleratedFailures"),
                settings=EcsSettings.from_env(),
                gateways=gateways,
            ).to_dict()

        with DurableFunctionTestRunner(handler=handler, poll_interval=0.02) as runner:
            yield World.around(aws, runner)


def index_of(world: World, task: dict[str, Any]) -> int:
    return int(world.worker_env(task)[TASK_INDEX_ENV])


def finish(world: World, task: dict[str, Any], *, fails: bool = False) -> None:
    """Play the worker: upper-case its message, or exit 1."""
    message = json.loads(world.worker_env(task)[JOB_INPUT_ENV])["message"]
    made = None if fails else {"processedMessage": message.upper()}
    relayed = world.stop(task, exit_code=1 if fails else 0, result=made)
    assert relayed.action is (RelayAction.FAILED if fails else RelayAction.SUCCEEDED)


def play(world: World, count: int, failing: set[int], *, started_at_most: int) -> None:
    """Finish the first `count` tasks in the order they started, the `failing` indexes with exit 1;
    with n finished, at most n + `started_at_most` tasks may have started (the concurrency limit)."""
    for number in range(1, count + 1):
        task = world.started_task(number)
        assert len(world.task_arns()) <= number - 1 + started_at_most
        finish(world, task, fails=index_of(world, task) in failing)


def test_five_tasks_two_at_a_time_all_succeed_and_the_results_keep_the_input_order(fan_out: World):
    arn = fan_out.start({"words": WORDS, "maxConcurrency": 2})
    # The second task started finishes first: the result's order is still the input's
    first, second = fan_out.started_task(1), fan_out.started_task(2)
    assert len(fan_out.task_arns()) == 2
    finish(fan_out, second)
    finish(fan_out, first)
    for number in range(3, 6):
        task = fan_out.started_task(number)
        assert len(fan_out.task_arns()) <= number + 1
        finish(fan_out, task)

    result = fan_out.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.SUCCEEDED and result.result is not None
    body = json.loads(result.result)
    assert body["summary"] == {"succeeded": 5, "failed": 0, "notFinished": 0, "total": 5}
    assert [item["index"] for item in body["items"]] == [0, 1, 2, 3, 4]
    made = [ExecutionResult.from_dict(item["result"]).completion.result for item in body["items"]]
    assert made == [{"processedMessage": word.upper()} for word in WORDS]
    # Each task's operations carry "word <index>", inside the map named "word"
    assert [op.name for op in result.operations] == ["word"]
    names = {op.name for op in result.get_all_operations()}
    assert Operation.START_TASK.named(1, "word 3") == "word 3: start-task #1"
    assert {Operation.START_TASK.named(1, f"word {i}") for i in range(5)} <= names
    assert len(fan_out.run_task_calls) == 5


def test_each_task_reads_its_index_and_its_attempt_in_its_environment(fan_out: World):
    arn = fan_out.start({"words": WORDS[:3], "maxConcurrency": 3})
    play(fan_out, 3, set(), started_at_most=3)
    assert fan_out.runner.wait_for_result(arn, timeout=30).status is InvocationStatus.SUCCEEDED

    def env_of(call: dict[str, Any]) -> dict[str, str]:
        pairs = call["overrides"]["containerOverrides"][0]["environment"]
        return {pair["name"]: pair["value"] for pair in pairs}

    sent = sorted(
        (env_of(call)[TASK_INDEX_ENV], env_of(call)[TASK_ATTEMPT_ENV]) for call in fan_out.run_task_calls
    )
    assert sent == [("0", "1"), ("1", "1"), ("2", "1")]
    by_index = {
        env_of(c)[TASK_INDEX_ENV]: json.loads(env_of(c)[JOB_INPUT_ENV])["message"]
        for c in fan_out.run_task_calls
    }
    assert by_index == {"0": "a", "1": "b", "2": "c"}


def test_one_failure_of_five_within_a_tolerance_of_one_is_listed_in_the_result(fan_out: World):
    arn = fan_out.start({"words": WORDS, "maxConcurrency": 2, "toleratedFailures": 1})
    play(fan_out, 5, {3}, started_at_most=2)

    result = fan_out.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.SUCCEEDED and result.result is not None
    body = json.loads(result.result)
    assert body["summary"] == {"succeeded": 4, "failed": 1, "notFinished": 0, "total": 5}
    failed = body["items"][3]
    assert failed["status"] == ItemStatus.FAILED.value and failed["error"]["type"] == "WorkerFailed"
    assert "exited with code 1" in failed["error"]["message"]
    assert [item["status"] for item in body["items"]].count("SUCCEEDED") == 4


def test_two_failures_of_five_past_a_tolerance_of_one_fail_the_execution_with_fan_out_failed(fan_out: World):
    arn = fan_out.start({"words": WORDS, "maxConcurrency": 2, "toleratedFailures": 1})
    play(fan_out, 2, {0, 1}, started_at_most=2)

    result = fan_out.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.FAILED and result.error is not None
    assert result.error.type == "durable_ecs.errors.FanOutFailed"
    message = str(result.error.message)
    assert message.startswith("word: 2 of 5 tasks failed (1 tolerated;")
    assert "word 0: WorkerFailed: " in message and "word 1: WorkerFailed: " in message
    assert len(fan_out.run_task_calls) <= 4  # the batch stopped starting tasks once it failed


def test_fan_out_result_document_round_trips_its_summary():
    empty = FanOutResult(())
    assert empty.to_dict() == {
        "summary": {"succeeded": 0, "failed": 0, "notFinished": 0, "total": 0},
        "items": [],
    }
