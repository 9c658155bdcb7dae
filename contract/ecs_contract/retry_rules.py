"""Retry rules the user sets: which failed tasks to try again (RETRY) and which to give up on (EXIT).

Modelled on AWS Batch's RetryStrategy.evaluateOnExit (botocore's batch model, shapes EvaluateOnExit
and RetryAction), so a rule reads the same to anyone who wrote one for Batch:

- up to 5 rules ("Array of up to 5 objects"), each with an ``action``, RETRY or EXIT ("The values
  aren't case sensitive"), and conditions that must all hold;
- ``onExitCode`` is a glob on the decimal exit code ("can contain only numbers, and can end with an
  asterisk (*) so that only the start of the string needs to be an exact match");
- ``onStatusReason`` (the task's stoppedReason, Batch's StatusReason) and ``onReason`` (the
  container's reason, Batch's Reason) are globs of up to 512 characters that "can contain letters,
  numbers, periods (.), colons (:), and white space (including spaces and tabs)" and may end with
  one '*'. A pattern Batch would refuse is refused here too: a rule copied from a Batch job
  definition means the same, and no rule works here that Batch would not take;
- ours alone: ``onErrorType``, one of our outcomes (``ErrorType``: "WorkerFailed", "OutOfMemory",
  "TaskInterrupted", ...), matched exactly.

The first rule that matches decides (Batch: "the first match wins"); a condition on something the
failure does not have (no exit code: the task never ran) does not match. Where Batch retries a job
no rule matched, we keep the built-in classification (the outcome table): with no rules (the
default), nothing changes. A rule only chooses whether another attempt starts; how it runs (on
on-demand after Spot failed, with more memory after an OutOfMemory) and the MaxAttempts budget stay
the library's (durable_ecs.attempts).

The configuration is one JSON array (template parameter RetryRules, variable RETRY_RULES), e.g.
``[{"onExitCode": "75", "action": "RETRY"}, {"onErrorType": "TaskInterrupted", "action": "EXIT"}]``.
Stdlib only: the orchestrator, the pipeline and the local cloud's ``up`` read it alike.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from ecs_contract.outcome import ErrorType, TaskFailed

RETRY_RULES_ENV = "RETRY_RULES"
MAX_RULES = 5  # RetryStrategy.evaluateOnExit: "Array of up to 5 objects"
MAX_PATTERN_CHARS = 512  # EvaluateOnExit.onStatusReason/onReason/onExitCode: "up to 512 characters"

ON_EXIT_CODE, ON_STATUS_REASON, ON_REASON, ON_ERROR_TYPE, ACTION = (
    "onExitCode",
    "onStatusReason",
    "onReason",
    "onErrorType",
    "action",
)
KEYS = (ON_EXIT_CODE, ON_STATUS_REASON, ON_REASON, ON_ERROR_TYPE, ACTION)

# Batch's character sets, before the optional trailing '*'.
_EXIT_CODE_CHAR = re.compile(r"[0-9]")
_REASON_CHAR = re.compile(r"[A-Za-z0-9.: \t]")


class InvalidRetryRules(ValueError):
    """RETRY_RULES cannot be read; the message says which rule and what to change."""


class RuleAction(StrEnum):
    RETRY = "RETRY"  # start another attempt (within MaxAttempts)
    EXIT = "EXIT"  # the failure is final


@dataclass(frozen=True)
class Glob:
    """A Batch pattern: the text exactly, or its start when it ends with '*'."""

    pattern: str

    def matches(self, value: str | None) -> bool:
        if value is None:
            return False
        if self.pattern.endswith("*"):
            return value.startswith(self.pattern[:-1])
        return value == self.pattern


@dataclass(frozen=True)
class RetryRule:
    action: RuleAction
    on_exit_code: Glob | None = None
    on_status_reason: Glob | None = None  # the task's stoppedReason
    on_reason: Glob | None = None  # the worker container's reason
    on_error_type: ErrorType | None = None

    def matches(self, failure: TaskFailed) -> bool:
        exit_code = None if failure.exit_code is None else str(failure.exit_code)
        conditions = (
            (self.on_exit_code, exit_code),
            (self.on_status_reason, failure.stopped_reason),
            (self.on_reason, failure.container_reason),
        )
        if not all(glob.matches(value) for glob, value in conditions if glob is not None):
            return False
        return self.on_error_type is None or self.on_error_type is failure.error_type


@dataclass(frozen=True)
class RetryRules:
    rules: tuple[RetryRule, ...] = ()

    def action_for(self, failure: TaskFailed) -> tuple[int, RuleAction] | None:
        """The first matching rule's number (from 1) and action; None when no rule matches."""
        for number, rule in enumerate(self.rules, start=1):
            if rule.matches(failure):
                return number, rule.action
        return None

    @classmethod
    def parse(cls, text: str) -> RetryRules:
        """The rules of RETRY_RULES' JSON, or InvalidRetryRules saying what to change."""
        try:
            data = json.loads(text)
        except ValueError as e:
            raise InvalidRetryRules(
                f"{RETRY_RULES_ENV} is not JSON ({e}): write a JSON array of rules, e.g. "
                '[{"onExitCode": "75", "action": "RETRY"}], or [] for none'
            ) from None
        if not isinstance(data, list):
            raise InvalidRetryRules(
                f"{RETRY_RULES_ENV} must be a JSON array of rules (objects), got {type(data).__name__}; "
                "[] for none"
            )
        if len(data) > MAX_RULES:
            raise InvalidRetryRules(
                f"{RETRY_RULES_ENV} has {len(data)} rules; at most {MAX_RULES} (as AWS Batch's "
                "evaluateOnExit): merge rules with a trailing '*', or leave the rarest to the built-in "
                "outcomes"
            )
        return cls(tuple(_rule(number, item) for number, item in enumerate(data, start=1)))


def _rule(number: int, item: object) -> RetryRule:
    where = f"{RETRY_RULES_ENV} rule {number}"
    if not isinstance(item, dict):
        raise InvalidRetryRules(f'{where} must be an object, e.g. {{"onExitCode": "75", "action": "RETRY"}}')
    unknown = sorted(str(k) for k in item if k not in KEYS)
    if unknown:
        raise InvalidRetryRules(f"{where} has unknown keys {', '.join(unknown)}: use only {', '.join(KEYS)}")
    action = item.get(ACTION)
    if not isinstance(action, str) or action.upper() not in RuleAction.__members__:
        raise InvalidRetryRules(f'{where} needs "{ACTION}": "RETRY" or "EXIT", got {action!r}')
    error_type = item.get(ON_ERROR_TYPE)
    if error_type is not None and error_type not in set(ErrorType):
        known = ", ".join(e.value for e in ErrorType)
        raise InvalidRetryRules(f'{where}: "{ON_ERROR_TYPE}" {error_type!r} is not one of {known}')
    return RetryRule(
        action=RuleAction(action.upper()),
        on_exit_code=_glob(where, item, ON_EXIT_CODE, exit_code=True),
        on_status_reason=_glob(where, item, ON_STATUS_REASON),
        on_reason=_glob(where, item, ON_REASON),
        on_error_type=ErrorType(error_type) if error_type is not None else None,
    )


def _glob(where: str, item: dict[str, object], key: str, exit_code: bool = False) -> Glob | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidRetryRules(
            f'{where}: "{key}" must be a non-empty string pattern; leave it out to match anything'
        )
    if len(value) > MAX_PATTERN_CHARS:
        raise InvalidRetryRules(f'{where}: "{key}" is {len(value)} characters; at most {MAX_PATTERN_CHARS}')
    body = value.removesuffix("*")
    allowed = _EXIT_CODE_CHAR if exit_code else _REASON_CHAR
    bad = next((c for c in body if not allowed.fullmatch(c)), None)
    if bad is None:
        return Glob(value)
    refused = f'{where}: "{key}" {value!r} is not a pattern AWS Batch accepts'
    if bad == "*":
        raise InvalidRetryRules(f"{refused}: '*' may only end the pattern (it matches the rest)")
    if exit_code:
        raise InvalidRetryRules(f"{refused}: an exit code pattern holds only digits, then one '*' (e.g. 13*)")
    raise InvalidRetryRules(
        f"{refused}: {bad!r} is not one of letters, digits, '.', ':', spaces and tabs; to match a "
        f"reason that holds it, end the pattern with '*' before it"
    )
