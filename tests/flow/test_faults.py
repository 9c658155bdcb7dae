"""Fault injection on the local cloud (local/faults.py): each fault ends in the right outcome, and
no callback or task is lost or doubled: every callback created is closed exactly once, and the
tasks the execution started are exactly the ones its start-task steps recorded."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest

from completion_relay.relay import RelayAction
from ecs_contract.documents import CompletedBy, ExecutionResult, Operation, StartTaskResult
from testkit.local_cloud import Cloud, cli, entry, execution_name, kinds, started_task
from testkit.poll import poll

pytestmark = pytest.mark.flow

CLOSED = ("CallbackSucceeded", "CallbackFailed", "CallbackTimedOut")


def job(label: str, seconds: int = 1) -> dict[str, Any]:
    """A demo job. Faults are armed for an execution's name (``execution_name``), never for
    anything in the job's input: the same input may run in many executions."""
    return {"message": label, "processingTime": seconds}


def ledger(cloud: Cloud, arn: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The history and the tasks, after checking that nothing was lost or doubled: every callback
    handed to a task is closed exactly once. The callback of an attempt whose RunTask started no
    task was handed to nobody: nothing can complete it, and the execution goes on without it."""
    history = cloud.history(arn)
    starts = {
        e["Name"]: StartTaskResult.from_dict(
            json.loads(e["StepSucceededDetails"]["Result"]["Payload"])
        ).outcome
        for e in history
        if e["EventType"] == "StepSucceeded" and Operation.START_TASK.names(e["Name"])
    }
    unused = {
        name.replace(Operation.START_TASK.value, Operation.TASK_COMPLETION.value)
        for name, outcome in starts.items()
        if not isinstance(outcome, str)
    }
    created = [e["Name"] for e in history if e["EventType"] == "CallbackStarted"]
    closed = [e["Name"] for e in history if e["EventType"] in CLOSED]
    handed = [name for name in created if name not in unused]
    assert len(set(created)) == len(created) and sorted(closed) == sorted(handed), (created, closed)
    recorded = list(starts.values())
    tasks = cloud.tasks_of(arn)
    assert sorted(t["taskArn"] for t in tasks) == sorted(a for a in recorded if isinstance(a, str))
    return history, tasks


def result_of(execution: dict[str, Any]) -> ExecutionResult:
    assert execution["Status"] == "SUCCEEDED", execution
    return ExecutionResult.from_dict(json.loads(execution["Result"]))


def test_duplicate_deliveries_complete_the_callback_once(cloud: Cloud) -> None:
    payload, name = job("dup"), execution_name("dup")
    cloud.arm("duplicate-stopped", name)
    arn = cloud.start(payload, name)
    result = result_of(cloud.wait(arn))
    _, (task,) = ledger(cloud, arn)
    poll(
        lambda: [d["outcome"] for d in cloud.deliveries(task["taskArn"])].count("delivered") == 3,
        what="all three deliveries",
    )
    assert cloud.relay_actions(task["taskArn"]) == [
        RelayAction.ALREADY_CLOSED,
        RelayAction.ALREADY_CLOSED,
        RelayAction.SUCCEEDED,
    ]
    assert (result.attempts, result.completed_by) == (1, CompletedBy.EVENT)


def test_a_fault_hits_the_execution_it_is_armed_for_not_another_with_the_same_input(cloud: Cloud) -> None:
    payload, hit, spared = job("same input"), execution_name("hit"), execution_name("spared")
    cloud.arm("relay-error", hit)
    arns = {name: cloud.start(payload, name) for name in (spared, hit)}
    for arn in arns.values():
        result_of(cloud.wait(arn))
    tasks = {name: task["taskArn"] for name, arn in arns.items() for task in ledger(cloud, arn)[1]}

    def outcomes(name: str) -> list[str]:
        return [d["outcome"] for d in cloud.deliveries(tasks[name])]

    # The execution ends while the relay's invocation returns: its record may come a moment later.
    poll(lambda: all(outcomes(n)[-1:] == ["delivered"] for n in tasks), what="both deliveries")
    assert outcomes(spared) == ["published", "delivered"]
    assert outcomes(hit) == ["published", "function-error", "delivered"]


@pytest.mark.slow
def test_a_lost_completion_event_is_recovered_by_reconcile(cloud: Cloud) -> None:
    payload, name = job("lost"), execution_name("lost")
    cloud.arm("drop-stopped", name)
    arn = cloud.start(payload, name)
    result = result_of(cloud.wait(arn, timeout=60))
    history, (task,) = ledger(cloud, arn)
    assert result.completed_by is CompletedBy.RECONCILE
    assert result.completion.result["processedMessage"] == payload["message"].upper()  # read from S3 anyway
    assert [d["outcome"] for d in cloud.deliveries(task["taskArn"])] == ["published", "lost"]
    assert cloud.relay_actions(task["taskArn"]) == []  # the relay never heard of it
    assert kinds(history)[-3:] == [
        entry("CallbackTimedOut", Operation.TASK_COMPLETION),
        entry("StepSucceeded", Operation.RECONCILE_TASK),
        "ExecutionSucceeded",
    ]


def test_a_relay_failing_twice_is_retried_and_then_completes(cloud: Cloud) -> None:
    payload, name = job("flaky"), execution_name("flaky")
    cloud.arm("relay-error", name, count=2)
    arn = cloud.start(payload, name)
    result_of(cloud.wait(arn))
    _, (task,) = ledger(cloud, arn)
    outcomes = [d["outcome"] for d in cloud.deliveries(task["taskArn"])]
    assert outcomes == ["published", "function-error", "function-error", "delivered"]
    assert cloud.relay_actions(task["taskArn"]) == [RelayAction.SUCCEEDED]


@pytest.mark.slow
def test_durable_runner_killed_and_restarted_mid_task(cloud: Cloud) -> None:
    payload = job("runner-killed", seconds=3)
    arn = cloud.start(payload)
    task_arn, _ = cloud.worker_pid()
    assert cloud.control("/durable-runner/kill", "POST") == {"durableRunner": False}
    assert cloud.task(task_arn)["lastStatus"] == "RUNNING"  # killed while the task runs
    assert cloud.control("/durable-runner/start", "POST") == {"durableRunner": True}
    result = result_of(cloud.wait(arn))
    _, tasks = ledger(cloud, arn)
    assert [t["taskArn"] for t in tasks] == [task_arn] and result.attempts == 1


def test_a_sigkilled_worker_fails_once_with_its_exit_code(cloud: Cloud) -> None:
    arn = cloud.start(job("sigkill", seconds=6))
    task_arn, pid = cloud.worker_pid()
    os.kill(pid, signal.SIGKILL)
    execution = cloud.wait(arn)
    assert execution["Status"] == "FAILED" and execution["Error"]["ErrorType"].endswith("WorkerFailed")
    assert "137" in execution["Error"]["ErrorMessage"]  # 128 + SIGKILL, as a container reports it
    history, (task,) = ledger(cloud, arn)
    assert entry("CallbackFailed", Operation.TASK_COMPLETION) in kinds(history)
    assert task["containers"][0]["exitCode"] == 137
    assert cloud.relay_actions(task_arn) == [RelayAction.FAILED]


def test_a_task_that_never_starts_fails_without_a_retry(cloud: Cloud) -> None:
    payload, name = job("no-image"), execution_name("no-image")
    cloud.arm("never-start", name)
    arn = cloud.start(payload, name)
    execution = cloud.wait(arn)
    assert execution["Status"] == "FAILED"
    assert execution["Error"]["ErrorType"].endswith("TaskFailedToStart")
    assert "CannotPullContainerError" in execution["Error"]["ErrorMessage"]
    _, (task,) = ledger(cloud, arn)
    assert (task["stopCode"], task["containers"][0].get("exitCode")) == ("TaskFailedToStart", None)
    assert cloud.relay_actions(task["taskArn"]) == [RelayAction.FAILED]
    # The caller reads the failure's facts from GetDurableExecution, not only from the message
    details = json.loads(execution["Error"]["ErrorData"])
    assert (details["error_type"], details["task_arn"], details["stop_code"]) == (
        "TaskFailedToStart",
        task["taskArn"],
        "TaskFailedToStart",
    )
    assert (details["attempt"], details["max_attempts"], details["retryable"]) == (1, 3, False)
    assert details["remedy"].startswith("check that the image exists")


def capacities(tasks: list[dict[str, Any]]) -> list[str]:
    """Where each task ran, in the order they started."""
    return [t["capacityProviderName"] for t in sorted(tasks, key=lambda t: t["createdAt"])]


def test_no_spot_capacity_at_start_moves_to_on_demand_and_the_second_task_succeeds(cloud: Cloud) -> None:
    payload, name = job("no-capacity"), execution_name("no-capacity")
    cloud.arm("no-capacity", name)
    arn = cloud.start(payload, name)
    result = result_of(cloud.wait(arn))
    history, tasks = ledger(cloud, arn)
    assert result.attempts == 2 and len(tasks) == 2
    # The first task, on Spot, failed to start for capacity; the second ran on on-demand Fargate,
    # started at once: the pool that failed is not the one asked next.
    assert capacities(tasks) == ["FARGATE_SPOT", "FARGATE"]
    assert entry("WaitSucceeded", Operation.BACKOFF) not in kinds(history)


def test_spot_refusing_run_task_for_capacity_moves_to_on_demand_at_once(cloud: Cloud) -> None:
    payload, name = job("spot-refused"), execution_name("spot-refused")
    cloud.arm("spot-no-capacity", name)
    arn = cloud.start(payload, name)
    result = result_of(cloud.wait(arn))
    history, (task,) = ledger(cloud, arn)  # RunTask on Spot started no task: one task in all
    assert result.attempts == 2 and task["capacityProviderName"] == "FARGATE"
    assert result.completion.usage is not None and result.completion.usage.capacity_provider == "FARGATE"
    first_start = next(
        e for e in history if e["EventType"] == "StepSucceeded" and e["Name"] == Operation.START_TASK.named(1)
    )
    failure = StartTaskResult.from_dict(json.loads(first_start["StepSucceededDetails"]["Result"]["Payload"]))
    assert getattr(failure.outcome, "error_type", None) == "CapacityUnavailable"
    assert entry("CallbackTimedOut", Operation.TASK_COMPLETION) not in kinds(history)
    assert entry("WaitSucceeded", Operation.BACKOFF) not in kinds(history)


def test_a_spot_interruption_moves_to_on_demand_and_the_second_task_succeeds(cloud: Cloud) -> None:
    payload, name = job("spot", seconds=2), execution_name("spot")
    cloud.arm("spot-interruption", name)
    arn = cloud.start(payload, name)
    result = result_of(cloud.wait(arn))
    history, tasks = ledger(cloud, arn)
    interrupted = [t for t in tasks if t["stopCode"] == "SpotInterruption"]
    assert result.attempts == 2 and len(tasks) == 2 and len(interrupted) == 1
    assert result.completion.task_arn != interrupted[0]["taskArn"]
    assert capacities(tasks) == ["FARGATE_SPOT", "FARGATE"]
    assert entry("CallbackFailed", Operation.TASK_COMPLETION) in kinds(history)
    assert entry("CallbackSucceeded", Operation.TASK_COMPLETION, 2) in kinds(history)
    assert result.completion.result["processedMessage"] == payload["message"].upper()


def test_an_execution_stopped_by_the_user_has_its_task_stopped(cloud: Cloud) -> None:
    arn = cloud.start(job("cancelled", seconds=6))
    task_arn, _ = cloud.worker_pid()
    stop = cli(cloud.state_dir, "stop", arn)
    assert stop.returncode == 0, stop.stderr
    assert cloud.execution(arn)["Status"] == "STOPPED"
    # The status change reaches the relay's second rule, which stops the task (no polling anywhere)
    task = poll(lambda: (t := cloud.task(task_arn))["lastStatus"] == "STOPPED" and t, what="the task to stop")
    assert (task["stopCode"], task["stoppedReason"]) == ("UserInitiated", "durable execution STOPPED")
    actions = poll(lambda: len(a := cloud.relay_actions(task_arn)) == 2 and a, what="both relay actions")
    # Then the task's own STOPPED event completes the callback of a stopped execution: the local
    # runner accepts it (FAILED = TaskStopped sent), Lambda may answer it as closed; either way
    # the execution stays STOPPED.
    assert actions in (
        [RelayAction.CANCELLED, RelayAction.FAILED],
        [RelayAction.ALREADY_CLOSED, RelayAction.CANCELLED],
    )
    assert cloud.execution(arn)["Status"] == "STOPPED"
    assert [t["taskArn"] for t in cloud.tasks_of(arn)] == [task_arn]


def test_an_out_of_memory_kill_is_retried_at_once_with_twice_the_memory_and_succeeds(cloud: Cloud) -> None:
    payload, name = job("oom"), execution_name("oom")
    cloud.arm("oom-kill", name)
    arn = cloud.start(payload, name)
    result = result_of(cloud.wait(arn))
    history, tasks = ledger(cloud, arn)
    assert result.attempts == 2 and len(tasks) == 2

    # The first task ran at the task definition's size (template: WorkerCpu, WorkerMemory) and was
    # killed as the kernel's OOM killer kills a container: SIGKILL, and ECS's reason for it.
    killed = cloud.task(started_task(history, 1))
    assert (killed["cpu"], killed["memory"]) == ("256", "512") and "cpu" not in killed["overrides"]
    assert (killed["stopCode"], killed["containers"][0]["exitCode"]) == ("EssentialContainerExited", 137)
    assert killed["containers"][0]["reason"] == "OutOfMemoryError: Container killed due to memory usage"
    assert cloud.relay_actions(killed["taskArn"]) == [RelayAction.FAILED]

    # The second asked RunTask for twice the memory (the same CPU holds it), for the task and its
    # container, ran at that size, and succeeded.
    second = cloud.task(started_task(history, 2))
    overrides = second["overrides"]
    assert (overrides["cpu"], overrides["memory"], overrides["containerOverrides"][0]["memory"]) == (
        "256",
        "1024",
        1024,
    )
    assert (second["cpu"], second["memory"]) == ("256", "1024")
    assert result.completion.task_arn == second["taskArn"]
    assert result.completion.result["processedMessage"] == payload["message"].upper()
    # At once: the size that failed is not the one asked next, so there is no backoff.
    assert kinds(history) == [
        "ExecutionStarted",
        entry("CallbackStarted", Operation.TASK_COMPLETION),
        entry("StepSucceeded", Operation.START_TASK),
        entry("CallbackFailed", Operation.TASK_COMPLETION),
        entry("CallbackStarted", Operation.TASK_COMPLETION, 2),
        entry("StepSucceeded", Operation.START_TASK, 2),
        entry("CallbackSucceeded", Operation.TASK_COMPLETION, 2),
        "ExecutionSucceeded",
    ]
