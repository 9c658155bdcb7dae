"""Retry rules the user sets (ecs_contract.retry_rules), the size after an OutOfMemory
(ecs_contract.task_size), and how next_attempt puts them before the built-in classification."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from decimal import Decimal

import pytest

from durable_ecs.attempts import AttemptPlan, RetryCause, TaskSize, exit_rule, next_attempt
from durable_ecs.errors import InvalidInput
from durable_ecs.settings import ConfigError
from durable_ecs.task import TaskRequest, _check_overrides
from ecs_contract.decide import decide
from ecs_contract.limits import OVERRIDES_MAX_CHARS
from ecs_contract.outcome import ErrorType, TaskFailed
from ecs_contract.overrides import FARGATE_TASK_SIZES, TaskOverrides, check_task_size
from ecs_contract.retry_rules import (
    MAX_PATTERN_CHARS,
    Glob,
    InvalidRetryRules,
    RetryRule,
    RetryRules,
    RuleAction,
)
from ecs_contract.task import parse_task
from ecs_contract.task_size import MemoryRetry
from ecs_contract.usage import CapacityProvider, TaskUsage
from orchestrator.config import OrchestratorConfig
from testkit.template import parameter_default, template_environment

OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
ON_DEMAND = AttemptPlan(CapacityProvider.FARGATE)
SPOT = AttemptPlan(CapacityProvider.FARGATE_SPOT)


def settings(rules: object = (), factor: str = "2", max_mib: int = 16384) -> OrchestratorConfig:
    env = template_environment(
        "Orchestrator",
        RETRY_RULES=json.dumps(list(rules)),  # type: ignore[call-overload]
        MEMORY_RETRY_FACTOR=factor,
        MEMORY_RETRY_MAX_MIB=str(max_mib),
    )
    return OrchestratorConfig.from_env(env)


def stopped(
    exit_code: int | None, stop_code: str, stopped_reason: str, reason: str | None = None
) -> TaskFailed:
    """The failure decide() gives for a task that stopped so (as the relay sends it)."""
    container = {"name": "worker", "lastStatus": "STOPPED"}
    if exit_code is not None:
        container["exitCode"] = exit_code  # type: ignore[assignment]
    if reason:
        container["reason"] = reason
    task = {
        "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/w/t1",
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/w",
        "lastStatus": "STOPPED",
        "stopCode": stop_code,
        "stoppedReason": stopped_reason,
        "cpu": "256",
        "memory": "512",
        "containers": [container],
    }
    failure = decide(parse_task(task))
    assert isinstance(failure, TaskFailed)
    error = failure.callback_error()  # across the callback and back, as run_task reads it
    return TaskFailed.from_callback_error(error["ErrorMessage"], error["ErrorData"])


WORKER_75 = stopped(75, "EssentialContainerExited", "Essential container in task exited")
INTERRUPTED = stopped(143, "SpotInterruption", "Your Spot Task was interrupted.")
OOM = stopped(137, "EssentialContainerExited", "Essential container in task exited", OOM_REASON)


# -- parsing: each refusal says what to change ---------------------------------------------------


def test_the_template_s_defaults_are_no_rules_and_twice_the_memory_up_to_16_gib():
    config = OrchestratorConfig.from_env(template_environment("Orchestrator"))
    assert parameter_default("RetryRules") == "[]" and config.retry_rules == RetryRules()
    assert config.memory_retry == MemoryRetry(Decimal(2), 16384)


def test_a_rule_reads_as_batch_s_evaluate_on_exit_with_the_action_in_any_case():
    rules = RetryRules.parse(
        json.dumps(
            [
                {"onExitCode": "13*", "onReason": "Out*", "action": "retry"},
                {
                    "onStatusReason": "Essential container in task exited",
                    "onErrorType": "WorkerFailed",
                    "action": "Exit",
                },
                {"action": "EXIT"},
            ]
        )
    )
    assert rules.rules == (
        RetryRule(RuleAction.RETRY, on_exit_code=Glob("13*"), on_reason=Glob("Out*")),
        RetryRule(
            RuleAction.EXIT,
            on_status_reason=Glob("Essential container in task exited"),
            on_error_type=ErrorType.WORKER_FAILED,
        ),
        RetryRule(RuleAction.EXIT),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[{", "RETRY_RULES is not JSON"),
        ('{"action": "RETRY"}', "must be a JSON array of rules (objects), got dict; [] for none"),
        (json.dumps([{"action": "EXIT"}] * 6), "has 6 rules; at most 5"),
        ('["RETRY"]', "rule 1 must be an object"),
        (
            '[{"action": "EXIT"}, {"onExitcode": "1", "action": "EXIT"}]',
            "rule 2 has unknown keys onExitcode: use only",
        ),
        ('[{"onExitCode": "1"}]', 'rule 1 needs "action": "RETRY" or "EXIT", got None'),
        ('[{"action": "RETRY_LATER"}]', "got 'RETRY_LATER'"),
        ('[{"onErrorType": "OOM", "action": "EXIT"}]', "'OOM' is not one of WorkerFailed, OutOfMemory"),
        ('[{"onExitCode": 137, "action": "EXIT"}]', '"onExitCode" must be a non-empty string pattern'),
        ('[{"onReason": "", "action": "EXIT"}]', "leave it out to match anything"),
        (json.dumps([{"onReason": "x" * 513, "action": "EXIT"}]), "is 513 characters; at most 512"),
        ('[{"onExitCode": "1*3", "action": "EXIT"}]', "'*' may only end the pattern"),
        ('[{"onExitCode": "-1", "action": "EXIT"}]', "an exit code pattern holds only digits, then one '*'"),
        (
            '[{"onStatusReason": "CannotPullContainerError: pull (x)", "action": "EXIT"}]',
            "'(' is not one of letters, digits, '.', ':', spaces and tabs; to match a reason that holds "
            "it, end the pattern with '*' before it",
        ),
    ],
)
def test_a_bad_rule_is_refused_with_what_to_change(text, message):
    with pytest.raises(InvalidRetryRules) as raised:
        RetryRules.parse(text)
    assert message in str(raised.value)


def test_a_bad_rule_fails_the_function_at_the_door_naming_the_variable():
    with pytest.raises(ConfigError, match="RETRY_RULES rule 1 must be an object"):
        settings(["RETRY"])


def test_a_pattern_of_512_characters_is_taken():
    assert RetryRules.parse(json.dumps([{"onReason": "x" * MAX_PATTERN_CHARS, "action": "EXIT"}])).rules


@pytest.mark.parametrize(
    ("factor", "max_mib", "message"),
    [
        ("0.5", 16384, "MEMORY_RETRY_FACTOR must be a number from 1 (an OutOfMemory is final) to 8"),
        ("twice", 16384, "got 'twice'"),
        ("NaN", 16384, "MEMORY_RETRY_FACTOR must be a number"),
        ("9", 16384, "to 8"),
        ("2", 256, "MEMORY_RETRY_MAX_MIB must be at least 512"),
        ("2", 200000, "MEMORY_RETRY_MAX_MIB must be at most 122880"),
    ],
)
def test_a_bad_memory_retry_setting_fails_at_the_door(factor, max_mib, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        settings(factor=factor, max_mib=max_mib)


# -- matching ------------------------------------------------------------------------------------


def test_the_failure_carries_the_stopped_reason_and_the_container_reason_apart():
    assert (OOM.stopped_reason, OOM.container_reason, OOM.reason) == (
        "Essential container in task exited",
        OOM_REASON,
        OOM_REASON,
    )
    assert (INTERRUPTED.stopped_reason, INTERRUPTED.container_reason) == (
        "Your Spot Task was interrupted.",
        None,
    )


@pytest.mark.parametrize(
    ("rule", "failure", "matched"),
    [
        ({"onExitCode": "75"}, WORKER_75, True),
        ({"onExitCode": "7"}, WORKER_75, False),  # exact without '*'
        ({"onExitCode": "7*"}, WORKER_75, True),
        ({"onExitCode": "*"}, WORKER_75, True),
        ({"onStatusReason": "Your Spot Task*"}, INTERRUPTED, True),
        ({"onStatusReason": "your spot task*"}, INTERRUPTED, False),  # case counts
        ({"onReason": "OutOfMemoryError:*"}, OOM, True),
        ({"onReason": "*"}, INTERRUPTED, False),  # the container gave no reason: nothing to match
        ({"onErrorType": "OutOfMemory"}, OOM, True),
        ({"onErrorType": "OutOfMemory", "onExitCode": "1"}, OOM, False),  # every condition must hold
        ({}, INTERRUPTED, True),  # no condition: every failure
    ],
)
def test_a_rule_matches_when_every_condition_it_has_holds(rule, failure, matched):
    rules = RetryRules.parse(json.dumps([{**rule, "action": "EXIT"}]))
    assert rules.action_for(failure) == ((1, RuleAction.EXIT) if matched else None)


def test_a_condition_on_an_exit_code_does_not_match_a_task_that_never_ran():
    never_ran = stopped(None, "TaskFailedToStart", "CannotPullContainerError: not found")
    assert RetryRules.parse('[{"onExitCode": "*", "action": "RETRY"}]').action_for(never_ran) is None


def test_the_first_matching_rule_wins():
    rules = RetryRules.parse(
        '[{"onExitCode": "1", "action": "EXIT"}, {"onExitCode": "7*", "action": "RETRY"}, {"action": "EXIT"}]'
    )
    assert rules.action_for(WORKER_75) == (2, RuleAction.RETRY)


# -- next_attempt: rules first, then the built-in classification ---------------------------------


def test_without_rules_today_s_behaviour_stays():
    config = settings()
    assert next_attempt(WORKER_75, ON_DEMAND, config) is None
    retry = next_attempt(INTERRUPTED, ON_DEMAND, config)
    assert retry is not None and (retry.cause, retry.backoff) == (RetryCause.RETRYABLE, True)


def test_an_exit_rule_ends_a_retryable_outcome_even_on_spot():
    config = settings(
        [{"onExitCode": "1", "action": "RETRY"}, {"onErrorType": "TaskInterrupted", "action": "EXIT"}]
    )
    assert next_attempt(INTERRUPTED, SPOT, config) is None
    assert exit_rule(INTERRUPTED, config) == 2  # named in the error's message
    assert exit_rule(WORKER_75, config) is None  # final by the table, not by a rule


def test_a_retry_rule_retries_a_worker_s_exit_code_after_the_backoff():
    config = settings([{"onExitCode": "75", "action": "RETRY"}])
    retry = next_attempt(WORKER_75, ON_DEMAND, config)
    assert retry is not None and (retry.plan, retry.backoff, retry.cause) == (
        ON_DEMAND,
        True,
        RetryCause.RETRY_RULE,
    )
    assert next_attempt(replace(WORKER_75, exit_code=76), ON_DEMAND, config) is None  # only 75


def test_a_retry_rule_on_spot_still_moves_the_task_to_on_demand():
    config = settings([{"onErrorType": "TaskInterrupted", "action": "RETRY"}])
    retry = next_attempt(INTERRUPTED, SPOT, config)
    assert retry is not None and retry.plan.capacity is CapacityProvider.FARGATE


def test_no_rule_retries_a_task_that_may_still_run():
    """ECS kept failing after the timeout: the task may run on, and a second would run beside it."""
    config = settings([{"action": "RETRY"}])
    may_run = TaskFailed(ErrorType.ECS_UNAVAILABLE, "then AWS kept failing", task_arn="arn:t1")
    assert next_attempt(may_run, ON_DEMAND, config) is None
    never_started = TaskFailed(ErrorType.ECS_UNAVAILABLE, "RunTask kept failing", retryable=True)
    assert next_attempt(never_started, ON_DEMAND, config) is not None


def test_an_out_of_memory_retries_at_once_with_twice_the_memory_of_the_task_that_ran():
    retry = next_attempt(OOM, ON_DEMAND, settings())
    assert retry is not None
    assert (retry.plan.size, retry.backoff, retry.cause) == (
        TaskSize(256, 1024),
        False,
        RetryCause.MORE_MEMORY,
    )


def test_an_out_of_memory_without_a_reported_size_grows_the_planned_one():
    unsized = replace(OOM, usage=TaskUsage(capacity_provider="FARGATE"))
    retry = next_attempt(unsized, AttemptPlan(CapacityProvider.FARGATE, TaskSize(1024, 8192)), settings())
    assert retry is not None and retry.plan.size == TaskSize(2048, 16384)
    assert next_attempt(unsized, ON_DEMAND, settings()) is None  # no size known: final, as before


def test_an_out_of_memory_at_the_ceiling_or_with_the_factor_1_is_final_unless_a_rule_retries_it():
    at_ceiling = replace(OOM, usage=TaskUsage(2048, 16384))
    assert next_attempt(at_ceiling, ON_DEMAND, settings()) is None
    assert next_attempt(OOM, ON_DEMAND, settings(factor="1")) is None
    retry = next_attempt(at_ceiling, ON_DEMAND, settings([{"onErrorType": "OutOfMemory", "action": "RETRY"}]))
    assert retry is not None and retry.plan.size is None and retry.cause is RetryCause.RETRY_RULE
    assert (
        next_attempt(OOM, ON_DEMAND, settings([{"onReason": "OutOfMemoryError*", "action": "EXIT"}])) is None
    )


# -- the size ladder, against Fargate's table ----------------------------------------------------


@pytest.mark.parametrize(
    ("current", "factor", "max_mib", "expected"),
    [
        ((256, 512), "2", 16384, (256, 1024)),
        ((256, 1024), "2", 16384, (256, 2048)),
        ((256, 2048), "2", 16384, (512, 4096)),  # 256 CPU stops at 2 GB: CPU grows as the memory needs
        ((512, 1024), "1.5", 16384, (512, 2048)),  # 1536 is no Fargate size: the next one up
        ((1024, 8192), "2", 16384, (2048, 16384)),
        ((1024, 8192), "2", 12288, (2048, 12288)),  # the factor passes the ceiling: the most below it
        ((2048, 16384), "2", 122880, (8192, 32768)),  # 32 GB: past 4 vCPU's 30 GB, so 8 vCPU
        ((4096, 30720), "2", 122880, (8192, 61440)),
        ((8192, 61440), "2", 122880, (16384, 122880)),
        ((4096, 8192), "1.01", 16384, (4096, 9216)),
        ((16384, 122880), "2", 122880, None),  # Fargate's largest
        ((2048, 16384), "2", 16384, None),  # at the ceiling
        ((256, 512), "1", 16384, None),  # off
    ],
)
def test_the_next_size_is_the_smallest_fargate_pair_with_enough_memory(current, factor, max_mib, expected):
    size = MemoryRetry(Decimal(factor), max_mib).next_size(TaskSize(*current))
    assert size == (TaskSize(*expected) if expected else None)
    if size is not None:
        check_task_size(size.cpu, size.memory)  # a pair Fargate runs


@pytest.mark.parametrize("factor", ["1.1", "1.5", "2", "3", "8"])
@pytest.mark.parametrize("max_mib", [2048, 16384, 30720, 122880])
def test_every_step_of_every_ladder_is_a_fargate_pair_within_the_ceiling_and_keeps_its_cpu_when_it_can(
    factor, max_mib
):
    retry = MemoryRetry(Decimal(factor), max_mib)
    for cpu, sizes in FARGATE_TASK_SIZES.items():
        for memory in sizes:
            size = retry.next_size(TaskSize(cpu, memory))
            if size is None:
                continue
            assert size.memory in FARGATE_TASK_SIZES[size.cpu]
            assert memory < size.memory <= max_mib and size.cpu >= cpu
            if size.cpu > cpu:  # raised only because this CPU has no size with that memory
                assert size.memory > max(FARGATE_TASK_SIZES[cpu])


def test_the_door_checks_the_longest_size_a_retry_can_ask_for():
    assert MemoryRetry(Decimal(2), 122880).largest_size() == TaskSize(16384, 122880)
    assert MemoryRetry(Decimal(2), 16384).largest_size() == TaskSize(2048, 16384)


def test_the_door_refuses_overrides_that_would_fit_only_without_the_size_a_retry_adds():
    """A later attempt's size overrides count against RunTask's 8,192 chars too: checked at the door."""
    no_growth, growth = settings(factor="1"), settings()

    def refused(config: OrchestratorConfig, chars: int) -> bool:
        request = TaskRequest({"job": 1}, TaskOverrides(environment=(("BIG", "x" * chars),)))
        try:
            _check_overrides(request, config, None)
        except InvalidInput:
            return True
        return False

    low, high = 0, OVERRIDES_MAX_CHARS  # the longest value that fits without a size: low
    while low + 1 < high:
        middle = (low + high) // 2
        low, high = (low, middle) if refused(no_growth, middle) else (middle, high)
    assert not refused(no_growth, low) and refused(no_growth, low + 1)
    assert refused(growth, low)  # the retry's size would not fit: refused before any task starts
    assert not refused(growth, low - len(',"cpu":"2048","memory":"16384","memory":16384'))
    assert not refused(replace(growth, max_attempts=1), low)  # no retry, no size added
