"""The local cloud's ECS rules as pure checks of one request (local/ecs_rules.py), at their edges."""

from __future__ import annotations

from typing import Any

import pytest
from moto.ecs.exceptions import InvalidParameterException

from ecs_contract.limits import OVERRIDES_MAX_CHARS, LimitExceeded, check_overrides
from ecs_contract.names import client_token, started_by
from local.ecs_rules import (
    OVERRIDES_MAX_CHARS as LOCAL_OVERRIDES_MAX,
)
from local.ecs_rules import (
    check_list_tasks,
    check_run_task,
    overrides_chars,
)


@pytest.mark.parametrize(
    "request_",
    [
        {"cluster": "c", "startedBy": "x"},
        {"cluster": "c", "startedBy": "x", "nextToken": "t", "maxResults": 10},  # paging is no filter
        {"cluster": "c", "family": "worker", "desiredStatus": "STOPPED", "launchType": "FARGATE"},
    ],
)
def test_list_tasks_accepts(request_: dict[str, Any]) -> None:
    check_list_tasks(request_)


@pytest.mark.parametrize(
    "other", ["containerInstance", "family", "serviceName", "desiredStatus", "launchType", "daemonName"]
)
def test_list_tasks_refuses_started_by_with(other: str) -> None:
    with pytest.raises(InvalidParameterException):
        check_list_tasks({"startedBy": "x", other: "v"})


@pytest.mark.parametrize(
    "request_",
    [
        {"startedBy": "a" * 128},
        {"startedBy": "A-z_0/9"},
        {"clientToken": "a" * 64},
        {"clientToken": chr(33) + chr(126)},
        # what the orchestrator sends
        {
            "startedBy": started_by(
                "durable-ecs", "arn:aws:lambda:us-east-1:1:function:f:1/durable-execution/n/i"
            )
        },
        {"clientToken": client_token("eyJhcm4iOiJ4In0=")},
    ],
)
def test_run_task_accepts(request_: dict[str, Any]) -> None:
    check_run_task(request_)


@pytest.mark.parametrize(
    "request_",
    [
        {"startedBy": "a" * 129},
        {"startedBy": "a:b"},
        {"startedBy": "a.b"},
        {"clientToken": "a" * 65},
        {"clientToken": ""},
        {"clientToken": "a" + chr(32)},
        {"clientToken": "a" + chr(127)},
    ],
)
def test_run_task_refuses(request_: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterException):
        check_run_task(request_)


def test_the_overrides_limit_is_counted_as_the_contract_counts_it() -> None:
    # The orchestrator refuses to send what ECS (and so the local cloud) would refuse, no sooner.
    assert LOCAL_OVERRIDES_MAX == OVERRIDES_MAX_CHARS
    for size in (OVERRIDES_MAX_CHARS, OVERRIDES_MAX_CHARS + 1):
        overrides: dict[str, Any] = {
            "containerOverrides": [{"name": "w", "environment": [{"name": "J", "value": ""}]}]
        }
        overrides["containerOverrides"][0]["environment"][0]["value"] = "x" * (
            size - overrides_chars(overrides)
        )
        assert overrides_chars(overrides) == size
        refused_locally = refused_by_contract = False
        try:
            check_run_task({"overrides": overrides})
        except InvalidParameterException:
            refused_locally = True
        try:
            check_overrides(overrides)
        except LimitExceeded:
            refused_by_contract = True
        assert refused_locally == refused_by_contract == (size > OVERRIDES_MAX_CHARS)
