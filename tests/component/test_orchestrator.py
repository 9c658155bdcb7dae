"""The durable orchestrator under the SDK's test runner, ECS in moto, completed through the relay."""

from __future__ import annotations

import json

import pytest
from aws_durable_execution_sdk_python.execution import InvocationStatus
from aws_durable_execution_sdk_python.lambda_service import OperationStatus
from botocore.stub import Stubber

from completion_relay.relay import RelayAction
from ecs_contract.documents import CallbackSuccess, ExecutionResult, Operation, StartTaskResult
from ecs_contract.names import client_token
from ecs_contract.outcome import encode_callback_result
from ecs_contract.trace import TraceContext
from testkit.moto_world import BUCKET
from testkit.paths import load_event
from testkit.poll import poll

SUCCESS = load_event("invoke/success")


def test_success_returns_the_worker_result_and_starts_exactly_one_task(world):
    # Given an orchestration of the seeds' payload
    arn = world.start(SUCCESS)
    callback_id = world.runner.wait_for_callback(arn, name=Operation.TASK_COMPLETION.named(1), timeout=10)
    task = world.started_task()

    # When the worker writes its result and the task stops with exit code 0
    relayed = world.stop(task, exit_code=0, result={"processedMessage": "HELLO"})
    result = world.runner.wait_for_result(arn, timeout=30)

    # Then the execution succeeds with the worker's result, after exactly one callback completion
    assert relayed.action is RelayAction.SUCCEEDED
    assert world.callbacks.sent == [("success", callback_id)]
    assert result.status is InvocationStatus.SUCCEEDED
    body = ExecutionResult.from_dict(json.loads(result.result))
    assert body.status == "SUCCEEDED"
    assert (body.completion.task_arn, body.completion.exit_code, body.attempts) == (task["taskArn"], 0, 1)
    assert body.completion.result == {"processedMessage": "HELLO"}

    # And RunTask carried the callback id, the job and the result location as overrides
    [call] = world.run_task_calls
    env = world.worker_env(task)
    assert env["CALLBACK_ID"] == callback_id
    assert json.loads(env["JOB_INPUT"]) == SUCCESS
    assert env["RESULT_S3_URI"] == f"s3://{BUCKET}/results/{client_token(callback_id)}.json"
    assert call["clientToken"] == client_token(callback_id)
    assert call["startedBy"].startswith("durable-ecs/") and len(call["startedBy"]) <= 128
    # On Fargate Spot first (the template's Capacity default), so no launchType (ECS refuses both).
    assert (call["capacityProviderStrategy"], call["count"]) == (
        [{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
        1,
    )
    assert "launchType" not in call
    assert call["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "ENABLED"

    # And the history reads: callback created, task started (in a step), callback completed
    assert [op.name for op in result.operations] == [
        Operation.TASK_COMPLETION.named(1),
        Operation.START_TASK.named(1),
    ]
    assert result.get_step(Operation.START_TASK.named(1)).status is OperationStatus.SUCCEEDED
    started = json.loads(result.get_step(Operation.START_TASK.named(1)).result)
    assert StartTaskResult.from_dict(started) == StartTaskResult(task["taskArn"])
    assert result.get_callback(Operation.TASK_COMPLETION.named(1)).status is OperationStatus.SUCCEEDED


def test_no_log_line_of_a_run_contains_the_whole_callback_id(world, caplog, capsys):
    caplog.set_level("DEBUG")
    arn = world.start(SUCCESS)
    callback_id = world.runner.wait_for_callback(arn, name=Operation.TASK_COMPLETION.named(1), timeout=10)
    world.stop(world.started_task(), exit_code=0, result={"ok": True})
    assert world.runner.wait_for_result(arn, timeout=30).status is InvocationStatus.SUCCEEDED

    ours = [r for r in caplog.records if r.name.startswith(("orchestrator", "completion_relay"))]
    # The start-task step logged the task it started (the SDK adds the step's name to its records).
    start = Operation.START_TASK.named(1)
    assert any(getattr(r, "operationName", None) == start and getattr(r, "task_arn", None) for r in ours)
    for record in ours:
        assert callback_id not in json.dumps(record.__dict__, default=str)
    assert callback_id not in capsys.readouterr().out


def test_worker_failure_fails_the_execution_with_worker_failed(world):
    arn = world.start(load_event("invoke/worker-failure"))
    task = world.started_task()

    world.stop(task, exit_code=1, reason="job asked to fail")
    result = world.runner.wait_for_result(arn, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "orchestrator.errors.WorkerFailed"
    assert "exited with code 1" in result.error.message
    assert result.get_callback(Operation.TASK_COMPLETION.named(1)).status is OperationStatus.FAILED


@pytest.mark.parametrize(
    ("stop", "error_type"),
    [
        (
            {"exit_code": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"},
            "OutOfMemory",
        ),
        ({"exit_code": None, "stop_code": "TaskFailedToStart"}, "TaskFailedToStart"),
        ({"exit_code": None}, "NoExitCode"),
    ],
)
def test_each_failed_outcome_fails_the_execution_with_its_type(world, stop, error_type):
    arn = world.start(SUCCESS)
    world.stop(world.started_task(), **stop)
    result = world.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.FAILED
    assert result.error.type == f"orchestrator.errors.{error_type}"


def test_invalid_input_fails_at_once_and_starts_no_task(world):
    arn = world.start(load_event("invoke/invalid-input"))
    result = world.runner.wait_for_result(arn, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "orchestrator.errors.InvalidInput"
    assert "'message' must be a string" in result.error.message
    assert result.operations == []
    assert world.ecs.list_tasks(cluster=world.cluster_arn)["taskArns"] == []


@pytest.mark.parametrize("task_timeout", [2])
def test_callback_timeout_stops_the_task_and_fails_with_task_timed_out(world):
    arn = world.start({"message": "never finishes", "processingTime": 1})
    task = world.started_task()

    result = world.runner.wait_for_result(arn, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "orchestrator.errors.TaskTimedOut"
    assert result.get_callback(Operation.TASK_COMPLETION.named(1)).status is OperationStatus.TIMED_OUT
    assert result.get_step(Operation.STOP_TIMED_OUT_TASK.named(1)).status is OperationStatus.SUCCEEDED
    stopped = world.ecs.describe_tasks(cluster=world.cluster_arn, tasks=[task["taskArn"]])["tasks"][0]
    assert stopped["desiredStatus"] == "STOPPED"
    assert "did not finish within 2 s" in stopped["stoppedReason"]
    assert "it was stopped" in result.error.message


def test_capacity_failure_is_a_retryable_typed_error_and_no_task_runs(world, monkeypatch):
    monkeypatch.setenv("MAX_ATTEMPTS", "1")
    with Stubber(world.orchestrator_ecs) as ecs:
        ecs.add_response(
            "run_task",
            {
                "tasks": [],
                "failures": [{"arn": "arn:aws:ecs:::x", "reason": "Capacity is unavailable at this time"}],
            },
        )
        arn = world.start(SUCCESS)
        result = world.runner.wait_for_result(arn, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "orchestrator.errors.CapacityUnavailable"
    assert "Capacity is unavailable" in result.error.message
    assert result.error.message.endswith("(attempt 1 of 1)")
    assert [op.name for op in result.operations] == [
        Operation.TASK_COMPLETION.named(1),
        Operation.START_TASK.named(1),
    ]


def test_client_exception_is_terminal_and_not_retried(world):
    with Stubber(world.orchestrator_ecs) as ecs:
        ecs.add_client_error("run_task", "InvalidParameterException", "No Fargate configuration exists", 400)
        arn = world.start(SUCCESS)
        result = world.runner.wait_for_result(arn, timeout=30)
        ecs.assert_no_pending_responses()

    assert result.error.type == "orchestrator.errors.TaskStartRejected"
    assert "No Fargate configuration exists" in result.error.message
    assert len(world.run_task_calls) == 1


def test_throttled_run_task_is_retried_with_the_same_client_token(world):
    with Stubber(world.orchestrator_ecs) as ecs:
        ecs.add_client_error("run_task", "ThrottlingException", "Rate exceeded", 400)
        ecs.add_response(
            "run_task", {"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/workers/t1"}]}
        )
        arn = world.start(SUCCESS)
        callback_id = world.runner.wait_for_callback(arn, name=Operation.TASK_COMPLETION.named(1), timeout=10)
        poll(lambda: len(world.run_task_calls) == 2, what="the retried RunTask")
        world.runner.send_callback_success(
            callback_id, encode_callback_result(CallbackSuccess("t1", 0).to_dict())
        )
        result = world.runner.wait_for_result(arn, timeout=30)

    first, second = world.run_task_calls
    assert first["clientToken"] == second["clientToken"] == client_token(callback_id)
    assert result.status is InvocationStatus.SUCCEEDED
    assert result.get_step(Operation.START_TASK.named(1)).attempt == 2


def test_a_job_s_overrides_reach_run_task_and_leave_the_job_input(world):
    # Given a job that sizes its task and adds a variable
    job = load_event("invoke/overrides")
    arn = world.start(job)
    task = world.started_task()

    # Then RunTask carried the task size (TaskOverride.cpu/.memory are strings), the container's
    # memory and the variable after the orchestrator's own and the task's attempt
    [call] = world.run_task_calls
    assert (call["overrides"]["cpu"], call["overrides"]["memory"]) == ("512", "1024")
    [container] = call["overrides"]["containerOverrides"]
    assert container["memory"] == 1024
    assert [pair["name"] for pair in container["environment"]] == [
        "CALLBACK_ID",
        "JOB_INPUT",
        "RESULT_S3_URI",
        "TASK_ATTEMPT",
        "_X_AMZN_TRACE_ID",
        "TRACEPARENT",
        "LOG_LEVEL",
    ]
    # The orchestrator's trace context: without X-Ray (tests), the one derived from the execution
    assert TraceContext.of_env(world.worker_env(task)) == TraceContext.of_invocation(
        None, arn, world.worker_env(task)["CALLBACK_ID"]
    )
    # And the worker's job is the job without its overrides (they are the orchestrator's business)
    assert json.loads(world.worker_env(task)["JOB_INPUT"]) == {
        k: v for k, v in job.items() if k != "overrides"
    }
    assert call["taskDefinition"] == "worker"  # none chosen: the deployment's own

    # And the task runs to its success as any other
    world.stop(task, exit_code=0, result={"ok": True})
    assert world.runner.wait_for_result(arn, timeout=30).status is InvocationStatus.SUCCEEDED


def test_every_task_is_tagged_with_its_execution_name_and_attempt_and_the_job_s_tags(world):
    arn = world.start(
        {"message": "tagged", "processingTime": 1, "tags": {"team": "search", "cost-centre": "42"}}
    )
    task = world.started_task()
    [call] = world.run_task_calls
    assert call["tags"] == [
        {"key": "durable-ecs:execution", "value": arn[-256:]},
        {"key": "durable-ecs:task", "value": "task"},
        {"key": "durable-ecs:attempt", "value": "1"},
        {"key": "team", "value": "search"},
        {"key": "cost-centre", "value": "42"},
    ]
    assert call["enableECSManagedTags"] is True  # aws:ecs:clusterName, for split cost allocation
    # The tags are ECS's business, not the job's input
    assert json.loads(world.worker_env(task)["JOB_INPUT"]) == {"message": "tagged", "processingTime": 1}
    described = world.ecs.describe_tasks(cluster=world.cluster_arn, tasks=[task["taskArn"]], include=["TAGS"])
    assert {"key": "team", "value": "search"} in described["tasks"][0]["tags"]
    world.stop(task, exit_code=0, result={"ok": True})
    assert world.runner.wait_for_result(arn, timeout=30).status is InvocationStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        pytest.param({"aws:owner": "me"}, "the aws: prefix is AWS's own", id="aws-prefix"),
        pytest.param({"durable-ecs:task": "x"}, "are set by run_task", id="ours"),
        pytest.param({"k" * 129: "v"}, "a tag key is 1 to 128 characters", id="long-key"),
        pytest.param({"team": "a&b"}, "ECS's allowed characters", id="character"),
        pytest.param({f"t{i}": "v" for i in range(48)}, "at most 47 tags a task", id="too-many"),
        pytest.param(["team"], "'tags' must be an object", id="not-an-object"),
    ],
)
def test_a_refused_tag_fails_at_once_with_invalid_input_and_starts_no_task(world, tags, message):
    arn = world.start({"message": "tagged", "processingTime": 1, "tags": tags})
    result = world.runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "orchestrator.errors.InvalidInput"
    assert message in result.error.message
    assert world.run_task_calls == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"taskRoleArn": "arn:aws:iam::1:role/admin"}, "'taskRoleArn' cannot be overridden", id="role"
        ),
        pytest.param(
            {"executionRoleArn": "x"}, "'executionRoleArn' cannot be overridden", id="execution-role"
        ),
        pytest.param({"gpu": 1}, "unknown override 'gpu'", id="unknown-key"),
        pytest.param(
            {"cpu": 256, "memory": 4096}, "memory 4096 MiB does not go with cpu 256", id="fargate-pair"
        ),
        pytest.param({"cpu": 1024}, "set cpu and memory together", id="cpu-alone"),
        pytest.param(
            {"environment": {"CALLBACK_ID": "x"}}, "CALLBACK_ID is set by the orchestrator", id="reserved-env"
        ),
        pytest.param(
            {"taskDefinition": "someone-else"}, "task definition 'someone-else' is not allowed", id="task-def"
        ),
        pytest.param({"environment": {"BIG": "x" * 7000}}, "container overrides are", id="too-long"),
        pytest.param("big", "overrides must be an object", id="not-an-object"),
    ],
)
def test_a_refused_override_fails_at_once_with_invalid_input_and_starts_no_task(world, overrides, message):
    arn = world.start({"message": "sized", "processingTime": 1, "overrides": overrides})
    result = world.runner.wait_for_result(arn, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "orchestrator.errors.InvalidInput"
    assert message in result.error.message
    assert result.operations == []
    assert world.run_task_calls == []
    assert world.ecs.list_tasks(cluster=world.cluster_arn)["taskArns"] == []


def test_an_allow_listed_task_definition_is_the_one_run_task_runs(world, monkeypatch):
    # Given a deployment that lets jobs choose the "worker" family (moto's), any revision of it
    monkeypatch.setenv("ALLOWED_TASK_DEFINITIONS", "other-family, worker")
    arn = world.start({"message": "chosen", "overrides": {"taskDefinition": "worker:1"}})
    task = world.started_task()

    [call] = world.run_task_calls
    assert call["taskDefinition"] == "worker:1"
    assert "cpu" not in call["overrides"]  # no size chosen: the task definition's
    world.stop(task, exit_code=0, result={"ok": True})
    assert world.runner.wait_for_result(arn, timeout=30).status is InvocationStatus.SUCCEEDED
