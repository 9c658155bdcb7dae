"""Redrive the dead-letter queue: hand every event the relay could not handle back to the relay.

Two kinds of record land in the queue (template.yaml): an event EventBridge could not deliver
(the message body is the event itself) and a relay invocation that failed all its async retries
(Lambda's on-failure record; the event is its ``requestPayload``). Both are invoked on the relay
again, synchronously; a record is deleted only once the relay handled it, so a redrive that fails
again loses nothing. Works on the local cloud and on a deployed stack alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Any

from local.targets import Target


@dataclass
class RedriveReport:
    redriven: int = 0
    failed: int = 0


def original_event(body: str) -> dict[str, Any]:
    record = json.loads(body)
    if isinstance(record, dict) and "requestContext" in record and "requestPayload" in record:
        return dict(record["requestPayload"])  # Lambda's on-failure destination record
    return dict(record)  # EventBridge's dead letter: the event as it was


def describe(event: dict[str, Any]) -> str:
    detail = event.get("detail") or {}
    subject = detail.get("taskArn") or detail.get("durableExecutionArn") or "?"
    return f"{event.get('detail-type')} {detail.get('lastStatus') or detail.get('status') or ''} {subject}"


def redrive(target: Target, out: IO[str], limit: int = 1000) -> RedriveReport:
    queue, relay = target.outputs["DeadLetterQueueUrl"], target.outputs["CompletionRelayFunctionName"]
    report = RedriveReport()
    while report.redriven + report.failed < limit:
        messages = target.sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            event = original_event(message["Body"])
            reply = target.lambda_client.invoke(FunctionName=relay, Payload=json.dumps(event).encode())
            answer = reply["Payload"].read().decode("utf-8", "replace")
            if "FunctionError" in reply:
                report.failed += 1
                print(f"still failing, kept in the queue: {describe(event)}: {answer[:300]}", file=out)
                continue
            target.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            report.redriven += 1
            action = json.loads(answer).get("action", "?") if answer.startswith("{") else "?"
            print(f"redriven: {describe(event)} -> relay {action}", file=out)
    print(f"{report.redriven} redriven, {report.failed} still failing", file=out)
    return report
