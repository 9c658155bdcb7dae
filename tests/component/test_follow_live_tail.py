"""`follow --target aws` shows the worker's lines through CloudWatch Logs Live Tail, and reads the log
every poll where Live Tail is refused, unreachable (the local cloud's endpoint) or ends.

What AWS sends is stood in for by a stream the test feeds (botocore's EventStream yields the same
dicts) and by moto, whose StartLiveTail answers a real event stream but is not live: it sends what
the stream already holds, once, and ends.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from ecs_contract.documents import Operation, StartTaskResult
from local.live_tail import SAMPLED_NOTE, lines_of, log_group_arn
from local.targets import Target, WorkerLogs
from local.timeline import Follower, follow

GROUP = "/stack/worker"
TASK = "arn:aws:ecs:us-east-1:123456789012:task/workers/0123456789abcdef"
STREAM = "worker/worker/0123456789abcdef"
GROUP_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/stack/worker"
EXECUTION = "arn:aws:lambda:us-east-1:123456789012:function:O:1/durable-execution/e/1"


class History:
    """GetDurableExecution(History) of an execution whose task has started: what the follower reads."""

    def __init__(self) -> None:
        self.status = "RUNNING"
        started = {"Payload": json.dumps(StartTaskResult(TASK).to_dict())}
        self.events = [
            {
                "EventType": "StepSucceeded",
                "Name": Operation.START_TASK.named(1),
                "EventTimestamp": datetime.now(UTC),
                "StepSucceededDetails": {"Result": started},
            }
        ]

    def get_durable_execution(self, **_: Any) -> dict[str, Any]:
        return {"Status": self.status, "Result": "{}"}

    def get_durable_execution_history(self, **_: Any) -> dict[str, Any]:
        return {"Events": self.events}


class StoppedTasks:
    def describe_tasks(self, **_: Any) -> dict[str, Any]:
        return {"tasks": [{"lastStatus": "STOPPED", "containers": [{"exitCode": 1}], "stoppedReason": "x"}]}


class FedStream:
    """A Live Tail response stream the test feeds; closing it ends the iteration, as the service's."""

    def __init__(self) -> None:
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while (event := self.events.get()) is not None:
            yield event

    def close(self) -> None:
        self.closed = True
        self.events.put(None)


def update(*events: dict[str, Any], stream: str = STREAM, sampled: bool = False) -> dict[str, Any]:
    """A sessionUpdate with these log events (as PutLogEvents took them: timestamp, message)."""
    results = [{"logStreamName": stream, "logGroupIdentifier": GROUP_ARN, **e} for e in events]
    return {"sessionUpdate": {"sessionMetadata": {"sampled": sampled}, "sessionResults": results}}


def events(*messages: str) -> list[dict[str, Any]]:
    now = int(time.time() * 1000)
    return [{"timestamp": now + i, "message": m} for i, m in enumerate(messages)]


class LiveLogs:
    """CloudWatch Logs with Live Tail: moto for GetLogEvents, the fed stream for StartLiveTail."""

    def __init__(self, moto_logs: Any) -> None:
        self.moto, self.stream = moto_logs, FedStream()
        self.sessions: list[dict[str, Any]] = []
        self.exceptions = moto_logs.exceptions

    def start_live_tail(self, **params: Any) -> dict[str, Any]:
        self.sessions.append(params)
        self.stream.events.put({"sessionStart": {"sessionId": "s"}})
        return {"responseStream": self.stream}

    def get_log_events(self, **params: Any) -> Any:
        return self.moto.get_log_events(**params)


def target(logs: Any, live: bool = True) -> Target:
    return Target(
        name="aws:test",
        outputs={"ClusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/workers"},
        lambda_client=History(),
        ecs=StoppedTasks(),
        logs=logs,
        sqs=None,
        worker_logs=WorkerLogs(GROUP, "worker", "worker"),
        poll_interval=0.01,
        live_tail=live,
    )


def write(logs: Any, *messages: str) -> list[dict[str, Any]]:
    written = events(*messages)
    logs.put_log_events(logGroupName=GROUP, logStreamName=STREAM, logEvents=written)
    return written


@pytest.fixture
def moto_logs() -> Iterator[Any]:
    with mock_aws():
        logs = boto3.client("logs")
        logs.create_log_group(logGroupName=GROUP)
        logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
        yield logs


def worker_lines(follower: Follower, until: int) -> list[str]:
    """Poll until `until` worker lines came (the Live Tail thread hands them over)."""
    shown: list[str] = []
    deadline = time.monotonic() + 10
    while len(shown) < until and time.monotonic() < deadline:
        shown += [e.text for e in follower.poll() if e.source == "worker"]
    return shown


def test_a_live_tail_event_becomes_the_lines_of_our_stream_oldest_first():
    assert lines_of({"sessionStart": {"sessionId": "s"}}, STREAM) == []
    b, c = events("b", "c")
    another_task = update(*events("other"), stream="worker/worker/another-task")
    (other,) = another_task["sessionUpdate"]["sessionResults"]
    event = update(c, b)  # out of order, and a line of another stream (a filter of many streams)
    event["sessionUpdate"]["sessionResults"].append(other)
    assert [line.message for line in lines_of(event, STREAM)] == ["b", "c"]
    sampled = lines_of(update(*events("a"), sampled=True), STREAM)
    assert [line.message for line in sampled] == ["a", SAMPLED_NOTE]
    assert log_group_arn(GROUP, TASK) == GROUP_ARN  # an ARN, without ":*" (StartLiveTail refuses that)


def test_the_worker_s_lines_come_through_live_tail_each_once(moto_logs):
    # Given a task whose worker wrote a line before the session started
    write(moto_logs, "before the session")
    logs = LiveLogs(moto_logs)
    follower = Follower(target(logs), EXECUTION, live=True)

    # When the follower starts a session and Live Tail sends lines as they are ingested
    assert worker_lines(follower, 1) == ["before the session"]  # read once with GetLogEvents
    assert logs.sessions == [{"logGroupIdentifiers": [GROUP_ARN], "logStreamNames": [STREAM]}]
    logs.stream.events.put(update(*write(moto_logs, "one", "two")))

    # Then they are shown as they come, once
    assert worker_lines(follower, 2) == ["one", "two"]
    # And a line the session had not sent by the end is read once more, and the session closed
    write(moto_logs, "last")
    assert [e.text for e in follower.finish()] == ["last"]
    assert logs.stream.closed and follower.live is None


def test_a_live_tail_session_that_ends_falls_back_to_reading_the_log_every_poll(moto_logs):
    # moto's StartLiveTail: a real event stream with what the stream holds, then the end
    write(moto_logs, "a", "b")
    follower = Follower(target(moto_logs), EXECUTION, live=True)
    entries: list[Any] = []
    deadline = time.monotonic() + 10
    while follower.live_off is None and time.monotonic() < deadline:
        entries += follower.poll()
    assert follower.live_off is not None and "session ended" in follower.live_off
    assert [e.text for e in entries if e.source == "worker"] == ["a", "b"]  # each once
    (note,) = [e.text for e in entries if e.source == "follow"]
    assert note.endswith("reading the worker's log every poll instead")
    write(moto_logs, "c")
    assert [e.text for e in follower.poll() if e.source == "worker"] == ["c"]


def test_where_the_endpoint_has_no_live_tail_follow_reads_the_log_every_poll(tmp_path: Path):
    # The local cloud's endpoint: moto's server on 127.0.0.1, where "stream-127.0.0.1" is no host
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        logs = boto3.client("logs", endpoint_url=f"http://{host}:{port}")
        logs.create_log_group(logGroupName=GROUP)
        logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
        write(logs, "worker: job failed: RuntimeError: boom")
        aws = target(logs)
        aws.lambda_client.status = "FAILED"
        with (tmp_path / "out.txt").open("w") as out:
            follow(aws, EXECUTION, out=out, timeout=10)
        text = (tmp_path / "out.txt").read_text()
    finally:
        server.stop()
    assert "Live Tail is not available (EndpointConnectionError" in text
    assert "reading the worker's log every poll instead" in text
    assert text.count("worker: job failed: RuntimeError: boom") == 1
