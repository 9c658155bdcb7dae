"""A job's overrides on the local cloud: a sized job runs at its size; a refused one starts no task."""

from __future__ import annotations

import pytest

from ecs_contract.documents import Operation
from testkit.local_cloud import Cloud, entry, error_type, kinds, started_task
from testkit.paths import load_event

pytestmark = pytest.mark.flow


def test_a_sized_job_runs_at_its_size(cloud: Cloud) -> None:
    payload = load_event("invoke/overrides")
    arn = cloud.start(payload)
    execution = cloud.wait(arn)
    assert execution["Status"] == "SUCCEEDED", execution
    history = cloud.history(arn)
    assert entry("StepSucceeded", Operation.START_TASK) in kinds(history)

    # The local ECS ran the task with the job's size (and checked the pair as Fargate does).
    task = cloud.task(started_task(history))
    assert (task["overrides"]["cpu"], task["overrides"]["memory"]) == ("512", "1024")
    env = {pair["name"]: pair["value"] for pair in task["overrides"]["containerOverrides"][0]["environment"]}
    assert env["LOG_LEVEL"] == "debug"
    assert "overrides" not in env["JOB_INPUT"]  # the worker's job is the job without them
    assert task["containers"][0]["exitCode"] == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(load_event("invoke/invalid-overrides")["overrides"], "cannot be overridden", id="role"),
        pytest.param({"cpu": 256, "memory": 8192}, "does not go with cpu 256", id="fargate-pair"),
    ],
)
def test_a_refused_override_fails_with_invalid_input_and_starts_no_task(
    cloud: Cloud, overrides: object, message: str
) -> None:
    before = cloud.task_count()
    arn = cloud.start({"message": "refused", "processingTime": 1, "overrides": overrides})
    execution = cloud.wait(arn)
    assert execution["Status"] == "FAILED" and error_type(execution) == "InvalidInput"
    assert message in execution["Error"]["ErrorMessage"]
    assert kinds(cloud.history(arn)) == ["ExecutionStarted", "ExecutionFailed"]
    assert cloud.task_count() == before
