"""`run_tasks`, the library's fan-out, from a durable function of the test's own under the SDK's
test runner: ECS in moto, every task completed by the relay."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from fractions import Fraction
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.execution import InvocationStatus

from completion_relay.relay import RelayAction
from durable_ecs import EcsSettings, FanOutResult, ItemStatus, TaskRequest, run_tasks
from ecs_contract.documents import ExecutionResult, Operation
from ecs_contract.names import JOB_INPUT_ENV, TASK_ATTEMPT_ENV, TASK_INDEX_ENV
from local.ecs_rules import EcsRules, EcsRulesConfig
from local.rates import TokenRate
from testkit.local_ecs import Clock
from testkit.moto_relay import MotoEcsRelay, World
from testkit.poll import poll

WORDS = ["a", "b", "c", "d", "e"]


@pytest.fixture
def fan_out(monkeypatch: pytest.MonkeyPatch, ecs_rules: bool | EcsRules) -> Iterator[World]:
    def fan_out_of(aws: MotoEcsRelay) -> Callable[[Any, Any], Any]:
        gateways = aws.gateways()

        @durable_execution
        def handler(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
            requests = [TaskRequest(job={"message": word, "processingTime": 0}) for word in event["words"]]
            return run_tasks(
                ctx,
                "word",
                requests,
                max_concurrency=event["maxConcurrency"],
                tolerated_failures=event.get("toleratedFailures"),
                tolerated_failure_percentage=event.get("toleratedPercentage"),
                settings=EcsSettings.from_env(),
                gateways=gateways,
            ).to_dict()

        return handler

    # The tests play every worker: how long a task may run is not under test here, and a wall-clock
    # bound of 30 s failed the throttling test on a loaded machine (TaskTimedOut for the first task,
    # which waits while the others back off).
    with World.serving(monkeypatch.setenv, fan_out_of, task_timeout=3600, ecs_rules=ecs_rules) as world:
        yield world


def index_of(world: World, task: dict[str, Any]) -> int:
    return int(world.worker_env(task)[TASK_INDEX_ENV])


def finish(world: World, task: dict[str, Any], *, fails: bool = False) -> None:
    """Play the worker: upper-case its message, or exit 1."""
    message = json.loads(world.worker_env(task)[JOB_INPUT_ENV])["message"]
    made = None if fails else {"processedMessage": message.upper()}
    relayed = world.stop(task, exit_code=1 if fails else 0, result=made)
    assert relayed.action is (RelayAction.FAILED if fails else RelayAction.SUCCEEDED)


def settled(world: World, arn: str, tasks: int, timeout: float = 10) -> None:
    """Wait until `tasks` tasks started and each one's start step is in the history: the invocation
    that started the last one makes no checkpoint after it (its branches wait on their callbacks).

    Why: a callback completed while an invocation runs reaches that invocation in a checkpoint
    response, and the SDK's map resumes its branch only in a later invocation, woken by the next
    completion (test_sdk_map_completions pins this). These tests play every worker themselves, so
    they complete callbacks between invocations: each step they assert then follows from the one
    before, not from thread timing.
    """

    def started_steps() -> int | None:
        events = world.runner.get_execution_history(arn).events
        done = sum(1 for e in events if e.event_type == "StepSucceeded" and "start-task" in (e.name or ""))
        return done if done >= tasks and len(world.task_arns()) >= tasks else None

    poll(started_steps, timeout=timeout, what=f"{tasks} tasks started and checkpointed")


def play(world: World, arn: str, count: int, failing: set[int], *, concurrency: int, total: int) -> None:
    """Finish the first `count` tasks in the order they started, the `failing` indexes with exit 1;
    with n finished, exactly min(total, n + concurrency) tasks have started (the concurrency limit)."""
    for number in range(1, count + 1):
        expected = min(total, number - 1 + concurrency)
        settled(world, arn, expected)
        assert len(world.task_arns()) == expected
        task = world.started_task(number)
        finish(world, task, fails=index_of(world, task) in failing)


def test_five_tasks_two_at_a_time_all_succeed_and_the_results_keep_the_input_order(fan_out: World):
    arn = fan_out.start({"words": WORDS, "maxConcurrency": 2})
    # The second task started finishes first: the result's order is still the input's
    settled(fan_out, arn, 2)
    first, second = fan_out.started_task(1), fan_out.started_task(2)
    assert len(fan_out.task_arns()) == 2
    finish(fan_out, second)
    settled(fan_out, arn, 3)
    finish(fan_out, first)
    for number in range(3, 6):
        settled(fan_out, arn, min(5, number + 1))
        assert len(fan_out.task_arns()) == min(5, number + 1)
        finish(fan_out, fan_out.started_task(number))

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
    # Two durable operations a task (its callback, its start step) and one for the map: items run
    # without a context of their own (FLAT), against Lambda's 3,000 operations an execution
    kinds = sorted(str(op.operation_type.value) for op in result.get_all_operations())
    assert kinds == ["CALLBACK"] * 5 + ["CONTEXT"] + ["STEP"] * 5


def test_each_task_reads_its_index_and_its_attempt_in_its_environment(fan_out: World):
    arn = fan_out.start({"words": WORDS[:3], "maxConcurrency": 3})
    play(fan_out, arn, 3, set(), concurrency=3, total=3)
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
    play(fan_out, arn, 5, {3}, concurrency=2, total=5)

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
    play(fan_out, arn, 2, {0, 1}, concurrency=2, total=5)

    result = fan_out.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.FAILED and result.error is not None
    assert result.error.type == "durable_ecs.errors.FanOutFailed"
    message = str(result.error.message)
    assert message.startswith("word: 2 of 5 tasks failed (1 tolerated;")
    assert "word 0: WorkerFailed: " in message and "word 1: WorkerFailed: " in message
    assert len(fan_out.run_task_calls) == 3  # the batch started no task after it failed
    # The caller reads the summary and each failure's own details as JSON (ErrorData)
    data = json.loads(result.error.data or "")
    summary = data["summary"]
    assert (summary["failed"], summary["total"], summary["succeeded"] + summary["notFinished"]) == (2, 5, 3)
    details = [json.loads(f["error"]["data"]) for f in data["failures"]]
    assert sorted(d["exit_code"] for d in details) == [1, 1]
    assert {d["error_type"] for d in details} == {"WorkerFailed"}


def test_a_retried_task_reads_its_second_attempt_and_the_same_index(fan_out: World, monkeypatch):
    monkeypatch.setenv("RETRY_DELAY_SECONDS", "1")
    monkeypatch.setenv("RETRY_MAX_DELAY_SECONDS", "1")
    arn = fan_out.start({"words": WORDS[:2], "maxConcurrency": 2})
    settled(fan_out, arn, 2)
    first, second = fan_out.started_task(1), fan_out.started_task(2)
    interrupted = first if index_of(fan_out, first) == 1 else second
    finish(fan_out, second if interrupted is first else first)
    settled(fan_out, arn, 2)
    fan_out.stop(interrupted, exit_code=143, stop_code="SpotInterruption")  # retryable
    again = fan_out.started_task(3)
    assert fan_out.worker_env(again)[TASK_INDEX_ENV] == "1"
    assert fan_out.worker_env(again)[TASK_ATTEMPT_ENV] == "2"
    finish(fan_out, again)

    result = fan_out.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.SUCCEEDED and result.result is not None
    assert json.loads(result.result)["items"][1]["result"]["attempts"] == 2
    assert Operation.START_TASK.named(2, "word 1") in {op.name for op in result.get_all_operations()}


def test_failures_past_a_tolerated_percentage_fail_the_execution(fan_out: World):
    arn = fan_out.start({"words": WORDS, "maxConcurrency": 5, "toleratedPercentage": 20})
    play(fan_out, arn, 2, {0, 1, 2, 3, 4}, concurrency=5, total=5)  # 2 of 5 = 40 % > 20 %

    result = fan_out.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.FAILED and result.error is not None
    assert result.error.type == "durable_ecs.errors.FanOutFailed"
    assert str(result.error.message).startswith("word: 2 of 5 tasks failed (20% tolerated;")


@pytest.mark.parametrize(
    "ecs_rules",
    # The account's RunTask bucket holds 2, refills 1 a second, and only when the test moves the clock.
    [EcsRules(EcsRulesConfig(run_task_rate=TokenRate(2, Fraction(1))), clock=Clock(frozen=True))],
)
def test_throttled_starts_during_a_fan_out_back_off_and_start_every_task_once(fan_out: World, ecs_rules):
    arn = fan_out.start({"words": WORDS, "maxConcurrency": 5}, execution_timeout=3600)
    # Two start; the three others are throttled (a real ThrottlingException from behind the local
    # rules) and asked again with backoff, their steps never failing...
    settled(fan_out, arn, 2)
    poll(lambda: len(fan_out.run_task_calls) >= 8 or None, timeout=60, what="throttled starts asked again")
    assert len(fan_out.task_arns()) == 2
    # ... until the bucket refills (1 a second, holding 2 at most): each starts once
    ecs_rules.clock.skip(timedelta(seconds=2))
    settled(fan_out, arn, 4, timeout=30)
    ecs_rules.clock.skip(timedelta(seconds=1))
    settled(fan_out, arn, 5, timeout=30)
    for number in range(1, 6):
        finish(fan_out, fan_out.started_task(number))

    result = fan_out.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.SUCCEEDED and result.result is not None
    assert json.loads(result.result)["summary"] == {"succeeded": 5, "failed": 0, "notFinished": 0, "total": 5}
    assert len(fan_out.task_arns()) == 5
    tokens = {call["clientToken"] for call in fan_out.run_task_calls}
    assert len(tokens) == 5 < len(fan_out.run_task_calls)  # one token per task, however often asked
    # No task began a second attempt: throttling is not a failed start
    assert all(op.name is None or "#2" not in op.name for op in result.get_all_operations())


def test_fan_out_result_document_round_trips_its_summary():
    empty = FanOutResult(())
    assert empty.to_dict() == {
        "summary": {"succeeded": 0, "failed": 0, "notFinished": 0, "total": 0},
        "items": [],
    }


def test_a_task_that_finishes_while_the_invocation_runs_on_frees_its_slot_in_that_invocation(
    monkeypatch: pytest.MonkeyPatch,
):
    # Two at a time, three items; item 1's RunTask is held (its step runs on, so the invocation
    # does), while item 0's task finishes: item 2 must start in that same invocation.
    release = threading.Event()

    def held_fan_out(aws: MotoEcsRelay) -> Callable[[Any, Any], Any]:
        gateways = aws.gateways()
        start = gateways.tasks.start

        def held(launch: Any, **kwargs: Any) -> Any:
            environment = kwargs["overrides"]["containerOverrides"][0]["environment"]
            if {"name": TASK_INDEX_ENV, "value": "1"} in environment:
                release.wait(60)
            return start(launch, **kwargs)

        monkeypatch.setattr(gateways.tasks, "start", held)

        @durable_execution
        def handler(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
            requests = [TaskRequest(job={"message": word, "processingTime": 0}) for word in event["words"]]
            return run_tasks(ctx, "word", requests, max_concurrency=2, gateways=gateways).to_dict()

        return handler

    with World.serving(monkeypatch.setenv, held_fan_out) as world:
        arn = world.start({"words": WORDS[:3]})
        finish(world, world.started_task(1))  # item 0's: item 1's start is held
        started = poll(
            lambda: world.task_arns()[1:] or None, timeout=20, what="item 2's task, item 1 still held"
        )
        assert index_of(world, world.describe(started)[0]) == 2 and not release.is_set()

        release.set()
        for number in (2, 3):
            finish(world, world.started_task(number))
        result = world.runner.wait_for_result(arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED and result.result is not None
    assert json.loads(result.result)["summary"]["succeeded"] == 3


def test_a_fan_out_item_whose_task_hangs_fails_as_task_hung_and_the_others_finish(
    fan_out: World, monkeypatch
):
    # Given a liveness timeout and one attempt per task
    monkeypatch.setenv("LIVENESS_TIMEOUT_SECONDS", "4")
    monkeypatch.setenv("MAX_ATTEMPTS", "1")
    arn = fan_out.start({"words": WORDS[:2], "maxConcurrency": 2, "toleratedFailures": 1})
    settled(fan_out, arn, 2)
    first, second = fan_out.started_task(1), fan_out.started_task(2)
    # When one task finishes and the other goes silent (no progress: no heartbeat)
    finish(fan_out, first)
    hung = second

    result = fan_out.runner.wait_for_result(arn, timeout=30)

    # Then the silent one's item, waiting in the map, fails as TaskHung, its task stopped
    assert result.status is InvocationStatus.SUCCEEDED and result.result is not None
    body = json.loads(result.result)
    assert body["summary"] == {"succeeded": 1, "failed": 1, "notFinished": 0, "total": 2}
    item = body["items"][index_of(fan_out, hung)]
    assert item["error"]["type"] == "TaskHung"
    assert item["error"]["message"].startswith("task hung: no progress for 4 s; ")
    (stopped,) = fan_out.describe([hung["taskArn"]])
    assert stopped["desiredStatus"] == "STOPPED"
