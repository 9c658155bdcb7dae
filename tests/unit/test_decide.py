"""decide(): every row of the outcome table (CONTRIBUTING.md), and the edge cases."""

from __future__ import annotations

import copy

import pytest

from ecs_contract.decide import decide
from ecs_contract.outcome import ErrorType, Ignored, TaskFailed, TaskSucceeded
from ecs_contract.task import Task, parse_task
from ecs_contract.usage import TaskUsage
from testkit.paths import load_event


def task_from(name: str, **changes):
    detail = copy.deepcopy(load_event(name)["detail"])
    detail.update(changes)
    return parse_task(detail)


def with_worker(name: str, **container_changes):
    detail = copy.deepcopy(load_event(name)["detail"])
    detail["containers"][0].update(container_changes)
    return parse_task(detail)


def failed(task: Task) -> TaskFailed:
    """decide()'s outcome for a task that must fail, as the failure it is."""
    outcome = decide(task)
    assert isinstance(outcome, TaskFailed), outcome
    return outcome


def test_exit_zero_is_success_with_task_facts():
    outcome = decide(task_from("ecs/stopped-success"))
    assert outcome == TaskSucceeded(
        task_arn="arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad",
        exit_code=0,
        started_at="2020-01-23T17:57:58.103Z",
        stopped_at="2020-01-23T17:59:41.234Z",
        usage=TaskUsage(
            cpu=256,
            memory=512,
            capacity_provider="FARGATE",
            pull_started_at="2020-01-23T17:57:52.103Z",
            stopped_at="2020-01-23T17:59:41.234Z",
        ),
    )


def test_nonzero_exit_is_worker_failed_not_retryable():
    outcome = decide(task_from("ecs/stopped-nonzero-exit"))
    assert isinstance(outcome, TaskFailed)
    assert (outcome.error_type, outcome.exit_code, outcome.retryable) == (ErrorType.WORKER_FAILED, 3, False)
    assert "exited with code 3" in outcome.message


def test_container_reason_is_carried_into_worker_failed():
    outcome = failed(with_worker("ecs/stopped-success", exitCode=1, reason="Segmentation fault"))
    assert outcome.error_type is ErrorType.WORKER_FAILED
    assert outcome.reason == "Segmentation fault"


def test_out_of_memory_outranks_exit_code():
    outcome = failed(task_from("ecs/stopped-out-of-memory"))
    assert (outcome.error_type, outcome.exit_code, outcome.retryable) == (ErrorType.OUT_OF_MEMORY, 137, False)


@pytest.mark.parametrize(
    ("reason", "retryable"),
    [
        ("CannotPullContainerError: pull image manifest has been retried 5 time(s)", False),
        ("ResourceInitializationError: unable to pull secrets or registry auth", False),
        ("Capacity is unavailable at this time. Please try again later or in a different AZ", True),
        ("RESOURCE:ENI", True),
        ("Timeout waiting for network interface provisioning to complete.", True),
    ],
)
def test_failed_to_start_is_retryable_only_for_capacity_and_transient_reasons(reason, retryable):
    outcome = failed(task_from("ecs/stopped-failed-to-start", stoppedReason=reason))
    assert outcome.error_type is ErrorType.TASK_FAILED_TO_START
    assert outcome.retryable is retryable
    assert outcome.exit_code is None


@pytest.mark.parametrize("stop_code", ["SpotInterruption", "TerminationNotice"])
def test_interruption_is_retryable_even_if_container_exited_zero(stop_code):
    detail = copy.deepcopy(load_event("ecs/stopped-spot-interruption")["detail"])
    detail["stopCode"] = stop_code
    detail["containers"][0]["exitCode"] = 0
    outcome = failed(parse_task(detail))
    assert (outcome.error_type, outcome.retryable) == (ErrorType.TASK_INTERRUPTED, True)


def test_user_initiated_stop_is_task_stopped():
    outcome = failed(task_from("ecs/stopped-success", stopCode="UserInitiated", stoppedReason="timed out"))
    assert outcome.error_type is ErrorType.TASK_STOPPED
    assert "timed out" in outcome.message


def test_missing_exit_code_is_no_exit_code():
    detail = copy.deepcopy(load_event("ecs/stopped-success")["detail"])
    del detail["containers"][0]["exitCode"]
    outcome = failed(parse_task(detail))
    assert outcome.error_type is ErrorType.NO_EXIT_CODE


@pytest.mark.parametrize("status", ["PROVISIONING", "PENDING", "RUNNING", "DEPROVISIONING"])
def test_not_stopped_is_ignored(status):
    outcome = decide(task_from("ecs/stopped-success", lastStatus=status))
    assert isinstance(outcome, Ignored)
    assert status in outcome.reason


def test_several_containers_the_worker_decides():
    detail = copy.deepcopy(load_event("ecs/stopped-success")["detail"])
    detail["containers"].insert(0, {"name": "log-router", "exitCode": 1, "lastStatus": "STOPPED"})
    assert isinstance(decide(parse_task(detail)), TaskSucceeded)
    detail["containers"][1]["exitCode"] = 2
    detail["containers"][0]["exitCode"] = 0
    assert failed(parse_task(detail)).exit_code == 2


def test_several_containers_without_a_worker_is_no_exit_code():
    detail = copy.deepcopy(load_event("ecs/stopped-success")["detail"])
    detail["containers"] = [
        {"name": "a", "exitCode": 0, "lastStatus": "STOPPED"},
        {"name": "b", "exitCode": 0, "lastStatus": "STOPPED"},
    ]
    outcome = failed(parse_task(detail))
    assert outcome.error_type is ErrorType.NO_EXIT_CODE
    assert "'worker'" in outcome.message


def test_a_single_container_with_another_name_is_the_worker():
    detail = copy.deepcopy(load_event("ecs/stopped-success")["detail"])
    detail["containers"][0]["name"] = "app"
    detail["containers"][0]["exitCode"] = 5
    assert failed(parse_task(detail)).exit_code == 5


def test_no_containers_is_no_exit_code():
    outcome = failed(task_from("ecs/stopped-success", containers=[]))
    assert outcome.error_type is ErrorType.NO_EXIT_CODE
