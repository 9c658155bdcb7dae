"""End to end on the local cloud: the real handlers, durable runner, relay and worker processes.

Each test asserts on the execution's durable history (what happened, in which order), not only on
its final status.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal

import pytest
from botocore.exceptions import ClientError

from completion_relay.relay import RelayAction
from ecs_contract.documents import ExecutionResult, Operation
from ecs_contract.names import TASK_STATE_CHANGE
from ecs_contract.trace import TraceContext
from local.timeline import follow
from testkit.local_cloud import TASK_TIMEOUT, Cloud, cli, entry, error_type, kinds, started_task
from testkit.paths import load_event
from testkit.poll import poll

pytestmark = pytest.mark.flow


def test_success_returns_the_workers_result(cloud: Cloud) -> None:
    payload = {"message": "flow test", "processingTime": 1}
    arn = cloud.start(payload)
    execution = cloud.wait(arn)
    assert execution["Status"] == "SUCCEEDED", execution
    result = ExecutionResult.from_dict(json.loads(execution["Result"])).completion
    assert result.result["processedMessage"] == "FLOW TEST"  # computed by the worker process
    assert result.exit_code == 0
    history = cloud.history(arn)
    assert kinds(history)[:3] == [
        "ExecutionStarted",
        entry("CallbackStarted", Operation.TASK_COMPLETION),
        entry("StepSucceeded", Operation.START_TASK),
    ]
    assert kinds(history)[-2:] == [
        entry("CallbackSucceeded", Operation.TASK_COMPLETION),
        "ExecutionSucceeded",
    ]
    task_arn = started_task(history)
    assert result.task_arn == task_arn
    task = cloud.task(task_arn)
    assert task["lastStatus"] == "STOPPED" and task["containers"][0]["exitCode"] == 0
    # The worker logs the orchestrator's trace, and the relay names the same trace
    trace = TraceContext.of_env(
        {e["name"]: e["value"] for e in task["overrides"]["containerOverrides"][0]["environment"]}
    )
    assert trace is not None
    logs = cloud.target.logs.get_log_events(
        logGroupName=cloud.target.worker_logs.group, logStreamName=cloud.target.worker_logs.stream(task_arn)
    )
    assert f"worker: trace_id={trace.xray_trace_id} traceparent={trace.traceparent()}" in [
        e["message"] for e in logs["events"]
    ]
    poll(
        lambda: trace.xray_trace_id in cloud.relay_trace_ids(task_arn),
        what="the relay's log line of the task",
    )


def test_sample_failure_fails_with_worker_failed_and_the_exit_code(cloud: Cloud) -> None:
    arn = cloud.start(load_event("invoke/worker-failure"))
    execution = cloud.wait(arn)
    assert execution["Status"] == "FAILED"
    assert error_type(execution) == "WorkerFailed"
    assert "exited with code 1" in execution["Error"]["ErrorMessage"]
    history = cloud.history(arn)
    assert entry("CallbackFailed", Operation.TASK_COMPLETION) in kinds(history)
    assert kinds(history)[-1] == "ExecutionFailed"
    task = cloud.task(started_task(history))
    assert task["containers"][0]["exitCode"] == 1


def test_invalid_input_starts_no_task(cloud: Cloud) -> None:
    before = cloud.task_count()
    arn = cloud.start(load_event("invoke/invalid-input"))
    execution = cloud.wait(arn)
    assert execution["Status"] == "FAILED" and error_type(execution) == "InvalidInput"
    assert kinds(cloud.history(arn)) == ["ExecutionStarted", "ExecutionFailed"]
    assert cloud.task_count() == before


def test_an_execution_name_starts_one_execution_per_payload(cloud: Cloud) -> None:
    """Invoke's DurableExecutionName: the same name and payload return the existing execution; the
    same name with another payload is refused (DurableExecutionAlreadyStartedException, 409)."""
    lam, payload = cloud.target.lambda_client, json.dumps(load_event("invoke/invalid-input")).encode()
    name = f"named-{os.getpid()}"

    def invoke(body: bytes, execution_name: str = name) -> str:
        answer = lam.invoke(
            FunctionName=cloud.target.orchestrator,
            InvocationType="Event",
            Payload=body,
            DurableExecutionName=execution_name,
        )
        return str(answer["DurableExecutionArn"])

    first = invoke(payload)
    # Shaped as Lambda's: the function ARN with the version the alias named, durable-execution/NAME/ID.
    version = cloud.target.orchestrator.rpartition(":")[0] + ":1"
    assert re.fullmatch(rf"{re.escape(version)}/durable-execution/{name}/[0-9a-f-]{{36}}", first), first
    assert invoke(payload) == first
    with pytest.raises(ClientError) as other_payload:
        invoke(json.dumps({"message": 43}).encode())
    assert other_payload.value.response["Error"]["Code"] == "DurableExecutionAlreadyStartedException"
    assert other_payload.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(ClientError) as bad_name:
        invoke(payload, "not a name!")
    assert bad_name.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert cloud.wait(first)["Status"] == "FAILED"


@pytest.mark.slow
def test_callback_timeout_stops_the_task(cloud: Cloud) -> None:
    arn = cloud.start({"message": "hangs", "processingTime": 1})
    task_arn, pid = cloud.worker_pid()
    os.kill(pid, signal.SIGSTOP)  # the worker hangs: it neither exits nor writes
    execution = cloud.wait(arn, timeout=TASK_TIMEOUT + 30)
    assert execution["Status"] == "FAILED" and error_type(execution) == "TaskTimedOut"
    history = kinds(cloud.history(arn))
    assert history[-4:] == [
        entry("CallbackTimedOut", Operation.TASK_COMPLETION),
        entry("StepSucceeded", Operation.RECONCILE_TASK),
        entry("StepSucceeded", Operation.STOP_TIMED_OUT_TASK),
        "ExecutionFailed",
    ]
    # StopTask reached the worker: SIGTERM cannot wake a stopped process, so the SIGKILL after the
    # stop timeout ends it, and the task is STOPPED by the user (the orchestrator), with 137.
    task = poll(lambda: (t := cloud.task(task_arn))["lastStatus"] == "STOPPED" and t, what="the task to stop")
    assert task["stopCode"] == "UserInitiated"
    assert task["containers"][0]["exitCode"] == 137
    assert not cloud.control("/tasks")


@pytest.mark.slow
def test_durable_runner_restart_while_the_task_runs(cloud: Cloud) -> None:
    arn = cloud.start({"message": "survives a restart", "processingTime": 3})
    task_arn, _ = cloud.worker_pid()
    # The worker can run before the start step's result is checkpointed: stopping the runner in
    # between is another scenario (the step runs again, the clientToken returns the same task, and
    # the callback may then complete before that step's second StepSucceeded). Here the restart comes
    # once the handler is suspended on the callback, as a long task's restart would.
    started = entry("StepSucceeded", Operation.START_TASK)
    poll(lambda: started in kinds(cloud.history(arn)), what="the start step's checkpoint")
    assert cloud.control("/durable-runner/stop", "POST") == {"durableRunner": False}
    assert cloud.task(task_arn)["lastStatus"] == "RUNNING"  # the restart happens while the task runs
    assert cloud.control("/durable-runner/start", "POST") == {"durableRunner": True}
    execution = cloud.wait(arn)
    assert execution["Status"] == "SUCCEEDED", execution
    result = ExecutionResult.from_dict(json.loads(execution["Result"])).completion.result
    assert result["processedMessage"] == "SURVIVES A RESTART"
    history = kinds(cloud.history(arn))
    assert (
        history.count(entry("CallbackStarted", Operation.TASK_COMPLETION)) == 1
    )  # the restart started nothing twice
    assert history.count(entry("StepSucceeded", Operation.START_TASK)) == 1
    assert history[-2:] == [entry("CallbackSucceeded", Operation.TASK_COMPLETION), "ExecutionSucceeded"]


@pytest.mark.slow
def test_completion_that_cannot_be_delivered_is_dead_lettered_and_can_be_redriven(cloud: Cloud) -> None:
    """Durable runner down when the task stops: the relay fails, is retried, the event is
    dead-lettered; once the runner is back, redriving the dead letter completes the execution."""
    arn = cloud.start({"message": "dead letter", "processingTime": 1})
    task_arn, _ = cloud.worker_pid()
    cloud.control("/durable-runner/stop", "POST")
    try:
        with pytest.raises(ClientError, match="durable runner unreachable"):
            cloud.execution(arn)  # the Lambda endpoint answers as the service would: 5xx
        records = poll(lambda: cloud.dead_letters(task_arn), timeout=30, what="the dead letter")
    finally:
        cloud.control("/durable-runner/start", "POST")
    (record,) = records
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3  # 1 try + 2 async retries
    assert cloud.execution(arn)["Status"] == "RUNNING"  # nothing completed it, nothing lost it
    redrive = cli(cloud.state_dir, "redrive")  # the README's redrive command
    assert redrive.returncode == 0, redrive.stdout + redrive.stderr
    redriven = f"{TASK_STATE_CHANGE.detail_type} STOPPED {task_arn} -> relay {RelayAction.SUCCEEDED}"
    assert f"redriven: {redriven}" in redrive.stdout
    assert "1 redriven, 0 still failing" in redrive.stdout
    execution = cloud.wait(arn)
    assert execution["Status"] == "SUCCEEDED"
    assert kinds(cloud.history(arn))[-2:] == [
        entry("CallbackSucceeded", Operation.TASK_COMPLETION),
        "ExecutionSucceeded",
    ]
    assert not cloud.dead_letters(task_arn)  # redriven records leave the queue


def test_follow_prints_the_timeline_and_progress_while_the_task_runs(cloud: Cloud) -> None:
    arn = cloud.start({"message": "followed", "processingTime": 2})
    out = io.StringIO()
    execution = follow(cloud.target, arn, out=out, timeout=60, progress_every=0.5)
    assert execution["Status"] == "SUCCEEDED"
    lines = re.findall(r"^  \+\s*[\d.]+s  (\w+)\s+(.*)$", out.getvalue(), flags=re.M)
    sources = [source for source, _ in lines]
    texts = [text for _, text in lines]
    created = f"callback '{Operation.TASK_COMPLETION.named(1)}' created"
    assert ("execution", created) in [(s, t[: len(created)]) for s, t in lines]
    assert re.search(r"still waiting \(task RUNNING\)", out.getvalue())  # progress while nothing happens
    assert any(t.startswith("processing 'followed'") for t in texts) and "worker" in sources
    assert any(t.startswith("task STOPPED, exit code 0") for t in texts)
    assert "relay" in sources  # the local delivery record shows the relay's invocation
    assert texts[-1].startswith("execution SUCCEEDED")
