"""EventBridge stand-in: match events against the template's rules, deliver to the target function.

Delivery follows what EventBridge and Lambda do for an EventBridge -> Lambda target:
- the target is invoked; if the function itself fails, Lambda's async retries apply
  (``EventInvokeConfig.MaximumRetryAttempts``, 2 by default), then the record goes to the
  function's on-failure destination;
- a throttled invoke (429, the function at its concurrency limit) waits in Lambda's queue,
  retried until it runs, as Lambda's asynchronous queue does;
- if the invoke cannot be made at all (endpoint down, 5xx), the rule's RetryPolicy applies, then
  the rule's dead-letter queue.
Retry delays are scaled down (``base_delay``) so a local run does not wait minutes.
Every delivery attempt is appended to ``events.jsonl`` in the state folder. Armed faults
(``faults.py``) can duplicate or lose a task's STOPPED event, or fail the target's invocation.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from moto.events.models import EventPattern

from aws_adapters.errors import ErrorAnswer
from ecs_contract.names import TASK_STATE_CHANGE
from local.faults import DUPLICATES, Faults, event_started_by
from local.journal import Journal, iso
from local.seed import lambda_arn
from local.template import EventRule, Function


@dataclass(frozen=True)
class Route:
    rule: EventRule
    function: Function
    pattern: EventPattern


class EventBus:
    def __init__(
        self,
        functions: dict[str, Function],
        lambda_client: Any,
        sqs_client: Any,
        journal: Path,
        base_delay: float = 0.2,
        max_age_seconds: float = 60.0,
        faults: Faults | None = None,
        destination_client: Callable[[Function], Any] | None = None,
    ) -> None:
        self.routes = [
            Route(rule, f, EventPattern.load(json.dumps(rule.pattern)))
            for f in functions.values()
            for rule in f.rules
        ]
        self.lambda_client, self.sqs = lambda_client, sqs_client
        # Lambda sends to a function's on-failure destination with the function's execution role.
        self.destination_client = destination_client or (lambda _function: sqs_client)
        self.journal = Journal(journal)
        self.base_delay, self.max_age = base_delay, max_age_seconds
        self.faults = faults or Faults()
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="event-delivery")
        self.stopping = threading.Event()

    def put(self, event: dict[str, Any]) -> int:
        """Publish one event; returns how many rules matched (delivery happens in the background)."""
        matched = [r for r in self.routes if r.pattern.matches_event(event)]  # type: ignore[arg-type]
        self._record(event, None, "published", matched=[r.rule.name for r in matched])
        copies = 1
        if self._is_stopped_task(event):
            started_by = event_started_by(event)
            if self.faults.fire("drop-stopped", started_by):
                self._record(event, None, "lost", fault="drop-stopped")
                return 0
            if self.faults.fire("duplicate-stopped", started_by):
                copies = DUPLICATES
        for route in matched:
            for _ in range(copies):
                self.pool.submit(self._deliver, route, event)
        return len(matched)

    @staticmethod
    def _is_stopped_task(event: dict[str, Any]) -> bool:
        detail = event.get("detail") or {}
        return (
            event.get("detail-type") == TASK_STATE_CHANGE.detail_type
            and detail.get("lastStatus") == "STOPPED"
        )

    def stop(self) -> None:
        self.stopping.set()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _deliver(self, route: Route, event: dict[str, Any]) -> None:
        started = time.monotonic()
        function_errors = transport_errors = throttles = 0
        while not self.stopping.is_set():
            attempt = function_errors + transport_errors + throttles + 1
            extra: dict[str, Any] = {}
            if self._is_stopped_task(event) and self.faults.fire("relay-error", event_started_by(event)):
                payload, failed, extra = b'{"errorMessage": "injected fault"}', True, {"fault": "relay-error"}
            else:
                try:
                    resp = self.lambda_client.invoke(
                        FunctionName=route.function.logical_id, Payload=json.dumps(event).encode()
                    )
                except (ClientError, BotoCoreError) as e:
                    if _throttled(e):
                        # EventBridge invokes Lambda asynchronously: Lambda's queue accepts the event
                        # and retries a concurrency throttle itself, for up to the function's
                        # MaximumEventAgeInSeconds (6 h), so no RetryPolicy try is spent on it; then
                        # the on-failure destination gets it (condition EventAgeExceeded).
                        throttles += 1
                        self._record(event, route, "throttled", attempt=attempt)
                        if time.monotonic() - started >= route.function.async_max_event_age_seconds:
                            self._dead_letter_function(route, event, None, attempt, "EventAgeExceeded")
                            return
                        self._backoff(throttles)
                        continue
                    transport_errors += 1
                    self._record(event, route, "invoke-failed", attempt=attempt, error=str(e))
                    too_old = time.monotonic() - started > min(self.max_age, route.rule.max_event_age_seconds)
                    if transport_errors > route.rule.retry_attempts or too_old:
                        self._dead_letter_rule(route, event, e)
                        return
                    self._backoff(transport_errors)
                    continue
                payload, failed = resp["Payload"].read(), "FunctionError" in resp
            if not failed:
                self._record(event, route, "delivered", attempt=attempt, response=_short(payload))
                return
            function_errors += 1  # the function failed: Lambda's async retries apply
            self._record(event, route, "function-error", attempt=attempt, error=_short(payload), **extra)
            if function_errors > route.function.async_retry_attempts:
                self._dead_letter_function(route, event, payload, function_errors, "RetriesExhausted")
                return
            self._backoff(function_errors)

    def _backoff(self, n: int) -> None:
        self.stopping.wait(min(self.base_delay * 2 ** (n - 1), 5.0))

    def _dead_letter_function(
        self, route: Route, event: dict[str, Any], error: bytes | None, count: int, condition: str
    ) -> None:
        """Lambda's on-failure destination record: retries exhausted (the function's last error), or
        the event too old to run (never ran: no response)."""
        if route.function.on_failure_arn is None:
            self._record(event, route, "dropped", reason="function failed and has no on-failure destination")
            return
        record = {
            "version": "1.0",
            "timestamp": iso(),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": lambda_arn(route.function.logical_id, "$LATEST"),
                "condition": condition,
                "approximateInvokeCount": count,
            },
            "requestPayload": event,
        }
        if error is not None:
            record["responseContext"] = {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            }
            record["responsePayload"] = _json_or_text(error)
        try:
            self._send(
                route.function.on_failure_arn, json.dumps(record), {}, self.destination_client(route.function)
            )
        except ClientError as e:  # e.g. the role may not send to it: Lambda drops the record
            self._record(
                event, route, "destination-failed", queue=route.function.on_failure_arn, error=str(e)
            )
            return
        self._record(event, route, "dead-lettered", queue=route.function.on_failure_arn)

    def _dead_letter_rule(self, route: Route, event: dict[str, Any], error: Exception) -> None:
        """EventBridge's dead-letter message: the event, with the failure in message attributes."""
        if route.rule.dead_letter_arn is None:
            self._record(event, route, "dropped", reason="rule has no dead-letter queue")
            return
        attrs = {
            "RULE_ARN": route.rule.name,
            "TARGET_ARN": lambda_arn(route.function.logical_id),
            "ERROR_CODE": type(error).__name__,
            "ERROR_MESSAGE": str(error)[:256],
        }
        self._send(route.rule.dead_letter_arn, json.dumps(event), attrs)
        self._record(event, route, "dead-lettered", queue=route.rule.dead_letter_arn)

    def _send(self, queue_arn: str, body: str, attrs: dict[str, str], sender: Any = None) -> None:
        name = queue_arn.rsplit(":", 1)[1]
        url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]  # the service knows its queue
        (sender or self.sqs).send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()},
        )

    def _record(self, event: dict[str, Any], route: Route | None, outcome: str, **extra: Any) -> None:
        detail = event.get("detail", {})
        self.journal.write(
            eventId=event.get("id"),
            detailType=event.get("detail-type"),
            taskArn=detail.get("taskArn"),
            lastStatus=detail.get("lastStatus"),
            **({"executionArn": detail["durableExecutionArn"]} if "durableExecutionArn" in detail else {}),
            rule=route.rule.name if route else None,
            outcome=outcome,
            **extra,
        )


def _throttled(error: Exception) -> bool:
    """Invoke's TooManyRequestsException (429): the function is at its concurrency limit."""
    return isinstance(error, ClientError) and ErrorAnswer.of(error.response).throttled


def _short(payload: bytes, limit: int = 500) -> str:
    text = payload.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "..."


def _json_or_text(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")
