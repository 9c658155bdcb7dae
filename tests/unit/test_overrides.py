"""A job's overrides of its task (contract/ecs_contract/overrides.py): each rule, with its message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.session import get_session
from botocore.validate import validate_parameters

from ecs_contract.names import CALLBACK_ID_MAX
from ecs_contract.overrides import (
    FARGATE_TASK_SIZES,
    InvalidOverrides,
    RunTaskOverrides,
    TaskDefinitionAllowList,
    TaskOverrides,
)
from local import ecs_rules

CALLBACK_ID = "Y2FsbGJhY2s="
JOB_JSON = '{"message": "hi"}'
RESULT_URI = "s3://results-bucket/results/" + "0" * 64 + ".json"
ALLOWED = TaskDefinitionAllowList.parse(
    "stack-worker, stack-gpu,arn:aws:ecs:eu-west-1:123456789012:task-definition/big:7"
)


def refused(data: Any) -> str:
    with pytest.raises(InvalidOverrides) as raised:
        TaskOverrides.from_dict(data)
    return str(raised.value)


def run_task(overrides: TaskOverrides) -> RunTaskOverrides:
    return overrides.to_run_task(callback_id=CALLBACK_ID, job_json=JOB_JSON, result_uri=RESULT_URI)


def test_an_invalid_override_is_a_value_error() -> None:
    assert issubclass(InvalidOverrides, ValueError)


# -- Fargate's task sizes ------------------------------------------------------------------------
def test_the_fargate_table_is_the_documented_one() -> None:
    # AmazonECS/latest/developerguide/task-cpu-memory-error.html, "Task CPU and memory" for Fargate.
    def steps(first: int, last: int, step: int) -> tuple[int, ...]:
        return tuple(range(first, last + 1, step))

    documented = {
        256: (512, 1024, 2048),
        512: (1024, 2048, 3072, 4096),
        1024: steps(2048, 8192, 1024),
        2048: steps(4096, 16384, 1024),
        4096: steps(8192, 30720, 1024),
        8192: steps(16384, 61440, 4096),
        16384: steps(32768, 122880, 8192),
    }
    assert documented == FARGATE_TASK_SIZES


def test_the_local_ecs_refuses_the_same_sizes_as_the_contract() -> None:
    # Written twice on purpose (the local cloud stands in for ECS, not for our contract); held here.
    assert dict(FARGATE_TASK_SIZES) == ecs_rules.FARGATE_TASK_SIZES


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [(cpu, memory) for cpu, sizes in FARGATE_TASK_SIZES.items() for memory in (sizes[0], sizes[-1])],
)
def test_every_fargate_size_is_accepted_and_sent_as_the_model_shapes_it(cpu: int, memory: int) -> None:
    overrides = run_task(TaskOverrides.from_dict({"cpu": cpu, "memory": memory})).overrides
    # TaskOverride.cpu and .memory are Strings; ContainerOverride.memory is a BoxedInteger.
    assert (overrides["cpu"], overrides["memory"]) == (str(cpu), str(memory))
    assert overrides["containerOverrides"][0]["memory"] == memory


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"cpu": 256, "memory": 4096},
            "memory 4096 MiB does not go with cpu 256 on Fargate: with cpu 256, memory may be "
            "512, 1024 or 2048 MiB",
        ),
        (
            {"cpu": 1024, "memory": 2560},
            "memory 2560 MiB does not go with cpu 1024 on Fargate: with cpu 1024, memory may be "
            "2048 to 8192 MiB in steps of 1024",
        ),
        (
            {"cpu": 8192, "memory": 18432},
            "memory 18432 MiB does not go with cpu 8192 on Fargate: with cpu 8192, memory may be "
            "16384 to 61440 MiB in steps of 4096",
        ),
        (
            {"cpu": 300, "memory": 1024},
            "cpu 300 is not a Fargate CPU value: use one of 256, 512, 1024, 2048, 4096, 8192, 16384 "
            "(1024 = 1 vCPU)",
        ),
    ],
)
def test_a_size_fargate_does_not_have_is_refused(data: dict[str, int], message: str) -> None:
    assert refused(data) == message


@pytest.mark.parametrize("data", [{"cpu": 1024}, {"memory": 2048}])
def test_cpu_and_memory_are_set_together(data: dict[str, int]) -> None:
    assert refused(data) == (
        "set cpu and memory together: Fargate runs only the pairs of its table (e.g. cpu 1024 "
        "with memory 2048 to 8192 MiB), and the task definition's other value may not fit"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"cpu": "1024", "memory": 2048}, "'cpu' must be a whole number, e.g. 1024 (1 vCPU); got '1024'"),
        ({"cpu": 1024, "memory": 2048.0}, "'memory' must be a whole number, e.g. 2048 (MiB); got 2048.0"),
        ({"cpu": True, "memory": 2048}, "'cpu' must be a whole number, e.g. 1024 (1 vCPU); got True"),
    ],
)
def test_sizes_are_whole_numbers(data: dict[str, Any], message: str) -> None:
    assert refused(data) == message


def test_a_size_is_checked_however_the_overrides_are_built() -> None:
    with pytest.raises(InvalidOverrides, match="does not go with cpu 256"):
        TaskOverrides(cpu=256, memory=4096)


# -- ephemeral storage ---------------------------------------------------------------------------
@pytest.mark.parametrize("gib", [21, 200])
def test_ephemeral_storage_from_21_to_200_gib(gib: int) -> None:
    # botocore ECS model, EphemeralStorage.sizeInGiB: minimum 21 GiB, maximum 200 GiB.
    overrides = run_task(TaskOverrides.from_dict({"ephemeralStorageGiB": gib})).overrides
    assert overrides["ephemeralStorage"] == {"sizeInGiB": gib}


@pytest.mark.parametrize("gib", [0, 20, 201])
def test_ephemeral_storage_outside_fargates_range_is_refused(gib: int) -> None:
    assert refused({"ephemeralStorageGiB": gib}) == (
        "'ephemeralStorageGiB' must be from 21 to 200 GiB (Fargate's range); leave it out for the "
        f"default 20 GiB; got {gib}"
    )


# -- environment ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("CALLBACK_ID", "the relay reads the task's callback id from it"),
        ("JOB_INPUT", "the job input travels in it; put the value in the job input instead"),
        ("RESULT_S3_URI", "it names where the worker writes its result"),
        ("JOB_CHOICE", "it chooses which job the worker runs"),
        ("TASK_ATTEMPT", "it tells the task its attempt"),
        ("TASK_INDEX", "it tells a fan-out's task its index"),
    ],
)
def test_our_reserved_environment_names_are_refused(name: str, why: str) -> None:
    assert refused({"environment": {name: "x"}}) == (
        f"environment variable {name} is set by the orchestrator ({why}); choose another name"
    )


@pytest.mark.parametrize(
    "name", ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "ECS_CONTAINER_METADATA_URI_V4", "AWS_REGION"]
)
def test_the_names_ecs_sets_in_every_task_are_refused(name: str) -> None:
    # AmazonECS/latest/developerguide/ecs-environment-variables.html
    assert refused({"environment": {name: "x"}}) == (
        f"environment variable {name} is set by Amazon ECS in every task; choose another name"
    )


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"": "x"}, "environment variable names must not be empty"),
        ({"A=B": "x"}, "environment variable name 'A=B' must not contain '='"),
        (
            {"LEVEL": 3},
            '\'environment\' must be an object of names to string values, e.g. {"LOG_LEVEL": "debug"}',
        ),
        (
            {3: "x"},
            '\'environment\' must be an object of names to string values, e.g. {"LOG_LEVEL": "debug"}',
        ),
        (
            [["LEVEL", "3"]],
            '\'environment\' must be an object of names to string values, e.g. {"LOG_LEVEL": "debug"}',
        ),
    ],
)
def test_environment_must_be_names_to_strings(environment: Any, message: str) -> None:
    assert refused({"environment": environment}) == message


def test_a_variable_is_set_once() -> None:
    with pytest.raises(InvalidOverrides, match="each environment variable may be set once"):
        TaskOverrides(environment=(("A", "1"), ("A", "2")))


def test_the_jobs_variables_follow_the_orchestrators() -> None:
    overrides = run_task(TaskOverrides.from_dict({"environment": {"LOG_LEVEL": "debug"}})).overrides
    assert overrides["containerOverrides"][0]["environment"] == [
        {"name": "CALLBACK_ID", "value": CALLBACK_ID},
        {"name": "JOB_INPUT", "value": JOB_JSON},
        {"name": "RESULT_S3_URI", "value": RESULT_URI},
        {"name": "LOG_LEVEL", "value": "debug"},
    ]


# -- command -------------------------------------------------------------------------------------
def test_a_command_replaces_the_task_definitions() -> None:
    overrides = run_task(TaskOverrides.from_dict({"command": ["python", "-m", "worker", "--fast"]})).overrides
    assert overrides["containerOverrides"][0]["command"] == ["python", "-m", "worker", "--fast"]


@pytest.mark.parametrize("command", [[], "python -m worker", ["python", 3]])
def test_a_command_is_a_non_empty_list_of_strings(command: Any) -> None:
    assert refused({"command": command}) == (
        '\'command\' must be a non-empty list of strings, e.g. ["python", "-m", "worker"]; '
        "leave it out to keep the task definition's"
    )


# -- never a role, nothing unknown -----------------------------------------------------------------
@pytest.mark.parametrize("key", ["taskRoleArn", "executionRoleArn", "taskRole"])
def test_a_role_is_never_overridden(key: str) -> None:
    assert refused({key: "arn:aws:iam::123456789012:role/admin"}) == (
        f"'{key}' cannot be overridden: RunTask's overrides cannot be constrained by IAM, so a job "
        "that could choose the role could take any role the orchestrator may pass (Dagster's "
        "per-run task-role override is the cautionary example). The roles are the task "
        "definition's: to run with another role, register a task definition with it and add it to "
        "ALLOWED_TASK_DEFINITIONS."
    )


@pytest.mark.parametrize("key", ["containerOverrides", "inferenceAcceleratorOverrides", "memoryReservation"])
def test_an_unknown_override_is_refused(key: str) -> None:
    assert refused({key: 1}) == (
        f"unknown override '{key}': a job may set only cpu, memory, command, environment, "
        "ephemeralStorageGiB, taskDefinition"
    )


@pytest.mark.parametrize("data", [[], "cpu=1024", 3])
def test_overrides_are_an_object(data: Any) -> None:
    assert refused(data) == (
        "overrides must be an object with some of: cpu, memory, command, environment, "
        "ephemeralStorageGiB, taskDefinition"
    )


# -- the task definition, from the allow-list ------------------------------------------------------
def test_the_allow_list_is_a_comma_separated_list_of_families_or_arns() -> None:
    assert ALLOWED.entries == (
        "stack-worker",
        "stack-gpu",
        "arn:aws:ecs:eu-west-1:123456789012:task-definition/big:7",
    )
    assert TaskDefinitionAllowList.parse(None).entries == TaskDefinitionAllowList.parse(" , ").entries == ()


@pytest.mark.parametrize(
    "task_definition",
    ["stack-gpu", "stack-gpu:3", "arn:aws:ecs:eu-west-1:123456789012:task-definition/big:7"],
)
def test_a_task_definition_on_the_allow_list_is_run(task_definition: str) -> None:
    overrides = TaskOverrides.from_dict({"taskDefinition": task_definition})
    overrides.check(ALLOWED, job_json=JOB_JSON, result_uri=RESULT_URI)
    assert run_task(overrides).task_definition == task_definition


@pytest.mark.parametrize(
    "task_definition",
    [
        "other",
        "stack-gpu:latest",
        "stack-gpux",
        "big:7",
        "arn:aws:ecs:eu-west-1:123456789012:task-definition/big:8",
        "arn:aws:ecs:eu-west-1:123456789012:task-definition/stack-gpu:3",
    ],
)
def test_a_task_definition_off_the_allow_list_is_refused(task_definition: str) -> None:
    overrides = TaskOverrides.from_dict({"taskDefinition": task_definition})
    with pytest.raises(InvalidOverrides) as raised:
        overrides.check(ALLOWED, job_json=JOB_JSON, result_uri=RESULT_URI)
    assert str(raised.value) == (
        f"task definition '{task_definition}' is not allowed here (allowed: stack-worker, stack-gpu, "
        "arn:aws:ecs:eu-west-1:123456789012:task-definition/big:7); choose one of those, or have the "
        "deployment add it to ALLOWED_TASK_DEFINITIONS"
    )


def test_with_no_allow_list_no_task_definition_may_be_chosen() -> None:
    overrides = TaskOverrides.from_dict({"taskDefinition": "stack-worker"})
    with pytest.raises(InvalidOverrides, match=r"\(allowed: none\)"):
        overrides.check(TaskDefinitionAllowList(), job_json=JOB_JSON, result_uri=RESULT_URI)


@pytest.mark.parametrize(
    ("value", "message"), [(7, "a task definition family or ARN"), ("", "must not be empty")]
)
def test_a_task_definition_is_a_name(value: Any, message: str) -> None:
    assert message in refused({"taskDefinition": value})


def test_no_task_definition_chosen_leaves_the_deployments_own() -> None:
    assert run_task(TaskOverrides()).task_definition is None


# -- 8,192 characters, with the callback id, the job input and the result URI ---------------------
def job_json_filling(chars: int, overrides: TaskOverrides) -> str:
    """A job input that makes `overrides` exactly `chars` long with the longest callback id."""
    probe = overrides.to_run_task(callback_id="A" * CALLBACK_ID_MAX, job_json="", result_uri=RESULT_URI)
    return "x" * (chars - len(json.dumps(probe.overrides, separators=(",", ":"))))


def test_overrides_that_fit_8192_chars_with_the_longest_callback_id_pass_the_door() -> None:
    overrides = TaskOverrides.from_dict({"command": ["run"], "environment": {"LEVEL": "debug"}})
    overrides.check(ALLOWED, job_json=job_json_filling(8192, overrides), result_uri=RESULT_URI)


def test_overrides_past_8192_chars_are_refused_at_the_door() -> None:
    overrides = TaskOverrides.from_dict({"command": ["run"], "environment": {"LEVEL": "debug"}})
    with pytest.raises(InvalidOverrides) as raised:
        overrides.check(ALLOWED, job_json=job_json_filling(8193, overrides), result_uri=RESULT_URI)
    assert str(raised.value) == (
        "container overrides are 8193 chars; ECS allows 8192. Pass large job input by reference "
        "(e.g. an S3 URI) instead of inline. The 8192 chars hold the callback id (up to 1024), the "
        "job input, the result URI, the command and the environment: shorten the command or the "
        "environment too."
    )


# -- RunTask's request, as botocore's model shapes it ------------------------------------------------
def test_the_default_overrides_are_the_orchestrators_own() -> None:
    assert run_task(TaskOverrides()) == RunTaskOverrides(
        {
            "containerOverrides": [
                {
                    "name": "worker",
                    "environment": [
                        {"name": "CALLBACK_ID", "value": CALLBACK_ID},
                        {"name": "JOB_INPUT", "value": JOB_JSON},
                        {"name": "RESULT_S3_URI", "value": RESULT_URI},
                    ],
                }
            ]
        }
    )


FULL = {
    "cpu": 2048,
    "memory": 8192,
    "command": ["python", "-m", "worker"],
    "environment": {"LOG_LEVEL": "debug"},
    "ephemeralStorageGiB": 50,
    "taskDefinition": "stack-gpu:2",
}


def test_every_override_makes_a_run_task_request_botocore_accepts() -> None:
    parts = run_task(TaskOverrides.from_dict(FULL))
    request = {
        "cluster": "workers",
        "taskDefinition": parts.task_definition,
        "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
        "overrides": parts.overrides,
    }
    shape = get_session().get_service_model("ecs").operation_model("RunTask").input_shape
    validate_parameters(request, shape)  # raises ParamValidationError on a wrong shape or type
    assert parts.overrides == {
        "containerOverrides": [
            {
                "name": "worker",
                "environment": [
                    {"name": "CALLBACK_ID", "value": CALLBACK_ID},
                    {"name": "JOB_INPUT", "value": JOB_JSON},
                    {"name": "RESULT_S3_URI", "value": RESULT_URI},
                    {"name": "LOG_LEVEL", "value": "debug"},
                ],
                "command": ["python", "-m", "worker"],
                "memory": 8192,
            }
        ],
        "cpu": "2048",
        "memory": "8192",
        "ephemeralStorage": {"sizeInGiB": 50},
    }
    assert parts.task_definition == "stack-gpu:2"


def test_the_local_ecs_accepts_what_the_door_lets_through() -> None:
    ecs_rules.check_overrides(run_task(TaskOverrides.from_dict(FULL)).overrides)
    ecs_rules.check_task_size("2048", "8192")


def test_the_document_reads_back_as_written() -> None:
    overrides = TaskOverrides.from_dict(FULL)
    assert overrides.to_dict() == FULL
    assert TaskOverrides.from_dict(overrides.to_dict()) == overrides
    assert TaskOverrides.from_dict(None) == TaskOverrides.from_dict({}) == TaskOverrides()
    assert TaskOverrides().to_dict() == {}
