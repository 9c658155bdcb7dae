"""The local cloud's ECS refuses what ECS refuses (local/ecs_rules.py), through the real API.

moto runs in server mode and the task agent's hooks are installed as the local cloud installs them;
the agent's loop is not started, so no worker runs: these tests are about the API alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.ecs_rules import PROVIDER_NOT_ASSOCIATED, EcsRules, EcsRulesConfig
from local.rates import TokenRate
from testkit.local_ecs import Clock, LocalEcs, local_ecs

INVALID = "InvalidParameterException"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ecs_config() -> EcsRulesConfig:
    return EcsRulesConfig(stopped_task_retention=timedelta(hours=1), client_token_ttl=timedelta(hours=24))


@pytest.fixture
def ecs(tmp_path: Path, clock: Clock, ecs_config: EcsRulesConfig) -> Iterator[LocalEcs]:
    with local_ecs(tmp_path) as world:
        rules = EcsRules(ecs_config, clock=clock)
        world.agent(ecs_rules=rules).install_stop_hook()
        yield world


def error_of(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return dict(raised.value.response)


# -- ListTasks ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "other", [{"desiredStatus": "RUNNING"}, {"family": "worker"}, {"launchType": "FARGATE"}]
)
def test_list_tasks_refuses_started_by_with_another_filter(ecs: LocalEcs, other: dict[str, str]) -> None:
    # botocore ECS model, ListTasksRequest.startedBy: "When you specify startedBy as the filter, it
    # must be the only filter that you use."
    client = ecs.client("ecs")
    error = error_of(client.list_tasks, cluster=ecs.cluster, startedBy="durable-ecs/0123", **other)
    assert error["Error"]["Code"] == INVALID
    assert "startedBy" in error["Error"]["Message"]


def test_list_tasks_by_started_by_alone_lists_the_tasks_not_yet_stopped(ecs: LocalEcs) -> None:
    # ListTasksRequest.desiredStatus: "The default status filter is RUNNING".
    client = ecs.client("ecs")
    running = client.run_task(**ecs.run_task_request())["tasks"][0]["taskArn"]
    stopped = client.run_task(**ecs.run_task_request())["tasks"][0]["taskArn"]
    client.stop_task(cluster=ecs.cluster, task=stopped, reason="test")
    listed = client.list_tasks(cluster=ecs.cluster, startedBy="durable-ecs/0123456789abcdef")["taskArns"]
    assert listed == [running]
    assert client.list_tasks(cluster=ecs.cluster, desiredStatus="STOPPED")["taskArns"] == [stopped]


# -- RunTask clientToken --------------------------------------------------------------------------
def test_run_task_with_the_same_client_token_and_request_returns_the_original_task(ecs: LocalEcs) -> None:
    client = ecs.client("ecs")
    request = ecs.run_task_request(clientToken="a" * 64)
    first = client.run_task(**request)["tasks"]
    again = client.run_task(**request)["tasks"]
    assert [t["taskArn"] for t in again] == [t["taskArn"] for t in first]
    assert client.list_tasks(cluster=ecs.cluster)["taskArns"] == [first[0]["taskArn"]]


def test_run_task_with_the_same_client_token_and_another_request_is_a_conflict(ecs: LocalEcs) -> None:
    client = ecs.client("ecs")
    original = client.run_task(**ecs.run_task_request(clientToken="token-1"))["tasks"][0]["taskArn"]
    error = error_of(
        client.run_task, **ecs.run_task_request(clientToken="token-1", startedBy="durable-ecs/x")
    )
    assert error["Error"]["Code"] == "ConflictException"
    assert error["resourceIds"] == [original]  # ConflictException.resourceIds: the existing task ARNs
    assert client.list_tasks(cluster=ecs.cluster)["taskArns"] == [original]


def test_a_client_token_is_per_cluster(ecs: LocalEcs) -> None:
    client = ecs.client("ecs")
    other = client.create_cluster(clusterName="other", capacityProviders=["FARGATE_SPOT"])["cluster"][
        "clusterArn"
    ]
    first = client.run_task(**ecs.run_task_request(clientToken="token-1"))["tasks"][0]["taskArn"]
    second = client.run_task(**ecs.run_task_request(clientToken="token-1", cluster=other))["tasks"][0]
    assert second["taskArn"] != first and second["clusterArn"] == other


def test_run_task_refuses_a_capacity_provider_the_cluster_is_not_associated_with(ecs: LocalEcs) -> None:
    client = ecs.client("ecs")
    bare = client.create_cluster(clusterName="bare")["cluster"]["clusterArn"]
    error = error_of(client.run_task, **ecs.run_task_request(cluster=bare))["Error"]
    assert (error["Code"], error["Message"]) == (INVALID, PROVIDER_NOT_ASSOCIATED)
    assert client.list_tasks(cluster=bare)["taskArns"] == []
    # The stack's cluster has both Fargate providers (the template's Cluster.CapacityProviders)
    on_demand = [{"capacityProvider": "FARGATE", "weight": 1}]
    started = client.run_task(**ecs.run_task_request(capacityProviderStrategy=on_demand))["tasks"]
    assert [t["capacityProviderName"] for t in started] == ["FARGATE"]


@pytest.mark.parametrize(
    "tags",
    [
        [{"key": f"k{i}", "value": "v"} for i in range(51)],
        [{"key": "k", "value": "a"}, {"key": "k", "value": "b"}],
        [{"key": "k" * 129, "value": "v"}],
        [{"key": "AWS:owner", "value": "v"}],
        [{"key": "k", "value": "aws:v"}],
    ],
)
def test_run_task_refuses_tags_ecs_does_not_allow(ecs: LocalEcs, tags: list[dict[str, str]]) -> None:
    # RunTaskRequest.tags: at most 50, keys 1-128 and values up to 256 characters, each key once, no
    # aws: prefix on keys or values.
    client = ecs.client("ecs")
    assert error_of(client.run_task, **ecs.run_task_request(tags=tags))["Error"]["Code"] == INVALID
    assert client.list_tasks(cluster=ecs.cluster)["taskArns"] == []


def test_run_task_refuses_a_launch_type_with_a_capacity_provider_strategy(ecs: LocalEcs) -> None:
    # RunTaskRequest.capacityProviderStrategy: "If a capacityProviderStrategy is specified, the
    # launchType parameter must be omitted." (moto's own check)
    client = ecs.client("ecs")
    error = error_of(client.run_task, **ecs.run_task_request(launchType="FARGATE"))["Error"]
    assert error["Code"] == INVALID


def test_a_client_token_lives_24_hours(ecs: LocalEcs, clock: Clock) -> None:
    client = ecs.client("ecs")
    request = ecs.run_task_request(clientToken="token-1")
    first = client.run_task(**request)["tasks"][0]["taskArn"]
    clock.skip(timedelta(hours=23, minutes=59))
    assert client.run_task(**request)["tasks"][0]["taskArn"] == first
    clock.skip(timedelta(minutes=2))
    assert client.run_task(**request)["tasks"][0]["taskArn"] != first


@pytest.mark.parametrize("token", ["a" * 65, "has space", "tab\there", "é"])
def test_run_task_refuses_a_client_token_ecs_does_not_allow(ecs: LocalEcs, token: str) -> None:
    # RunTaskRequest.clientToken: "Up to 64 characters are allowed. The valid characters are
    # characters in the range of 33-126, inclusive."
    client = ecs.client("ecs")
    assert error_of(client.run_task, **ecs.run_task_request(clientToken=token))["Error"]["Code"] == INVALID
    assert client.list_tasks(cluster=ecs.cluster)["taskArns"] == []


# -- RunTask startedBy and overrides --------------------------------------------------------------
@pytest.mark.parametrize("started_by", ["a" * 129, "durable-ecs:0123", "has space", "dot.ted", "é"])
def test_run_task_refuses_a_started_by_ecs_does_not_allow(ecs: LocalEcs, started_by: str) -> None:
    # RunTaskRequest.startedBy: "Up to 128 letters (uppercase and lowercase), numbers, hyphens (-),
    # forward slash (/), and underscores (_) are allowed."
    client = ecs.client("ecs")
    error = error_of(client.run_task, **ecs.run_task_request(startedBy=started_by))
    assert error["Error"]["Code"] == INVALID
    assert client.list_tasks(cluster=ecs.cluster)["taskArns"] == []


def test_run_task_accepts_the_longest_started_by(ecs: LocalEcs) -> None:
    client = ecs.client("ecs")
    started_by = "Az09-_/" + "x" * 121
    assert (
        client.run_task(**ecs.run_task_request(startedBy=started_by))["tasks"][0]["startedBy"] == started_by
    )


def overrides_of_size(size: int) -> dict[str, Any]:
    """Container overrides whose JSON (compact, as contract/ecs_contract/limits.py counts) is `size` chars."""
    overrides: dict[str, Any] = {
        "containerOverrides": [{"name": "worker", "environment": [{"name": "JOB", "value": ""}]}]
    }
    padding = size - len(json.dumps(overrides, separators=(",", ":")))
    overrides["containerOverrides"][0]["environment"][0]["value"] = "x" * padding
    assert len(json.dumps(overrides, separators=(",", ":"))) == size
    return overrides


def test_run_task_refuses_overrides_over_8192_characters(ecs: LocalEcs) -> None:
    # RunTaskRequest.overrides: "A total of 8192 characters are allowed for overrides. This limit
    # includes the JSON formatting characters of the override structure."
    client = ecs.client("ecs")
    assert client.run_task(**ecs.run_task_request(overrides=overrides_of_size(8192)))["tasks"]
    error = error_of(client.run_task, **ecs.run_task_request(overrides=overrides_of_size(8193)))
    assert error["Error"]["Code"] == INVALID
    assert "8192" in error["Error"]["Message"]
    assert len(client.list_tasks(cluster=ecs.cluster)["taskArns"]) == 1


def test_run_task_refuses_a_deregistered_task_definition_revision(ecs: LocalEcs) -> None:
    # DeregisterTaskDefinition (botocore ECS model): "You can't use an INACTIVE task definition to
    # run new tasks". ECS answers InvalidParameterException "TaskDefinition is inactive" (as seen in
    # DefangLabs/defang#775). The template keeps replaced revisions (UpdateReplacePolicy: Retain).
    client = ecs.client("ecs")
    revision = client.describe_task_definition(taskDefinition=ecs.run_task_request()["taskDefinition"])
    arn = revision["taskDefinition"]["taskDefinitionArn"]
    assert client.run_task(**ecs.run_task_request(taskDefinition=arn))["tasks"]
    client.deregister_task_definition(taskDefinition=arn)
    error = error_of(client.run_task, **ecs.run_task_request(taskDefinition=arn))
    assert (error["Error"]["Code"], error["Error"]["Message"]) == (INVALID, "TaskDefinition is inactive")
    assert len(client.list_tasks(cluster=ecs.cluster)["taskArns"]) == 1


# -- stopped tasks are kept for a while -----------------------------------------------------------
def test_describe_tasks_answers_missing_for_a_task_it_does_not_know(ecs: LocalEcs) -> None:
    client = ecs.client("ecs")
    known = client.run_task(**ecs.run_task_request())["tasks"][0]["taskArn"]
    unknown = known.rsplit("/", 1)[0] + "/00000000000000000000000000000000"
    answer = client.describe_tasks(cluster=ecs.cluster, tasks=[known, unknown])
    assert [t["taskArn"] for t in answer["tasks"]] == [known]
    assert answer["failures"] == [{"arn": unknown, "reason": "MISSING"}]


def test_describe_tasks_looks_only_in_the_cluster_it_is_given(ecs: LocalEcs) -> None:
    client = ecs.client("ecs")
    other = client.create_cluster(clusterName="other")["cluster"]["clusterArn"]
    arn = client.run_task(**ecs.run_task_request())["tasks"][0]["taskArn"]
    answer = client.describe_tasks(cluster=other, tasks=[arn])
    assert answer["tasks"] == [] and answer["failures"] == [{"arn": arn, "reason": "MISSING"}]


def test_a_stopped_task_is_forgotten_after_the_retention(ecs: LocalEcs, clock: Clock) -> None:
    # DescribeTasks: "Currently, stopped tasks appear in the returned results for at least one hour."
    client = ecs.client("ecs")
    arn = client.run_task(**ecs.run_task_request())["tasks"][0]["taskArn"]
    client.stop_task(cluster=ecs.cluster, task=arn, reason="test")
    clock.skip(timedelta(minutes=59))
    assert client.describe_tasks(cluster=ecs.cluster, tasks=[arn])["tasks"][0]["lastStatus"] == "STOPPED"
    assert client.list_tasks(cluster=ecs.cluster, desiredStatus="STOPPED")["taskArns"] == [arn]
    clock.skip(timedelta(minutes=2))
    answer = client.describe_tasks(cluster=ecs.cluster, tasks=[arn])
    assert answer["tasks"] == [] and answer["failures"] == [{"arn": arn, "reason": "MISSING"}]
    assert client.list_tasks(cluster=ecs.cluster, desiredStatus="STOPPED")["taskArns"] == []


def test_a_running_task_is_kept_however_long_it_runs(ecs: LocalEcs, clock: Clock) -> None:
    client = ecs.client("ecs")
    arn = client.run_task(**ecs.run_task_request())["tasks"][0]["taskArn"]
    clock.skip(timedelta(days=3))
    assert client.describe_tasks(cluster=ecs.cluster, tasks=[arn])["tasks"][0]["taskArn"] == arn
    assert client.list_tasks(cluster=ecs.cluster)["taskArns"] == [arn]


def test_stop_task_of_a_task_ecs_does_not_know_is_an_invalid_parameter(ecs: LocalEcs, clock: Clock) -> None:
    # What the relay and the reconcile step expect (aws_adapters.ecs.EcsGateway.stop).
    client = ecs.client("ecs")
    arn = client.run_task(**ecs.run_task_request())["tasks"][0]["taskArn"]
    client.stop_task(cluster=ecs.cluster, task=arn, reason="test")
    clock.skip(timedelta(hours=2))
    error = error_of(client.stop_task, cluster=ecs.cluster, task=arn, reason="again")
    assert error["Error"]["Code"] == INVALID
    assert error["Error"]["Message"] == "The referenced task was not found."


# -- RunTask overrides: Fargate's task sizes and ephemeral storage ---------------------------------
CLIENT = "ClientException"


@pytest.mark.parametrize(
    "size",
    [
        {"cpu": "256", "memory": "4096"},  # 256 CPU units go with 512, 1024 or 2048 MiB only
        {"cpu": "1024", "memory": "2560"},  # 1024: 2048..8192 in 1024 MiB steps
        {"cpu": "8192", "memory": "18432"},  # 8192: 16384..61440 in 4096 MiB steps
        {"cpu": "300", "memory": "1024"},  # not a Fargate CPU value at all
        {"memory": "4096"},  # with the task definition's 256 CPU units
    ],
)
def test_run_task_refuses_a_task_size_fargate_does_not_have(ecs: LocalEcs, size: dict[str, str]) -> None:
    # AmazonECS/latest/developerguide/task-cpu-memory-error.html: Fargate runs only the cpu/memory
    # pairs of its table; the pair a task runs with is the override's, else the task definition's.
    client = ecs.client("ecs")
    error = error_of(client.run_task, **ecs.run_task_request(overrides={"containerOverrides": [], **size}))
    assert error["Error"]["Code"] == CLIENT
    assert "No Fargate configuration exists for given values" in error["Error"]["Message"]
    assert client.list_tasks(cluster=ecs.cluster)["taskArns"] == []


@pytest.mark.parametrize(
    "size",
    [
        {"cpu": "256", "memory": "2048"},
        {"cpu": "4096", "memory": "30720"},
        {"cpu": "16384", "memory": "122880"},
        {"memory": "1024"},  # with the task definition's 256 CPU units
    ],
)
def test_run_task_accepts_a_task_size_fargate_has(ecs: LocalEcs, size: dict[str, str]) -> None:
    client = ecs.client("ecs")
    assert client.run_task(**ecs.run_task_request(overrides={"containerOverrides": [], **size}))["tasks"]


def test_run_task_refuses_a_cpu_override_that_does_not_fit_the_task_definitions_memory(ecs: LocalEcs) -> None:
    client = ecs.client("ecs")
    error = error_of(
        client.run_task, **ecs.run_task_request(overrides={"containerOverrides": [], "cpu": "512"})
    )
    assert error["Error"]["Code"] == CLIENT  # 512 CPU units need 1024..4096 MiB; the definition has 512


@pytest.mark.parametrize("gib", [0, 20, 201])
def test_run_task_refuses_ephemeral_storage_out_of_range(ecs: LocalEcs, gib: int) -> None:
    # botocore ECS model, EphemeralStorage.sizeInGiB: "The minimum supported value is 21 GiB and the
    # maximum supported value is 200 GiB."
    client = ecs.client("ecs")
    overrides = {"containerOverrides": [], "ephemeralStorage": {"sizeInGiB": gib}}
    error = error_of(client.run_task, **ecs.run_task_request(overrides=overrides))
    assert error["Error"]["Code"] == INVALID
    assert "sizeInGiB" in error["Error"]["Message"]
    assert client.list_tasks(cluster=ecs.cluster)["taskArns"] == []


@pytest.mark.parametrize("gib", [21, 200])
def test_run_task_accepts_ephemeral_storage_in_range(ecs: LocalEcs, gib: int) -> None:
    client = ecs.client("ecs")
    overrides = {"containerOverrides": [], "ephemeralStorage": {"sizeInGiB": gib}}
    assert client.run_task(**ecs.run_task_request(overrides=overrides))["tasks"]


# -- RunTask rate limit -----------------------------------------------------------------------------
# request-throttling.html (Amazon ECS API Reference): RunTask is a "Cluster resource modify action"
# (bucket 100, refill 40 a second), and Fargate "additionally throttles" it (throttling.html, Amazon
# ECS Developer Guide: "Fargate Resource rate quota for On Demand Amazon ECS tasks": bucket 100,
# refill 20 a second), per account and Region. One task per call: burst 100, 20 a second.
AWS_BURST, AWS_PER_SECOND = 100, 20


@pytest.mark.parametrize("clock", [Clock(frozen=True)])  # no refill but what the test skips
def test_run_task_beyond_aws_burst_is_throttled_until_the_bucket_refills(ecs: LocalEcs, clock: Clock) -> None:
    client = ecs.client("ecs")
    for _ in range(AWS_BURST):
        client.run_task(**ecs.run_task_request())
    error = error_of(client.run_task, **ecs.run_task_request())
    # request-throttling.html: "If you exceed an API throttling quota, you get the
    # ThrottlingException error code. [...] Rate exceeded (Service: AmazonECS; Status Code: 400;
    # Error Code: ThrottlingException [...])"
    assert (error["Error"]["Code"], error["Error"]["Message"]) == ("ThrottlingException", "Rate exceeded")
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(client.list_tasks(cluster=ecs.cluster)["taskArns"]) == AWS_BURST  # it started nothing
    clock.skip(timedelta(seconds=1 / AWS_PER_SECOND))
    client.run_task(**ecs.run_task_request())
    assert error_of(client.run_task, **ecs.run_task_request())["Error"]["Code"] == "ThrottlingException"


@pytest.mark.parametrize("clock", [Clock(frozen=True)])
@pytest.mark.parametrize(
    "ecs_config",
    [EcsRulesConfig(run_task_rate=TokenRate(20, Fraction(20)))],
    ids=["up --run-task-rate 20/20"],
)
def test_run_task_rate_is_a_parameter(ecs: LocalEcs, clock: Clock) -> None:
    client = ecs.client("ecs")
    for _ in range(20):
        client.run_task(**ecs.run_task_request())
    assert error_of(client.run_task, **ecs.run_task_request())["Error"]["Code"] == "ThrottlingException"
    clock.skip(timedelta(seconds=1 / 20))
    client.run_task(**ecs.run_task_request())
    assert error_of(client.run_task, **ecs.run_task_request())["Error"]["Code"] == "ThrottlingException"
    clock.skip(timedelta(seconds=10))  # a full bucket holds the burst, never more
    for _ in range(20):
        client.run_task(**ecs.run_task_request())
    assert error_of(client.run_task, **ecs.run_task_request())["Error"]["Code"] == "ThrottlingException"
