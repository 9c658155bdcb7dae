"""The library's public surface: what `from durable_ecs import ...` gives, the names of a task's
operations, and the orchestrator's errors as subclasses of the library's."""

from __future__ import annotations

import json
from typing import cast

import pytest
from aws_durable_execution_sdk_python import ChildContextError, DurableContext
from aws_durable_execution_sdk_python.lambda_service import ErrorObject

import durable_ecs
from durable_ecs import EcsSettings, InvalidInput, fanout, run_tasks
from durable_ecs import errors as lib_errors
from durable_ecs.task import MAX_NAME_CHARS, TaskRequest, _check_name
from ecs_contract.documents import DEFAULT_TASK_NAME, ExecutionResult, Operation
from ecs_contract.outcome import ErrorType, TaskFailed
from orchestrator import errors as orchestrator_errors
from orchestrator.config import OrchestratorConfig
from testkit.paths import ROOT
from testkit.template import template_environment


def test_the_public_api_is_what_users_import():
    for name in ("run_task", "TaskRequest", "TaskResult", "EcsSettings", "TaskError", "WorkerFailed"):
        assert name in durable_ecs.__all__ and hasattr(durable_ecs, name)
    assert durable_ecs.TaskResult is ExecutionResult  # one document, one to_dict/from_dict
    assert issubclass(
        OrchestratorConfig, durable_ecs.EcsSettings
    )  # the orchestrator's is the library's, plus its job


def test_the_default_task_keeps_the_orchestrator_s_names_and_others_carry_theirs():
    assert DEFAULT_TASK_NAME == "task"
    assert (
        Operation.START_TASK.named(1) == Operation.START_TASK.named(1, DEFAULT_TASK_NAME) == "start-task #1"
    )
    assert Operation.BACKOFF.named(2, "prepare") == "prepare: backoff #2"
    assert Operation.TASK_COMPLETION.named(1, "part 3") == "part 3: task-completion #1"
    assert Operation.START_TASK.names("prepare: start-task #1") and Operation.START_TASK.names(
        "start-task #1"
    )
    assert not Operation.START_TASK.names("prepare: task-completion #1")
    assert not Operation.START_TASK.names("start-task: prepare #1")


@pytest.mark.parametrize("name", ["", "x" * (MAX_NAME_CHARS + 1), "caf\u00e9", "tab\there"])
def test_a_task_name_an_operation_name_cannot_carry_is_refused(name):
    # botocore lambda model, OperationName: 1..256 chars of [\x20-\x7E]
    with pytest.raises(ValueError, match="printable ASCII"):
        _check_name(name)


def test_the_longest_name_still_fits_an_operation_name():
    longest = Operation.STOP_TIMED_OUT_TASK.named(999, "x" * MAX_NAME_CHARS)
    assert len(longest) <= 256
    _check_name("x" * MAX_NAME_CHARS)


def test_the_job_travels_as_compact_sorted_json():
    assert TaskRequest(job={"b": 1, "a": [1, 2]}).job_json() == '{"a":[1,2],"b":1}'


@pytest.mark.parametrize("error_type", list(ErrorType))
def test_each_library_error_becomes_the_orchestrator_s_class_of_the_same_name(error_type):
    failure = TaskFailed(error_type, "boom", retryable=True)
    library = lib_errors.error_for(failure, failure.details(2, 3))
    mine = orchestrator_errors.as_orchestrator_error(library)
    assert type(mine).__module__ == "orchestrator.errors"  # the execution's error type its callers read
    assert type(mine).__name__ == type(library).__name__
    assert isinstance(mine, type(library)) and isinstance(mine, orchestrator_errors.TaskError)
    assert (str(mine), mine.retryable, mine.outcome) == ("boom", True, library.outcome)
    # The details travel with it: the SDK records a DurableOperationError's data as the ErrorData
    assert mine.error_type == f"orchestrator.errors.{type(library).__name__}"
    assert ErrorObject.from_exception(mine).data == library.data
    details = json.loads(library.data or "")
    assert (details["error_type"], details["attempt"], details["max_attempts"]) == (error_type.value, 2, 3)
    assert details["remedy"] == error_type.remedy and details["remedy"]
    assert orchestrator_errors.as_orchestrator_error(mine) is mine


def test_the_pipeline_ships_the_libraries_the_orchestrator_ships_at_the_same_versions():
    """durable_ecs (in the layer) imports the durable SDK, Powertools and boto3, which each function
    that uses it pins: one version for both durable functions, the one the tests run (requirements/dev.txt
    installs the orchestrator's)."""
    pins = [(ROOT / d / "requirements.txt").read_text().split() for d in ("orchestrator", "pipeline")]
    assert pins[0] == pins[1]


def test_a_branch_s_wrapped_error_is_typed_again_and_no_other_error_is():
    wrapped = ChildContextError("worker exited with code 1", error_type="durable_ecs.errors.WorkerFailed")
    again = durable_ecs.task_error_of(wrapped)
    assert type(again) is lib_errors.WorkerFailed and str(again) == "worker exited with code 1"
    assert durable_ecs.task_error_of(ChildContextError("x", error_type="builtins.ValueError")) is None
    assert durable_ecs.task_error_of(ChildContextError("x", error_type="other.errors.WorkerFailed")) is None
    assert durable_ecs.task_error_of(ChildContextError("x")) is None


@pytest.mark.parametrize(
    ("start_timeout", "most", "needed"),
    [("0", 1499, 3001), ("300", 999, 3001)],  # a start timeout adds a callback a task
)
def test_a_fan_out_that_could_never_fit_lambda_s_operations_quota_is_refused_at_the_door(
    start_timeout, most, needed
):
    settings = EcsSettings.from_env(template_environment("Pipeline", START_TIMEOUT_SECONDS=start_timeout))
    assert fanout.max_tasks(settings) == most
    too_many = [TaskRequest(job={"message": "x"})] * (most + 1)
    with pytest.raises(InvalidInput) as refused:
        run_tasks(cast(DurableContext, None), "part", too_many, max_concurrency=10, settings=settings)
    assert str(refused.value).startswith(f"a fan-out of {most + 1} tasks needs {needed} durable operations")
    assert "split the requests across executions" in str(refused.value)


@pytest.mark.parametrize("concurrency", [0, 1001])
def test_a_concurrency_beyond_a_thread_each_in_lambda_s_1024_is_refused(concurrency):
    with pytest.raises(ValueError, match="max_concurrency is 1 to 1000"):
        run_tasks(cast(DurableContext, None), "part", [], max_concurrency=concurrency)
