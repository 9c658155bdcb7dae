"""The local cloud's EventBridge stand-in: the template's rule, Lambda's and EventBridge's retries,
and the dead-letter queue after the last try (SQS in moto; the relay's Lambda answers scripted)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from completion_relay.relay import RelayAction, RelayResult
from local.bus import EventBus
from local.seed import seed
from local.template import Function
from testkit.paths import load_event
from testkit.poll import poll

OK = json.dumps(RelayResult(RelayAction.SUCCEEDED).as_dict()).encode()
FAILED = b'{"errorMessage": "boom", "errorType": "RuntimeError"}'


class ScriptedLambda:
    """Answers Invoke with the next scripted reply: bytes (success), ("error", bytes), or an exception."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[str, Any]] = []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        self.calls.append((FunctionName, json.loads(Payload)))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, tuple):
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(reply[1])}
        return {"StatusCode": 200, "Payload": io.BytesIO(reply)}


@pytest.fixture
def aws() -> Iterator[tuple[dict[str, Function], str]]:
    with mock_aws():
        template = seed(lambda s: boto3.client(s), "t")
        yield template.functions(), template.r.names.refs["Cluster.Arn"]


def stopped_event(cluster_arn: str) -> dict[str, Any]:
    event = load_event("ecs/stopped-success")
    event["detail"]["clusterArn"] = cluster_arn
    return event


def journal(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def final(path: Path) -> dict[str, Any]:
    """Wait until delivery has ended (delivered, dead-lettered or dropped); return that record."""
    ends = {"delivered", "dead-lettered", "dropped"}
    return poll(lambda: next((r for r in journal(path) if r["outcome"] in ends), None), what="delivery end")


def dead_letters() -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="t-dead-letters")["QueueUrl"]
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages", []
    )


def bus(functions: dict[str, Function], lam: ScriptedLambda, tmp_path: Path) -> EventBus:
    return EventBus(functions, lam, boto3.client("sqs"), tmp_path / "events.jsonl", base_delay=0.01)


def test_only_events_matching_the_templates_rule_are_delivered(aws, tmp_path):
    functions, _ = aws
    lam = ScriptedLambda()
    running = load_event("ecs/running")
    other_cluster = stopped_event("arn:aws:ecs:us-east-1:123456789012:cluster/someone-else")
    assert bus(functions, lam, tmp_path).put(running) == 0
    assert bus(functions, lam, tmp_path).put(other_cluster) == 0
    assert lam.calls == []
    assert [r["matched"] for r in journal(tmp_path / "events.jsonl")] == [[], []]


def test_a_matching_event_is_delivered_to_the_relay_as_is(aws, tmp_path):
    functions, cluster = aws
    lam, event = ScriptedLambda(OK), stopped_event(cluster)
    assert bus(functions, lam, tmp_path).put(event) == 1
    assert final(tmp_path / "events.jsonl")["attempt"] == 1
    assert lam.calls == [("CompletionRelay", event)]


def test_a_failing_relay_is_retried_like_lambda_async_invoke(aws, tmp_path):
    functions, cluster = aws
    lam = ScriptedLambda(("error", FAILED), ("error", FAILED), OK)
    bus(functions, lam, tmp_path).put(stopped_event(cluster))
    end = final(tmp_path / "events.jsonl")
    assert (end["outcome"], end["attempt"]) == ("delivered", 3)
    assert len(lam.calls) == 3
    assert dead_letters() == []


def test_after_the_last_retry_the_event_goes_to_the_on_failure_destination(aws, tmp_path):
    functions, cluster = aws
    assert functions["CompletionRelay"].async_retry_attempts == 2  # template.yaml EventInvokeConfig
    lam, event = ScriptedLambda(*[("error", FAILED)] * 3), stopped_event(cluster)
    bus(functions, lam, tmp_path).put(event)
    assert final(tmp_path / "events.jsonl")["outcome"] == "dead-lettered"
    (message,) = dead_letters()
    record = json.loads(message["Body"])
    assert record["requestPayload"] == event  # enough to redrive: the whole event
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"]["errorMessage"] == "boom"


def test_an_unreachable_target_follows_the_rules_retry_policy_then_its_dead_letter_queue(aws, tmp_path):
    functions, cluster = aws
    relay = functions["CompletionRelay"]
    functions = {"CompletionRelay": replace(relay, rules=(replace(relay.rules[0], retry_attempts=1),))}
    down = EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    lam, event = ScriptedLambda(down, down), stopped_event(cluster)
    bus(functions, lam, tmp_path).put(event)
    assert final(tmp_path / "events.jsonl")["outcome"] == "dead-lettered"
    (message,) = dead_letters()
    assert json.loads(message["Body"]) == event
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "EndpointConnectionError"
    assert attributes["RULE_ARN"] == "CompletionRelayTaskStopped"


def test_a_throttled_relay_waits_in_lambdas_queue_and_is_never_dead_lettered_for_it(aws, tmp_path):
    """EventBridge invokes Lambda asynchronously: Lambda's queue takes the event and retries a
    concurrency throttle for up to the function's MaximumEventAgeInSeconds (6 h here). Neither the
    rule's RetryPolicy nor its (locally scaled) maximum age applies to a throttle."""
    functions, cluster = aws
    relay = functions["CompletionRelay"]
    functions = {"CompletionRelay": replace(relay, rules=(replace(relay.rules[0], retry_attempts=1),))}
    throttled = ClientError(
        {
            "Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."},
            "ResponseMetadata": {"HTTPStatusCode": 429},
        },
        "Invoke",
    )
    lam, event = ScriptedLambda(*[throttled] * 5, OK), stopped_event(cluster)
    events = EventBus(
        functions, lam, boto3.client("sqs"), tmp_path / "events.jsonl", base_delay=0.01, max_age_seconds=0
    )
    events.put(event)
    end = final(tmp_path / "events.jsonl")
    assert (end["outcome"], end["attempt"]) == ("delivered", 6)
    assert [r["outcome"] for r in journal(tmp_path / "events.jsonl")].count("throttled") == 5
    assert dead_letters() == []


def test_a_relay_throttled_past_its_maximum_event_age_goes_to_the_on_failure_destination(aws, tmp_path):
    """Lambda keeps a throttled asynchronous event only until it is MaximumEventAgeInSeconds old
    (EventInvokeConfig; 6 h in template.yaml), then sends it to the on-failure destination with the
    condition EventAgeExceeded (the asynchronous invocation docs): never retried forever."""
    functions, cluster = aws
    relay = functions["CompletionRelay"]
    assert relay.async_max_event_age_seconds == 21600  # template.yaml EventInvokeConfig
    functions = {"CompletionRelay": replace(relay, async_max_event_age_seconds=0)}
    throttled = ClientError(
        {
            "Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."},
            "ResponseMetadata": {"HTTPStatusCode": 429},
        },
        "Invoke",
    )
    lam, event = ScriptedLambda(throttled, OK), stopped_event(cluster)
    bus(functions, lam, tmp_path).put(event)
    assert final(tmp_path / "events.jsonl")["outcome"] == "dead-lettered"
    (message,) = dead_letters()
    record = json.loads(message["Body"])
    assert record["requestPayload"] == event
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert len(lam.calls) == 1  # not invoked again once too old
