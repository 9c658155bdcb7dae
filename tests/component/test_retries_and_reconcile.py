"""Retries of retryable outcomes (new callback, new task, durable backoff) and reconcile on timeout."""

from __future__ import annotations

import json
from datetime import timedelta
from fractions import Fraction

import pytest
from aws_durable_execution_sdk_python.execution import InvocationStatus
from aws_durable_execution_sdk_python.lambda_service import OperationStatus
from botocore.stub import Stubber

from completion_relay.relay import RelayAction
from durable_ecs.backoff import backoff_seconds
from ecs_contract.documents import CallbackSuccess, CompletedBy, ExecutionResult, Operation, StartTaskResult
from ecs_contract.names import client_token
from ecs_contract.outcome import ErrorType, TaskFailed, encode_callback_result
from local.ecs_rules import EcsRules, EcsRulesConfig
from local.rates import TokenRate
from testkit.local_ecs import Clock
from testkit.paths import load_event
from testkit.poll import poll

SUCCESS = load_event("invoke/success")
SPOT = {"exit_code": 143, "stop_code": "SpotInterruption"}


def env_of(world, task):
    return world.worker_env(task)


def test_interrupted_spot_task_moves_to_on_demand_at_once_then_succeeds(world):
    # Given a first task, on Fargate Spot (the template's default), that Spot interrupts
    arn = world.start(SUCCESS)
    first = world.started_task(1)
    assert world.stop(first, **SPOT).action is RelayAction.FAILED

    # When the second attempt's task succeeds
    second = world.started_task(2)
    world.stop(second, exit_code=0, result={"ok": 2})
    result = world.runner.wait_for_result(arn, timeout=30)

    # Then the execution succeeds on attempt 2, with the second task's result
    assert result.status is InvocationStatus.SUCCEEDED
    body = ExecutionResult.from_dict(json.loads(result.result))
    assert (body.attempts, body.completion.task_arn, body.completion.result) == (
        2,
        second["taskArn"],
        {"ok": 2},
    )
    assert body.completed_by is CompletedBy.EVENT
    # And each attempt had its own callback, task and clientToken
    first_cb, second_cb = env_of(world, first)["CALLBACK_ID"], env_of(world, second)["CALLBACK_ID"]
    assert first_cb != second_cb
    tokens = [call["clientToken"] for call in world.run_task_calls]
    assert tokens == [client_token(first_cb), client_token(second_cb)]
    assert first["startedBy"] == second["startedBy"]  # same execution, same marker
    # And the first ran on Spot, the second on on-demand Fargate
    assert [call["capacityProviderStrategy"] for call in world.run_task_calls] == [
        [{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
        [{"capacityProvider": "FARGATE", "weight": 1}],
    ]
    # And the history names every attempt, the second started at once: no backoff, since the
    # capacity that failed is not the one asked next
    assert [op.name for op in result.operations] == [
        Operation.TASK_COMPLETION.named(1),
        Operation.START_TASK.named(1),
        Operation.TASK_COMPLETION.named(2),
        Operation.START_TASK.named(2),
    ]
    assert result.get_callback(Operation.TASK_COMPLETION.named(1)).status is OperationStatus.FAILED
    assert result.get_callback(Operation.TASK_COMPLETION.named(2)).status is OperationStatus.SUCCEEDED
    assert world.callbacks.sent == [("failure", first_cb), ("success", second_cb)]


def test_retryable_outcome_fails_after_the_configured_attempts(world, monkeypatch):
    monkeypatch.setenv("MAX_ATTEMPTS", "2")
    arn = world.start(SUCCESS)
    world.stop(world.started_task(1), **SPOT)
    world.stop(world.started_task(2), **SPOT)
    result = world.runner.wait_for_result(arn, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "orchestrator.errors.TaskInterrupted"
    assert result.error.message.endswith("(attempt 2 of 2)")
    assert len(world.run_task_calls) == 2
    assert [op.name for op in result.operations][-1] == Operation.START_TASK.named(2)


def test_terminal_outcome_is_not_retried(world):
    arn = world.start(SUCCESS)
    world.stop(world.started_task(), exit_code=3, reason="bad data")
    result = world.runner.wait_for_result(arn, timeout=30)

    assert result.error.type == "orchestrator.errors.WorkerFailed"
    assert "attempt" not in result.error.message
    assert len(world.run_task_calls) == 1


def test_capacity_failure_of_run_task_is_retried(world):
    with Stubber(world.orchestrator_ecs) as ecs:
        ecs.add_response(
            "run_task", {"tasks": [], "failures": [{"reason": "Capacity is unavailable at this time"}]}
        )
        ecs.add_response("run_task", {"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/w/t2"}]})
        arn = world.start(SUCCESS)
        callback_id = world.runner.wait_for_callback(arn, name=Operation.TASK_COMPLETION.named(2), timeout=10)
        world.runner.send_callback_success(
            callback_id, encode_callback_result(CallbackSuccess("t2", 0).to_dict())
        )
        result = world.runner.wait_for_result(arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert ExecutionResult.from_dict(json.loads(result.result)).attempts == 2
    first = StartTaskResult.from_dict(json.loads(result.get_step(Operation.START_TASK.named(1)).result))
    assert isinstance(first.outcome, TaskFailed)
    assert first.outcome.error_type is ErrorType.CAPACITY_UNAVAILABLE


def tasks_of_execution(world):
    return [t for t in world.describe(world.task_arns()) if t.get("startedBy") != "another-workload"]


OTHER_TRANSIENT_ATTEMPTS = 4  # what the start step asks on another transient error (a 5xx)
THROTTLED_STARTS = 3 * OTHER_TRANSIENT_ATTEMPTS


def test_run_task_throttled_many_times_never_fails_the_execution(world, monkeypatch):
    # At fan-out scale RunTask throttling is normal; a start backs off and asks again, with
    # the same clientToken, for as long as it is throttled, and the execution never fails of it.
    monkeypatch.setenv("MAX_ATTEMPTS", "1")  # no second attempt to fall back on
    with Stubber(world.orchestrator_ecs) as ecs:
        for _ in range(THROTTLED_STARTS):
            ecs.add_client_error("run_task", "ThrottlingException", "Rate exceeded", 400)
        ecs.add_response("run_task", {"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/w/t1"}]})
        arn = world.start(SUCCESS)
        callback_id = world.runner.wait_for_callback(arn, name=Operation.TASK_COMPLETION.named(1), timeout=30)
        world.runner.send_callback_success(
            callback_id, encode_callback_result(CallbackSuccess("t1", 0).to_dict())
        )
        result = world.runner.wait_for_result(arn, timeout=30)
        ecs.assert_no_pending_responses()

    assert result.status is InvocationStatus.SUCCEEDED
    assert ExecutionResult.from_dict(json.loads(result.result)).attempts == 1
    assert [op.name for op in result.operations] == [
        Operation.TASK_COMPLETION.named(1),
        Operation.START_TASK.named(1),
    ]
    assert len(world.run_task_calls) == THROTTLED_STARTS + 1
    assert len({call["clientToken"] for call in world.run_task_calls}) == 1  # one task, however often asked


@pytest.mark.parametrize(
    "ecs_rules",
    # One RunTask in the bucket, refilled once a second, on a clock that moves only when the test says.
    [EcsRules(EcsRulesConfig(run_task_rate=TokenRate(1, Fraction(1))), clock=Clock(frozen=True))],
)
def test_run_task_throttled_by_the_local_rate_limit_still_starts_one_task(world, monkeypatch, ecs_rules):
    monkeypatch.setenv("MAX_ATTEMPTS", "1")
    # Another workload of the account has just taken the bucket's one token.
    world.ecs.run_task(
        cluster=world.cluster_arn,
        taskDefinition="worker",
        launchType="FARGATE",
        startedBy="another-workload",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [world.subnet], "securityGroups": [world.security_group]}
        },
    )
    arn = world.start(SUCCESS)
    # The start is throttled by moto behind the local rules (a real ThrottlingException, HTTP 400)
    # more often than any other transient error is asked again (botocore's own retries sleep in
    # between: its standard mode asks 3 times per step attempt)...
    poll(lambda: len(world.run_task_calls) > OTHER_TRANSIENT_ATTEMPTS, timeout=30, what="throttled starts")
    # ... until the bucket refills.
    ecs_rules.clock.skip(timedelta(seconds=1))
    mine = poll(lambda: tasks_of_execution(world), what="the execution's task")
    world.stop(mine[0], exit_code=0, result={"ok": 1})
    result = world.runner.wait_for_result(arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert len(tasks_of_execution(world)) == 1
    assert len({call["clientToken"] for call in world.run_task_calls}) == 1


def test_run_task_server_errors_past_the_step_retries_start_a_new_attempt(world, monkeypatch):
    # botocore raises ECS's modeled ServerException as botocore.errorfactory.ServerException: a class
    # botocore.exceptions does not hold, yet the same transient 5xx as an unmodeled one.
    monkeypatch.setenv("MAX_ATTEMPTS", "2")
    with Stubber(world.orchestrator_ecs) as ecs:
        for _ in range(4):  # the step's own retry strategy asks 4 times
            ecs.add_client_error(
                "run_task",
                service_error_code="ServerException",
                service_message="internal",
                http_status_code=500,
            )
        ecs.add_response("run_task", {"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/w/t2"}]})
        arn = world.start(SUCCESS)
        callback_id = world.runner.wait_for_callback(arn, name=Operation.TASK_COMPLETION.named(2), timeout=10)
        world.runner.send_callback_success(
            callback_id, encode_callback_result(CallbackSuccess("t2", 0).to_dict())
        )
        result = world.runner.wait_for_result(arn, timeout=30)
        ecs.assert_no_pending_responses()

    assert result.status is InvocationStatus.SUCCEEDED
    assert ExecutionResult.from_dict(json.loads(result.result)).attempts == 2
    assert [op.name for op in result.operations][:3] == [
        Operation.TASK_COMPLETION.named(1),
        Operation.START_TASK.named(1),
        Operation.BACKOFF.named(1),
    ]


def test_run_task_throttling_reported_as_an_invalid_parameter_is_retried_by_the_step(world):
    # ECS has been seen wrapping EC2's throttling of RunTask's subnet lookup in an
    # InvalidParameterException (dagster-io/dagster#33439): only the message says so.
    with Stubber(world.orchestrator_ecs) as ecs:
        ecs.add_client_error(
            "run_task",
            service_error_code="InvalidParameterException",
            service_message=(
                "Error retrieving subnet information for [subnet-0abc]: Rate exceeded (ErrorCode: Throttling)"
            ),
            http_status_code=400,
        )
        ecs.add_response("run_task", {"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/w/t1"}]})
        arn = world.start(SUCCESS)
        callback_id = world.runner.wait_for_callback(arn, name=Operation.TASK_COMPLETION.named(1), timeout=10)
        world.runner.send_callback_success(
            callback_id, encode_callback_result(CallbackSuccess("t1", 0).to_dict())
        )
        result = world.runner.wait_for_result(arn, timeout=30)
        ecs.assert_no_pending_responses()

    assert result.status is InvocationStatus.SUCCEEDED
    assert ExecutionResult.from_dict(json.loads(result.result)).attempts == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("InvalidParameterException", "Task definition does not exist."),
        ("ClientException", "Too many containers."),
        ("AccessDeniedException", "not authorized to perform: ecs:RunTask"),
        ("ConflictException", "clientToken was used with other parameters"),
    ],
)
def test_run_task_refusals_fail_at_once_as_task_start_rejected(world, code, message):
    with Stubber(world.orchestrator_ecs) as ecs:
        ecs.add_client_error(
            "run_task", service_error_code=code, service_message=message, http_status_code=400
        )
        arn = world.start(SUCCESS)
        result = world.runner.wait_for_result(arn, timeout=30)
        ecs.assert_no_pending_responses()

    assert result.error.type == "orchestrator.errors.TaskStartRejected"
    assert code in result.error.message and message in result.error.message


def test_backoff_is_exponential_capped_jittered_and_the_same_on_every_replay():
    arn = "arn:aws:lambda:us-east-1:1:function:f:1/durable-execution/a/b"
    waits = [backoff_seconds(arn, n, base=30, cap=300) for n in range(1, 7)]
    assert waits == [backoff_seconds(arn, n, base=30, cap=300) for n in range(1, 7)]
    for n, wait in enumerate(waits, start=1):
        ceiling = min(300, 30 * 2 ** (n - 1))
        assert ceiling / 2 <= wait <= ceiling
    others = {backoff_seconds(f"{arn}-{i}", 3, base=30, cap=300) for i in range(20)}
    assert len(others) > 5  # executions do not retry in lockstep
    assert backoff_seconds(arn, 1, base=1, cap=1) == 1


# -- reconcile on callback timeout: the STOPPED event never reached the relay ----------------------


@pytest.mark.parametrize("task_timeout", [2])
def test_lost_success_event_is_recovered_by_reconcile_with_the_worker_result(world):
    arn = world.start({"message": "event lost", "processingTime": 1})
    task = world.started_task()
    # The task stops with exit 0 and a result, but its event is never delivered
    world.finish_without_event(task, exit_code=0, result={"recovered": True})

    result = world.runner.wait_for_result(arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    body = ExecutionResult.from_dict(json.loads(result.result))
    assert (body.completed_by, body.completion.result, body.completion.exit_code) == (
        CompletedBy.RECONCILE,
        {"recovered": True},
        0,
    )
    assert result.get_callback(Operation.TASK_COMPLETION.named(1)).status is OperationStatus.TIMED_OUT
    assert result.get_step(Operation.RECONCILE_TASK.named(1)).status is OperationStatus.SUCCEEDED
    assert Operation.STOP_TIMED_OUT_TASK.named(1) not in [op.name for op in result.operations]
    assert world.callbacks.sent == []
    assert len(world.run_task_calls) == 1


@pytest.mark.parametrize("task_timeout", [2])
def test_lost_failure_event_is_recovered_by_reconcile_with_its_outcome(world):
    arn = world.start({"message": "event lost", "processingTime": 1})
    world.finish_without_event(world.started_task(), exit_code=2, reason="job failed")

    result = world.runner.wait_for_result(arn, timeout=30)

    assert result.error.type == "orchestrator.errors.WorkerFailed"
    assert "exited with code 2" in result.error.message


@pytest.mark.parametrize("task_timeout", [2])
def test_task_unknown_to_ecs_at_reconcile_fails_with_task_timed_out(world):
    with Stubber(world.orchestrator_ecs) as ecs:
        ecs.add_response(
            "run_task", {"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/w/gone"}]}
        )
        ecs.add_response(
            "describe_tasks",
            {
                "tasks": [],
                "failures": [{"arn": "arn:aws:ecs:us-east-1:123456789012:task/w/gone", "reason": "MISSING"}],
            },
        )
        arn = world.start({"message": "lost", "processingTime": 1})
        result = world.runner.wait_for_result(arn, timeout=30)
        ecs.assert_no_pending_responses()

    assert result.error.type == "orchestrator.errors.TaskTimedOut"
    assert "ECS no longer knows it" in result.error.message
    assert Operation.STOP_TIMED_OUT_TASK.named(1) not in [op.name for op in result.operations]


@pytest.mark.parametrize("task_timeout", [2])
def test_a_result_object_s3_refuses_at_reconcile_fails_the_execution_with_a_typed_error(world):
    # With s3:ListBucket granted, 403 means a real permission problem (IAM, bucket policy, KMS key):
    # never a success without the result, never a raw StepError either.
    with Stubber(world.orchestrator_s3) as s3:
        s3.add_client_error("get_object", "AccessDenied", "Access Denied", 403)
        arn = world.start({"message": "event lost", "processingTime": 1})
        world.finish_without_event(world.started_task(), exit_code=0)
        result = world.runner.wait_for_result(arn, timeout=30)
        s3.assert_no_pending_responses()  # read once: asking again cannot fix a permission

    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "orchestrator.errors.ResultUnreadable"
    assert "AccessDenied" in result.error.message and "s3:ListBucket" in result.error.message
    assert "attempt" not in result.error.message  # terminal: a new task would meet the same refusal


@pytest.mark.parametrize("task_timeout", [2])
def test_describe_tasks_failing_past_the_step_retries_at_reconcile_fails_with_ecs_unavailable(world):
    with Stubber(world.orchestrator_ecs) as ecs:
        ecs.add_response("run_task", {"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/w/t1"}]})
        for _ in range(4):
            ecs.add_client_error(
                "describe_tasks",
                service_error_code="ServerException",
                service_message="internal",
                http_status_code=500,
            )
        arn = world.start({"message": "lost", "processingTime": 1})
        result = world.runner.wait_for_result(arn, timeout=30)
        ecs.assert_no_pending_responses()

    # Not retried with a new task: the first may still run. The execution FAILED, so the relay's
    # cancellation rule stops whatever it left running.
    assert result.error.type == "orchestrator.errors.EcsUnavailable"
    assert "DescribeTasks" in result.error.message and "ServerException" in result.error.message
    assert Operation.START_TASK.named(2) not in [op.name for op in result.operations]


@pytest.mark.parametrize("task_timeout", [2])
def test_stop_task_failing_past_the_step_retries_after_the_timeout_fails_with_ecs_unavailable(world):
    task_arn = "arn:aws:ecs:us-east-1:123456789012:task/w/t1"
    with Stubber(world.orchestrator_ecs) as ecs:
        ecs.add_response("run_task", {"tasks": [{"taskArn": task_arn}]})
        running = {"taskArn": task_arn, "clusterArn": world.cluster_arn, "lastStatus": "RUNNING"}
        ecs.add_response("describe_tasks", {"tasks": [running]})
        for _ in range(4):
            ecs.add_client_error("stop_task", "ThrottlingException", "Rate exceeded", 400)
        arn = world.start({"message": "hangs", "processingTime": 1})
        result = world.runner.wait_for_result(arn, timeout=30)
        ecs.assert_no_pending_responses()

    assert result.error.type == "orchestrator.errors.EcsUnavailable"
    assert "StopTask: ThrottlingException" in result.error.message
    assert Operation.START_TASK.named(2) not in [op.name for op in result.operations]
