"""Progress lines: their one format, the worker's rate limit, and the subscription filter pattern that
passes them (the template's, evaluated as the local cloud evaluates it) and nothing else."""

from __future__ import annotations

import json

import pytest

from ecs_contract.progress import FILTER_PATTERN, MAX_MESSAGE_CHARS, Progress, last_progress, parse_progress
from local.subscriptions import FilterPattern, subscription_filters
from local.template import Template, TemplateError, load
from testkit.poll import poll
from testkit.template import NAMES, template
from worker.progress import DEFAULT_INTERVAL_SECONDS, ProgressReporter, interval_from


def test_a_progress_line_is_one_json_line_that_reads_back():
    line = Progress.of(0.42, "chunk 42\nof 100", at="2026-12-01T18:50:00Z").line()
    assert "\n" not in line
    assert json.loads(line) == {
        "durableEcsProgress": 0.42,
        "message": "chunk 42 of 100",
        "at": "2026-12-01T18:50:00Z",
    }
    parsed = parse_progress(line)
    assert parsed == Progress(0.42, "chunk 42 of 100", "2026-12-01T18:50:00Z")
    assert parsed.describe() == "42% chunk 42 of 100"


@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan"), float("inf"), True, "0.5"])
def test_a_fraction_outside_0_to_1_is_refused_where_the_job_reports_it(fraction):
    with pytest.raises(ValueError, match="0 to 1"):
        Progress.of(fraction, "x")


def test_a_long_message_is_cut():
    assert len(Progress.of(0.5, "x" * 10_000).message) == MAX_MESSAGE_CHARS


@pytest.mark.parametrize(
    "line",
    [
        "processing 'Hello': 1/2 s",  # the demo job's plain log lines
        '{"level":"INFO","message":"durableEcsProgress is a word here"}',  # a JSON log of the job's
        '{"durableEcsProgress":"0.5","message":"a string, not a number"}',
        '{"durableEcsProgress":2,"message":"over 1"}',
        "[1, 2, 3]",
        "{not json durableEcsProgress",
    ],
)
def test_other_lines_are_not_progress(line):
    assert parse_progress(line) is None


def test_the_last_progress_among_log_lines():
    lines = [Progress.of(0.1, "a").line(), "plain", Progress.of(0.2, "b").line(), "worker: job failed"]
    assert last_progress(lines) == Progress(0.2, "b")
    assert last_progress(["plain"]) is None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_reporter_prints_at_most_one_line_an_interval_and_the_first_done_at_once():
    # Given a reporter with a 60 s interval
    clock, printed = Clock(), list[str]()
    report = ProgressReporter(60, clock, printed.append, wall_clock=lambda: "T")
    # When a chatty job reports every second for two minutes, then says it is done
    for second in range(120):
        clock.now = second
        report(second / 200, f"step {second}")
    clock.now = 120.5
    report(1, "done")
    report(1, "done again")
    # Then the first report, one a minute, and the first "done" got through
    assert [json.loads(line)["message"] for line in printed] == ["step 0", "step 60", "done"]


def test_a_bad_fraction_raises_even_when_the_rate_limit_would_drop_it():
    report = ProgressReporter(60, Clock(), lambda line: None)
    report(0.1)
    with pytest.raises(ValueError):
        report(7)


def test_the_interval_is_a_minute_unless_the_environment_says_otherwise():
    assert interval_from({}) == DEFAULT_INTERVAL_SECONDS == 60
    assert interval_from({"PROGRESS_INTERVAL_SECONDS": "1"}) == 1
    assert interval_from({"PROGRESS_INTERVAL_SECONDS": "0"}) == 1  # never a busy loop of lines
    with pytest.raises(ValueError, match="PROGRESS_INTERVAL_SECONDS"):
        interval_from({"PROGRESS_INTERVAL_SECONDS": "often"})


def test_the_template_s_subscription_pattern_is_the_contract_s():
    (subscription,) = [
        r for r in template()["Resources"].values() if r["Type"] == "AWS::Logs::SubscriptionFilter"
    ]
    assert subscription["Properties"]["FilterPattern"] == FILTER_PATTERN


# Real lines: the demo worker's output, a Powertools JSON log line, a Python traceback line.
NOT_PROGRESS = [
    "processing 'Hello from durable ECS': 0/2 s",
    "result written to s3://local-results/results/530d.json",
    '{"level":"INFO","location":"handler:12","message":"step 3","timestamp":"2026-12-01 18:50:00,000+0000"}',
    'Traceback (most recent call last): File "/app/worker/job.py", line 3',
    '{"durableEcsProgress":"0.5"}',
    '{"durableEcsProgress":-1}',
    '{"durableEcsProgress":true}',
    '{"progress":{"durableEcsProgress":0.5}}',
]


@pytest.mark.parametrize("line", NOT_PROGRESS)
def test_the_pattern_passes_no_other_line(line):
    assert not FilterPattern.parse(FILTER_PATTERN).matches(line)


@pytest.mark.parametrize("fraction", [0, 0.0001, 0.5, 1])
def test_the_pattern_passes_every_progress_line(fraction):
    line = Progress.of(fraction, 'quotes " and } braces', at="2026-12-01T18:50:00Z").line()
    assert FilterPattern.parse(FILTER_PATTERN).matches(line)


@pytest.mark.parametrize("pattern", ["ERROR", "[ip, user, ...]", "{ $.a = 1 && $.b = 2 }", '{ $.a > "x" }'])
def test_the_local_cloud_refuses_a_pattern_it_cannot_evaluate(pattern):
    with pytest.raises(TemplateError):
        FilterPattern.parse(pattern)


def test_a_subscription_to_a_function_without_the_logs_permission_is_refused():
    doc = load()
    assert [f.function for f in subscription_filters(Template(NAMES, doc))] == ["CompletionRelay"]
    resources = {k: v for k, v in doc["Resources"].items() if v["Type"] != "AWS::Lambda::Permission"}
    with pytest.raises(TemplateError, match="PutSubscriptionFilter would be refused"):
        subscription_filters(Template(NAMES, {**doc, "Resources": resources}))


def test_the_local_subscription_delivers_matching_lines_per_stream_in_the_relay_s_payload_shape(tmp_path):
    from completion_relay.liveness import TaskProgress, progress_of
    from local.subscriptions import Subscriptions

    # Given the template's subscription and a Lambda client that records what it is asked
    invoked: list[dict[str, object]] = []

    class Lambda:
        def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, object]:
            invoked.append({"function": FunctionName, "event": json.loads(Payload)})
            return {"Payload": type("Body", (), {"read": lambda self: b'{"action": "heartbeat"}'})()}

    (subscription,) = subscription_filters(Template(NAMES, load()))
    subscriptions = Subscriptions([subscription], Lambda(), tmp_path / "s.jsonl", "1")
    # When two tasks print, progress and other lines mixed
    for stream, line in [
        ("worker/worker/aaa", "plain"),
        ("worker/worker/aaa", Progress.of(0.1, "a1").line()),
        ("worker/worker/bbb", Progress.of(0.5, "b1").line()),
        ("worker/worker/aaa", Progress.of(0.2, "a2").line()),
        ("worker/other/ccc", Progress.of(0.2, "other group? no: same group, other stream").line()),
    ]:
        subscriptions.put("/t/worker", stream, 1, line)
    subscriptions.put("/elsewhere", "worker/worker/ddd", 1, Progress.of(0.3, "another group").line())
    subscriptions.start()
    poll(lambda: len(invoked) == 3, what="3 deliveries")
    subscriptions.stop()
    # Then one invocation per stream, of its progress lines only, which the relay reads back
    assert {i["function"] for i in invoked} == {"CompletionRelay"}
    read = [progress_of(i["event"]) for i in invoked]  # type: ignore[arg-type]
    assert [TaskProgress("aaa", Progress(0.2, "a2"))] in read
    assert [TaskProgress("bbb", Progress(0.5, "b1"))] in read
    assert [] in read  # worker/other/ccc: not a worker container's stream


def test_follow_shows_a_progress_line_as_a_fraction_and_its_message():
    from local.timeline import _worker_line

    assert (
        _worker_line(Progress.of(0.25, "chunk 1 of 4", at="2026-12-01T18:50:00Z").line())
        == "progress 25% chunk 1 of 4"
    )
    assert _worker_line("processing 'x': 0/2 s") == "processing 'x': 0/2 s"
