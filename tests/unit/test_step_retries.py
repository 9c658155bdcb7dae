"""The step retry strategy (durable_ecs.task.AWS_STEP_CONFIG), run as the SDK runs it: on each
failed attempt, with the attempts made so far. Throttling is asked again for as long as it lasts;
another transient error 4 times in all; anything else never."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aws_adapters.errors import AwsThrottled, AwsUnavailable, apart_when_throttled
from durable_ecs.task import AWS_STEP_CONFIG, RECONCILE_STEP_CONFIG, START_STEP_CONFIG

# Lambda API, DurableConfig.ExecutionTimeout: "Maximum value of 31622400" (366 days).
LONGEST_EXECUTION = timedelta(days=366)
THROTTLED = AwsThrottled("RunTask", "ThrottlingException (HTTP 400): Rate exceeded")
UNAVAILABLE = AwsUnavailable("RunTask", "ServerException (HTTP 500): internal")


def strategy():
    assert AWS_STEP_CONFIG.retry_strategy is not None
    return AWS_STEP_CONFIG.retry_strategy


def test_every_aws_step_retries_the_same_way():
    assert START_STEP_CONFIG.retry_strategy is AWS_STEP_CONFIG.retry_strategy
    assert RECONCILE_STEP_CONFIG.retry_strategy is AWS_STEP_CONFIG.retry_strategy


@pytest.mark.parametrize("attempts_made", [1, 2, 4, 5, 12, 100, 1_025, 10_000, 1_000_000, 31_622_400])
def test_throttling_is_asked_again_with_a_jittered_delay_of_1_to_20_seconds(attempts_made):
    delays = set()
    for _ in range(200):
        decision = strategy()(THROTTLED, attempts_made)
        assert decision.should_retry
        delays.add(decision.delay_seconds)
    assert min(delays) >= 1 and max(delays) <= min(20, attempts_made)
    if attempts_made >= 2:
        assert len(delays) > 1  # jittered: full jitter spreads the retries of many starts


def test_throttling_retries_outlast_the_longest_execution_timeout():
    # The SDK waits at least 1 s between two attempts (step.py, retry_handler): a strategy that gives
    # up at attempt N has waited N - 1 times, at least N - 1 seconds: 366 days at least here, so the
    # execution's own timeout always comes first.
    waits = LONGEST_EXECUTION // timedelta(seconds=1)
    assert strategy()(THROTTLED, waits).should_retry  # the last wait
    assert not strategy()(THROTTLED, waits + 1).should_retry  # a bound, not a loop without end


@pytest.mark.parametrize(("attempts_made", "retried"), [(1, True), (2, True), (3, True), (4, False)])
def test_other_transient_errors_are_asked_4_times_in_all_as_before(attempts_made, retried):
    decision = strategy()(UNAVAILABLE, attempts_made)
    assert decision.should_retry is retried
    if retried:
        assert 1 <= decision.delay_seconds <= 30


@pytest.mark.parametrize("error", [ValueError("a bug"), KeyError("x"), RuntimeError("refused")])
def test_anything_else_is_never_retried(error):
    assert not strategy()(error, 1).should_retry


def test_apart_when_throttled_asks_each_strategy_about_its_own_errors():
    asked: list[tuple[str, int]] = []

    def throttled(error: Exception, attempts_made: int) -> str:
        asked.append(("throttled", attempts_made))
        return "t"

    def other(error: Exception, attempts_made: int) -> str:
        asked.append(("other", attempts_made))
        return "o"

    chosen = apart_when_throttled(throttled, other)
    assert [chosen(THROTTLED, 7), chosen(UNAVAILABLE, 8), chosen(ValueError(), 9)] == ["t", "o", "o"]
    assert asked == [("throttled", 7), ("other", 8), ("other", 9)]
