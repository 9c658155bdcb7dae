"""The contract module: names, the task model, limits and the callback wire format."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from ecs_contract.limits import (
    CALLBACK_ERROR_MAX_BYTES,
    ERROR_MESSAGE_MAX_CHARS,
    FAILURE_MAX_BYTES,
    LOG_LINE_MAX_CHARS,
    LOG_TAIL_MAX_BYTES,
    MESSAGE_TAIL_LINE_CHARS,
    MESSAGE_TAIL_LINES,
    OVERRIDES_MAX_CHARS,
    REASON_MAX_CHARS,
    LimitExceeded,
    check_overrides,
    fit_tail,
)
from ecs_contract.logs import LogLocation
from ecs_contract.names import (
    client_token,
    has_marker,
    is_callback_id,
    redact,
    started_by,
    validate_marker,
)
from ecs_contract.outcome import ErrorType, TaskFailed
from ecs_contract.task import MalformedTask, parse_task
from testkit.paths import ROOT, load_event

CALLBACK_ID = "Ab3dEfGh1jKlMnOpQrStUvWxYz0123456789+/ExampleOpaqueCallbackId=="


def test_started_by_fits_ecs_rules_and_is_stable_per_execution():
    value = started_by("durable-ecs", "arn:aws:lambda:us-east-1:1:function:f:live/durable-execution/x/y")
    assert value.startswith("durable-ecs/")
    assert len(value) <= 128
    assert value == started_by(
        "durable-ecs", "arn:aws:lambda:us-east-1:1:function:f:live/durable-execution/x/y"
    )
    assert value != started_by(
        "durable-ecs", "arn:aws:lambda:us-east-1:1:function:f:live/durable-execution/x/z"
    )


FUNCTION = "arn:aws:lambda:us-west-2:111122223333:function:durable-ecs-Orchestrator"
EXECUTION = "durable-execution/order-123/9f7d84c9-ea3d-3ffc-b3e5-5ec51c34ffc9"


@pytest.mark.parametrize("qualifier", ["1", "3", "$LATEST", "$LATEST.PUBLISHED", "live"])
def test_started_by_names_the_execution_whatever_qualifier_its_arn_carries(qualifier):
    # The orchestrator sees its execution under the version that runs it (function:NAME:3/...);
    # a status-change event may name it otherwise: both must find the same tasks.
    assert started_by("durable-ecs", f"{FUNCTION}:{qualifier}/{EXECUTION}") == started_by(
        "durable-ecs", f"{FUNCTION}:2/{EXECUTION}"
    )


@pytest.mark.parametrize(
    "other",
    [
        f"{FUNCTION}:2/durable-execution/order-124/9f7d84c9-ea3d-3ffc-b3e5-5ec51c34ffc9",
        f"{FUNCTION}:2/durable-execution/order-123/00000000-ea3d-3ffc-b3e5-5ec51c34ffc9",
    ],
)
def test_started_by_differs_per_execution(other):
    assert started_by("durable-ecs", other) != started_by("durable-ecs", f"{FUNCTION}:2/{EXECUTION}")


@pytest.mark.parametrize(
    "arn", ["", "not an arn", "0b9e.../a1", "durable-execution/", "x/durable-execution/a", "a" * 5000]
)
def test_started_by_of_anything_else_is_still_a_valid_started_by(arn):
    # The local durable runner names executions "<uuid>/<uuid>", and an event may carry garbage:
    # neither may crash the orchestrator or the relay.
    value = started_by("durable-ecs", arn)
    assert value.startswith("durable-ecs/") and len(value) <= 128
    assert value == started_by("durable-ecs", arn)


def test_the_contract_imports_nothing_but_the_standard_library():
    # contract/requirements.txt: stdlib only (it loads in every cold start, and in the worker image).
    code = (
        "import sys, pkgutil, importlib, ecs_contract\n"
        "for blocked in ('botocore', 'boto3', 'aws_lambda_powertools', 'pydantic'):\n"
        "    sys.modules[blocked] = None\n"
        "for module in pkgutil.iter_modules(ecs_contract.__path__):\n"
        "    importlib.import_module('ecs_contract.' + module.name)\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "contract", capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("marker", ["", "has space", "semi;colon", "x" * 96])
def test_bad_markers_are_refused(marker):
    with pytest.raises(ValueError, match="startedBy marker"):
        validate_marker(marker)


def test_marker_match_needs_the_separator():
    assert has_marker("durable-ecs/abc", "durable-ecs")
    assert not has_marker("durable-ecs-other/abc", "durable-ecs")
    assert not has_marker(None, "durable-ecs")


def test_client_token_is_64_chars_and_one_per_callback():
    assert len(client_token(CALLBACK_ID)) == 64
    assert client_token(CALLBACK_ID) == client_token(CALLBACK_ID)
    assert client_token(CALLBACK_ID) != client_token(CALLBACK_ID + "A")


def test_redact_never_contains_the_whole_id():
    shown = redact(CALLBACK_ID)
    assert CALLBACK_ID not in shown and len(shown) < 24
    assert redact(None) == "<none>"


@pytest.mark.parametrize(
    ("value", "valid"),
    [(CALLBACK_ID, True), ("", False), ("has space", False), ("a" * 1025, False), (42, False)],
)
def test_callback_id_format(value, valid):
    assert is_callback_id(value) is valid


def test_task_model_reads_event_detail():
    task = parse_task(load_event("ecs/stopped-success")["detail"])
    assert task.last_status == "STOPPED"
    assert task.callback_id == CALLBACK_ID
    assert task.started_by == "durable-ecs/6f1c2a9e0b7d4e55a1b2c3d4e5f60718"
    worker = task.container()
    assert worker is not None and worker.exit_code == 0


def test_task_model_reads_describe_tasks_shape_with_datetimes():
    detail = copy.deepcopy(load_event("ecs/stopped-success")["detail"])
    detail["stoppedAt"] = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_task(detail).stopped_at == "2026-01-02T03:04:05+00:00"


def test_task_without_overrides_has_no_callback_id():
    detail = copy.deepcopy(load_event("ecs/stopped-success")["detail"])
    del detail["overrides"]
    assert parse_task(detail).callback_id is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("taskArn"),
        lambda d: d.update(lastStatus=7),
        lambda d: d.update(containers="worker"),
        lambda d: d["containers"][0].update(exitCode="0"),
        lambda d: d["containers"][0].update(exitCode=True),
        lambda d: d.update(overrides=[]),
    ],
)
def test_malformed_task_is_refused_with_a_reason(mutate):
    detail = copy.deepcopy(load_event("ecs/stopped-success")["detail"])
    mutate(detail)
    with pytest.raises(MalformedTask):
        parse_task(detail)


def test_overrides_limit_is_checked_on_the_json_form():
    small = {"containerOverrides": [{"name": "worker", "environment": [{"name": "A", "value": "x"}]}]}
    check_overrides(small)
    big = {
        "containerOverrides": [
            {"name": "worker", "environment": [{"name": "A", "value": "x" * OVERRIDES_MAX_CHARS}]}
        ]
    }
    with pytest.raises(LimitExceeded, match="8192"):
        check_overrides(big)


def test_failure_round_trips_through_the_callback_error():
    failure = TaskFailed(
        ErrorType.OUT_OF_MEMORY, "oom", retryable=False, task_arn="arn:t", exit_code=137, reason="r"
    )
    error = failure.callback_error()
    assert error["ErrorType"] == "OutOfMemory"
    assert json.loads(error["ErrorData"])["exit_code"] == 137
    assert TaskFailed.from_callback_error(error["ErrorMessage"], error["ErrorData"]) == failure


@pytest.mark.parametrize("data", [None, "not json", "[]", '{"error_type": "NoSuchType"}'])
def test_foreign_callback_failures_become_unknown(data):
    failure = TaskFailed.from_callback_error("someone else failed it", data)
    assert failure.error_type is ErrorType.UNKNOWN
    assert failure.message == "someone else failed it"


def test_long_reasons_are_clipped_in_the_callback_error():
    error = TaskFailed(ErrorType.WORKER_FAILED, "m" * 5000, reason="r" * 5000).callback_error()
    assert len(error["ErrorMessage"]) <= 1024
    assert len(json.loads(error["ErrorData"])["reason"]) <= 1024


def test_a_log_tail_keeps_the_newest_lines_that_fit_each_clipped():
    lines = [f"{i:04d} " + "x" * 2000 for i in range(100)]
    tail = fit_tail(lines)
    assert all(len(line) <= LOG_LINE_MAX_CHARS and line.endswith("...") for line in tail)
    assert tail[-1].startswith("0099 ") and tail[0].startswith(f"{100 - len(tail):04d} ")  # the newest
    assert sum(len(json.dumps(line)) + 1 for line in tail) <= LOG_TAIL_MAX_BYTES
    assert fit_tail(["a", "b"]) == ("a", "b") and fit_tail([]) == ()


def test_a_log_tail_is_bounded_by_its_json_bytes_not_its_characters():
    # An emoji is one character and 12 bytes of JSON ("\ud83d\ude00"): counted as ErrorData holds it.
    tail = fit_tail(["\U0001f600" * 1000] * 50)
    assert sum(len(json.dumps(line)) + 1 for line in tail) <= LOG_TAIL_MAX_BYTES
    assert 0 < len(tail) < 50


def test_the_worst_tail_keeps_the_callback_failure_within_its_limits():
    # GetLogEvents' most lines, each a CloudWatch Logs event's most (256 KB), in the costliest JSON
    log = LogLocation.of_task("/g", "arn:aws:ecs:us-east-1:1:task/c/t", "us-east-1")
    failure = TaskFailed(ErrorType.WORKER_FAILED, "m" * 5000, reason="r" * 5000)
    for worst in (["\U0001f600" * (64 * 1024)] * 10_000, ["x" * (256 * 1024)] * 10_000):
        error = failure.with_log(log, worst).callback_error()
        size = sum(len(value.encode()) for value in error.values())
        assert size <= CALLBACK_ERROR_MAX_BYTES  # the callback API's limit for the Error object
        assert size <= 64 * 1024  # far below a checkpoint's 256 KB too (the start and reconcile steps)
        assert len(error["ErrorMessage"]) <= ERROR_MESSAGE_MAX_CHARS
    # The message: the failure's own (clipped), then the newest lines, each clipped
    first, header, *shown = error["ErrorMessage"].splitlines()
    assert first == "m" * (REASON_MAX_CHARS - 3) + "..."
    assert header == f"last {MESSAGE_TAIL_LINES} line(s) of the worker's log:"
    assert shown == ["  " + "x" * (MESSAGE_TAIL_LINE_CHARS - 3) + "..."] * MESSAGE_TAIL_LINES


def test_a_failure_of_garbage_sizes_is_still_sent_within_the_limits_without_its_log():
    # ECS never sends an ARN of 300,000 characters; a malformed event may (the relay's property
    # tests draw them), and its failure must still reach the callback, never raise.
    arn = "arn:aws:ecs:us-east-1:1:task/c/" + "\u00e9" * 300_000
    failure = TaskFailed(ErrorType.WORKER_FAILED, "exited", task_arn=arn, stop_code="s" * 300_000)
    error = failure.with_log(LogLocation.of_task("/g", arn, "us-east-1"), ["a line"]).callback_error()
    assert sum(len(value.encode()) for value in error.values()) <= FAILURE_MAX_BYTES
    data = json.loads(error["ErrorData"])
    assert (data["log"], data["log_tail"], error["ErrorMessage"]) == (None, [], "exited")
    assert data["task_arn"].startswith("arn:aws:ecs:us-east-1:1:task/c/") and data["task_arn"].endswith("...")
