"""The library from a second durable function: the sample Pipeline (tasks in sequence, a fan-out
with the SDK's map, a final task) under the SDK's test runner, ECS in moto, completed by the relay."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_durable_execution_sdk_python.execution import InvocationStatus

from completion_relay.relay import RelayAction
from ecs_contract.documents import ExecutionResult, Operation
from ecs_contract.names import JOB_INPUT_ENV, TASK_INDEX_ENV
from pipeline.handler import build_handler
from testkit.moto_relay import MotoEcsRelay, World

PAYLOAD = {"message": "hi", "parts": ["red", "green"], "processingTime": 0}


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    def pipeline_of(aws: MotoEcsRelay) -> Callable[[Any, Any], Any]:
        gateways = aws.gateways()
        return build_handler(lambda: gateways)

    with World.serving(monkeypatch.setenv, pipeline_of) as world:
        yield world


def job_of(world: World, task: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(world.worker_env(task)[JOB_INPUT_ENV]))


def play_worker(world: World, number: int, *, exit_code: int = 0) -> dict[str, Any]:
    """The `number`th task runs the demo job on its message and stops; its event reaches the relay."""
    task = world.started_task(number)
    made = {"processedMessage": job_of(world, task)["message"].upper()}
    relayed = world.stop(task, exit_code=exit_code, result=made if exit_code == 0 else None)
    assert relayed.action is (RelayAction.SUCCEEDED if exit_code == 0 else RelayAction.FAILED)
    return task


def test_tasks_in_sequence_then_a_fan_out_then_a_final_task_each_named_in_the_history(pipeline: World):
    arn = pipeline.start(PAYLOAD)

    # "prepare" first, alone: nothing else starts until it is done
    prepare = play_worker(pipeline, 1)
    assert job_of(pipeline, prepare) == {"message": "hi", "processingTime": 0}
    # then one task per part, on what "prepare" made, then "combine" on what the parts made
    parts = [play_worker(pipeline, 2), play_worker(pipeline, 3)]
    assert sorted(job_of(pipeline, t)["message"] for t in parts) == ["HI green", "HI red"]
    combine = play_worker(pipeline, 4)
    assert job_of(pipeline, combine)["message"] == "HI RED + HI GREEN"  # in the parts' input order

    result = pipeline.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.SUCCEEDED
    assert result.result is not None
    body = json.loads(result.result)
    assert ExecutionResult.from_dict(body["prepare"]).completion.result == {"processedMessage": "HI"}
    assert [ExecutionResult.from_dict(p).completion.result for p in body["parts"]] == [
        {"processedMessage": "HI RED"},
        {"processedMessage": "HI GREEN"},
    ]
    assert ExecutionResult.from_dict(body["combine"]).completion.task_arn == combine["taskArn"]
    assert len(pipeline.run_task_calls) == 4

    # Each task's operations carry its name; the map's branches run theirs in their own contexts
    top = [op.name for op in result.operations]
    assert top == [
        Operation.TASK_COMPLETION.named(1, "prepare"),
        Operation.START_TASK.named(1, "prepare"),
        "parts",
        Operation.TASK_COMPLETION.named(1, "combine"),
        Operation.START_TASK.named(1, "combine"),
    ]
    assert top[0] == "prepare: task-completion #1" and top[-1] == "combine: start-task #1"
    # Every task of the execution carries the execution's startedBy: cancelling it stops them all
    assert len({call["startedBy"] for call in pipeline.run_task_calls}) == 1


def test_a_task_that_fails_fails_the_pipeline_with_the_library_s_typed_error(pipeline: World):
    arn = pipeline.start({**PAYLOAD, "parts": []})
    play_worker(pipeline, 1, exit_code=1)

    result = pipeline.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.FAILED
    assert result.error is not None and result.error.type == "durable_ecs.errors.WorkerFailed"
    assert len(pipeline.run_task_calls) == 1  # nothing after the failed "prepare"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"message": "hi", "parts": "red"}, "'parts' must be a list of at most 1000 strings"),
        ({**PAYLOAD, "parts": ["p"] * 1001}, "'parts' must be a list of at most 1000 strings"),
        ({**PAYLOAD, "maxConcurrency": 0}, "'maxConcurrency' must be a whole number from 1 to 1000"),
        ({**PAYLOAD, "maxConcurrency": 1001}, "'maxConcurrency' must be a whole number from 1 to 1000"),
        ({**PAYLOAD, "maxConcurrency": "5"}, "'maxConcurrency' must be a whole number from 1 to 1000"),
    ],
)
def test_a_bad_input_is_refused_before_any_task_starts(pipeline: World, payload, message):
    arn = pipeline.start(payload)
    result = pipeline.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.FAILED
    assert result.error is not None and result.error.type == "durable_ecs.errors.InvalidInput"
    assert message in str(result.error.message)
    assert pipeline.run_task_calls == []


def test_a_part_that_fails_fails_the_pipeline_with_the_part_s_typed_error_and_combine_never_runs(
    pipeline: World,
):
    arn = pipeline.start({**PAYLOAD, "parts": ["red"]})
    play_worker(pipeline, 1)
    play_worker(pipeline, 2, exit_code=1)

    result = pipeline.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.FAILED
    assert result.error is not None
    assert "exited with code 1" in str(result.error.message)
    assert result.error.type == "durable_ecs.errors.WorkerFailed"
    assert len(pipeline.run_task_calls) == 2


def test_a_part_that_fails_within_the_tolerance_is_listed_and_combine_runs_on_the_others(pipeline: World):
    arn = pipeline.start({**PAYLOAD, "toleratedFailures": 1})
    play_worker(pipeline, 1)
    first, second = pipeline.started_task(2), pipeline.started_task(3)
    failing = first if pipeline.worker_env(first)[TASK_INDEX_ENV] == "0" else second
    for task in (first, second):
        made = {"processedMessage": job_of(pipeline, task)["message"].upper()}
        pipeline.stop(task, exit_code=1 if task is failing else 0, result=None if task is failing else made)
    combine = play_worker(pipeline, 4)
    assert job_of(pipeline, combine)["message"] == "HI GREEN"  # only the part that succeeded

    result = pipeline.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.SUCCEEDED and result.result is not None
    body = json.loads(result.result)
    assert [ExecutionResult.from_dict(p).completion.result for p in body["parts"]] == [
        {"processedMessage": "HI GREEN"}
    ]
    assert [(f["index"], f["status"], f["error"]["type"]) for f in body["failedParts"]] == [
        (0, "FAILED", "WorkerFailed")
    ]


def test_parts_failing_past_the_tolerance_fail_with_the_first_s_typed_error_and_the_summary(pipeline: World):
    arn = pipeline.start({**PAYLOAD, "toleratedFailures": 1, "parts": ["red", "green", "blue"]})
    play_worker(pipeline, 1)
    parts = [pipeline.started_task(n) for n in (2, 3, 4)]
    for task in parts:
        pipeline.stop(task, exit_code=1)

    result = pipeline.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.FAILED and result.error is not None
    assert result.error.type == "durable_ecs.errors.WorkerFailed"
    assert "part: " in str(result.error.message) and "tasks failed (1 tolerated;" in str(result.error.message)
    assert len(pipeline.run_task_calls) == 4  # no "combine"


def test_a_bad_tolerance_is_refused_before_any_task_starts(pipeline: World):
    arn = pipeline.start({**PAYLOAD, "toleratedFailures": -1})
    result = pipeline.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.FAILED and result.error is not None
    assert result.error.type == "durable_ecs.errors.InvalidInput"
    assert "'toleratedFailures' must be" in str(result.error.message)
    assert pipeline.run_task_calls == []
