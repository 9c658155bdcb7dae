"""The local cloud's ECS rules as pure checks of one request (local/ecs_rules.py), at their edges."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from moto.ecs.exceptions import InvalidParameterException

from ecs_contract.limits import OVERRIDES_MAX_CHARS, LimitExceeded, check_overrides
from ecs_contract.names import client_token, started_by
from local import cli
from local.ecs_rules import (
    OVERRIDES_MAX_CHARS as LOCAL_OVERRIDES_MAX,
)
from local.ecs_rules import (
    EcsRulesConfig,
    check_list_tasks,
    check_run_task,
    overrides_chars,
)
from local.rates import TokenRate


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


# -- RunTask rate limit: its shape, and how `up --run-task-rate` reaches the rules -------------------
@pytest.mark.parametrize(
    ("text", "burst", "per_second"), [("100/20", 100, Fraction(20)), ("1/0.5", 1, Fraction(1, 2))]
)
def test_a_rate_is_burst_slash_per_second(text: str, burst: int, per_second: Fraction) -> None:
    rate = TokenRate.parse(text)
    assert (rate.burst, rate.per_second) == (burst, per_second)
    assert TokenRate.parse(str(rate)) == rate  # what `up` hands `serve`


@pytest.mark.parametrize("text", ["20", "0/20", "20/0", "x/1", "1/-1"])
def test_a_rate_that_cannot_hold_a_call_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        TokenRate.parse(text)


def test_the_default_run_task_rate_is_fargates() -> None:
    # throttling.html (Amazon ECS Developer Guide): Fargate On Demand tasks, bucket 100, refill 20/s.
    assert EcsRulesConfig().run_task_rate == TokenRate(100, Fraction(20))


def test_up_passes_its_run_task_rate_to_the_cloud_it_starts(tmp_path: Path) -> None:
    args = cli.parser().parse_args(["--state-dir", str(tmp_path), "up", "--run-task-rate", "20/20"])
    assert args.run_task_rate == TokenRate(20, Fraction(20))
    served = cli.parser().parse_args(cli._serve_command(args)[3:])
    assert served.run_task_rate == TokenRate(20, Fraction(20))
    assert cli.parser().parse_args(["up"]).run_task_rate is None  # AWS's, as EcsRulesConfig has it
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["up", "--run-task-rate", "0/20"])
