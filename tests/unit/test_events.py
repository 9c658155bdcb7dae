"""Every file in events/ is checked against its model, so the samples cannot rot."""

from __future__ import annotations

import pytest

from completion_relay.relay import ENDED_STATUSES
from ecs_contract.decide import decide
from ecs_contract.demo_job import validate as demo_rules
from ecs_contract.names import EXECUTION_STATUS_CHANGE, TASK_STATE_CHANGE
from ecs_contract.outcome import ErrorType, Ignored, TaskFailed, TaskSucceeded
from ecs_contract.task import parse_task
from orchestrator.errors import InvalidInput
from orchestrator.job import OVERRIDES_KEY, TAGS_KEY, parse_job
from pipeline.handler import (
    COMBINED_MAX_CHARS,
    combined_message,
    parse_concurrency,
    parse_input,
    parse_tolerance,
)
from testkit.paths import EVENTS, load_event

# What each sample stands for. A new file in events/ must be added here.
ECS_EVENTS = {
    "ecs/stopped-success": TaskSucceeded,
    "ecs/stopped-nonzero-exit": ErrorType.WORKER_FAILED,
    "ecs/stopped-out-of-memory": ErrorType.OUT_OF_MEMORY,
    "ecs/stopped-failed-to-start": ErrorType.TASK_FAILED_TO_START,
    "ecs/stopped-spot-interruption": ErrorType.TASK_INTERRUPTED,
    "ecs/running": Ignored,
}
# Lambda's durable execution status changes: does the cancellation rule's status filter take it?
LAMBDA_EVENTS = {
    "lambda/execution-stopped": True,
    "lambda/execution-running": False,
}
INVOKE_PAYLOADS = {
    "invoke/success": True,
    "invoke/worker-failure": True,
    "invoke/invalid-input": False,
    "invoke/overrides": True,
    "invoke/invalid-overrides": False,  # a role override: refused at the door
    "invoke/tagged": True,
}
# The sample Pipeline's payloads (python -m local invoke --function Pipeline ...).
PIPELINE_PAYLOADS = {"invoke/pipeline": True}


def test_every_sample_is_classified():
    on_disk = {str(p.relative_to(EVENTS).with_suffix("")) for p in EVENTS.rglob("*.json")}
    assert on_disk == set(ECS_EVENTS) | set(INVOKE_PAYLOADS) | set(LAMBDA_EVENTS) | set(PIPELINE_PAYLOADS)


@pytest.mark.parametrize("name", PIPELINE_PAYLOADS)
def test_pipeline_sample_is_a_pipeline_input_of_demo_jobs(name):
    message, parts, seconds = parse_input(load_event(name))
    assert parts and all(isinstance(p, str) for p in parts)
    assert 0 <= parse_tolerance(load_event(name)) < len(parts)
    assert parse_concurrency(load_event(name)) >= 1
    demo_rules({"message": message, "processingTime": seconds}, 60)


@pytest.mark.parametrize(("name", "ended"), LAMBDA_EVENTS.items())
def test_lambda_sample_is_an_execution_status_change(name, ended):
    event = load_event(name)
    assert EXECUTION_STATUS_CHANGE.of(event)
    assert (event["detail"]["status"] in ENDED_STATUSES) is ended
    assert event["detail"]["durableExecutionArn"].startswith(event["detail"]["functionArn"] + "/")


@pytest.mark.parametrize(("name", "expected"), ECS_EVENTS.items())
def test_ecs_sample_parses_and_decides_as_named(name, expected):
    event = load_event(name)
    assert TASK_STATE_CHANGE.of(event)
    outcome = decide(parse_task(event["detail"]))
    if isinstance(expected, ErrorType):
        assert isinstance(outcome, TaskFailed)
        assert outcome.error_type is expected
    else:
        assert isinstance(outcome, expected)


@pytest.mark.parametrize(("name", "valid"), INVOKE_PAYLOADS.items())
def test_invoke_payload_validates_as_named(name, valid):
    payload = load_event(name)
    if valid:
        # The worker's job is the payload without its overrides and tags (the orchestrator's, for ECS).
        job = parse_job(payload, task_timeout_seconds=3600, rules=demo_rules)
        assert job.payload == {k: v for k, v in payload.items() if k not in (OVERRIDES_KEY, TAGS_KEY)}
        assert job.tags == payload.get(TAGS_KEY)
    else:
        with pytest.raises(InvalidInput):
            parse_job(payload, task_timeout_seconds=3600, rules=demo_rules)


def test_combine_s_message_joins_the_parts_and_past_its_limit_counts_the_rest():
    assert combined_message(["A", "B"]) == "A + B"
    many = [f"PART {i}" for i in range(1000)]
    joined = combined_message(many)
    assert len(joined) <= COMBINED_MAX_CHARS
    assert joined.startswith("PART 0 + PART 1 + ") and joined.endswith(" more)")
    shown = joined.rsplit(" (+", 1)[0].split(" + ")
    assert joined.endswith(f"(+{1000 - len(shown)} more)") and shown == many[: len(shown)]
