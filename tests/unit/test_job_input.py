"""Job input validation at the door of the orchestrator, with the demo job's rules as its hook."""

from __future__ import annotations

import pytest

from ecs_contract.demo_job import validate as demo_rules
from orchestrator.errors import InvalidInput
from orchestrator.job import MAX_JOB_INPUT_CHARS, parse_job


def test_seed_payload_is_accepted_as_is():
    assert parse_job({"message": "hi", "processingTime": 5}, 60, demo_rules).payload == {
        "message": "hi",
        "processingTime": 5,
    }


def test_any_json_object_is_a_job():
    assert parse_job({"rows": [1, 2, 3], "nested": {"a": None}}, 60, demo_rules).to_json() == (
        '{"nested":{"a":null},"rows":[1,2,3]}'
    )


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([1, 2], "must be a JSON object, got list"),
        ("text", "must be a JSON object, got str"),
        (None, "must be a JSON object, got NoneType"),
        ({"message": 42}, "'message' must be a string"),
        ({"processingTime": "5"}, "'processingTime' must be a whole number"),
        ({"processingTime": -1}, "'processingTime' must be a whole number"),
        ({"processingTime": 1.5}, "'processingTime' must be a whole number"),
        ({"processingTime": True}, "'processingTime' must be a whole number"),
        ({"processingTime": 60}, "shorter than the task timeout"),
        ({"blob": "x" * MAX_JOB_INPUT_CHARS}, "fit in the ECS container overrides"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(event, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        parse_job(event, task_timeout_seconds=60, rules=demo_rules)
