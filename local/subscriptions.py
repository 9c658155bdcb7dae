"""CloudWatch Logs subscription filters, from the template: the worker's log lines that match a
filter's FilterPattern are delivered to its destination function, as CloudWatch Logs delivers them.

- The filters are the template's AWS::Logs::SubscriptionFilter resources (LogGroupName,
  FilterPattern, DestinationArn): the local cloud has no list of its own.
- A Lambda destination needs the function's resource policy to let logs.amazonaws.com invoke it
  for that log group: PutSubscriptionFilter refuses the filter otherwise (CloudWatch Logs API
  reference, PutSubscriptionFilter: "you must also grant CloudWatch Logs permission to invoke the
  function" with lambda add-permission, principal logs.amazonaws.com, source-arn the log group).
  `up` refuses such a template the same way, naming what is missing.
- Payload: {"awslogs": {"data": base64(gzip(JSON))}}, the JSON with messageType DATA_MESSAGE, owner,
  logGroup, logStream, subscriptionFilters and logEvents (id, timestamp, message): one log stream
  a payload, lines batched (here: those that match within BATCH_SECONDS). Lambda developer guide,
  "Using Lambda with CloudWatch Logs".
- Delivered through the Lambda endpoint like the EventBridge stand-in's events (an asynchronous
  invoke: a function error is retried the function's MaximumRetryAttempts, a throttle waits).
- Patterns: the local cloud evaluates the empty pattern and one JSON comparison, `{ $.a.b OP v }`
  with OP one of = != > < >= <= and v a number or a quoted string (CloudWatch Logs "Using filter
  patterns to match terms in JSON log events"). It refuses any other pattern at `up` rather than
  guess what it matches. A numeric comparison matches a JSON number only (a "5" string does not:
  our reading of the docs, not verified on AWS).

Every delivery is appended to ``subscriptions.jsonl`` in the state folder (``follow`` shows the
progress lines from it).
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from aws_adapters.errors import ErrorAnswer
from local.journal import Journal
from local.template import Template, TemplateError

BATCH_SECONDS = 0.2
LOGS_PRINCIPAL = "logs.amazonaws.com"
_JSON_COMPARISON = re.compile(
    r"^\{\s*\$((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*(=|!=|>=|<=|>|<)\s*"
    r"(-?\d+(?:\.\d+)?|\"[^\"]*\")\s*\}$"
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


@dataclass(frozen=True)
class FilterPattern:
    """A filter pattern the local cloud can evaluate; `parse` refuses the others."""

    text: str
    path: tuple[str, ...] = ()
    op: str = ""
    value: float | str | None = None

    @classmethod
    def parse(cls, text: str) -> FilterPattern:
        if not text.strip():
            return cls(text)  # the empty pattern matches every event
        found = _JSON_COMPARISON.match(text.strip())
        if found is None:
            raise TemplateError(
                f"the local cloud evaluates the empty filter pattern and one JSON comparison "
                f"({{ $.field OP value }}), not {text!r}"
            )
        path, op, raw = found.groups()
        value: float | str = raw[1:-1] if raw.startswith('"') else float(raw)
        if op in (">", "<", ">=", "<=") and isinstance(value, str):
            raise TemplateError(f"{text!r}: > < >= <= compare numbers only")
        return cls(text, tuple(path.split(".")[1:]), op, value)

    def matches(self, message: str) -> bool:
        if not self.path:
            return True
        try:
            document: Any = json.loads(message)
        except ValueError:
            return False  # a JSON pattern matches JSON log events only
        for key in self.path:
            if not isinstance(document, dict) or key not in document:
                return False
            document = document[key]
        if isinstance(self.value, float):
            if isinstance(document, bool) or not isinstance(document, int | float):
                return False
            return math.isfinite(document) and _OPS[self.op](float(document), self.value)
        return isinstance(document, str) and _OPS[self.op](document, self.value)


@dataclass(frozen=True)
class SubscriptionFilter:
    name: str  # the logical id (CloudFormation names the filter after the stack and it)
    log_group: str
    pattern: FilterPattern
    function: str  # the destination function's logical id (the local cloud's function names)


def subscription_filters(template: Template) -> list[SubscriptionFilter]:
    """The template's subscription filters to this stack's functions; TemplateError for one the
    local cloud cannot deliver or that CloudWatch Logs would refuse (no invoke permission)."""
    functions = template.functions()
    permissions = [
        {k: template.r.resolve(v) for k, v in res.get("Properties", {}).items()}
        for res in template.of_type("AWS::Lambda::Permission").values()
    ]
    found = []
    for logical_id, res in template.of_type("AWS::Logs::SubscriptionFilter").items():
        props = res["Properties"]
        group = str(template.r.resolve(props["LogGroupName"]))
        destination = str(template.r.resolve(props["DestinationArn"]))
        function = destination.rpartition(":function:")[2].partition(":")[0]
        if function not in functions:
            raise TemplateError(f"{logical_id}: the local cloud delivers to this stack's functions only")
        group_arn = f"arn:aws:logs:{template.r.names.region}:{template.r.names.account}:log-group:{group}:*"
        allowed = any(
            p.get("Action") == "lambda:InvokeFunction"
            and p.get("Principal") == LOGS_PRINCIPAL
            and str(p.get("FunctionName", "")).rpartition(":function:")[2].partition(":")[0] == function
            and p.get("SourceArn") in (group_arn, group_arn.removesuffix(":*"))
            for p in permissions
        )
        if not allowed:
            raise TemplateError(
                f"{logical_id}: PutSubscriptionFilter would be refused: no AWS::Lambda::Permission lets "
                f"{LOGS_PRINCIPAL} invoke {function} for {group_arn}"
            )
        found.append(
            SubscriptionFilter(logical_id, group, FilterPattern.parse(str(props["FilterPattern"])), function)
        )
    return found


@dataclass(frozen=True)
class _Line:
    group: str
    stream: str
    timestamp: int
    message: str


class Subscriptions:
    """Takes every line the awslogs stand-in writes (`put`), delivers the matching ones in batches."""

    def __init__(
        self,
        filters: list[SubscriptionFilter],
        lambda_client: Any,
        journal: Path,
        account: str,
        retry_attempts: Callable[[str], int] = lambda function: 2,
        base_delay: float = 0.2,
    ) -> None:
        self.filters, self.lambda_client, self.account = filters, lambda_client, account
        self.retry_attempts, self.base_delay = retry_attempts, base_delay
        self.journal = Journal(journal)
        self.lines: queue.Queue[_Line | None] = queue.Queue()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="log-subscriptions", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.lines.put(None)
        self.thread.join(5)

    def put(self, group: str, stream: str, timestamp: int, message: str) -> None:
        if any(f.log_group == group and f.pattern.matches(message) for f in self.filters):
            self.lines.put(_Line(group, stream, timestamp, message))

    def _loop(self) -> None:
        while not self.stopping.is_set():
            first = self.lines.get()
            if first is None:
                return
            batch, until = [first], time.monotonic() + BATCH_SECONDS
            while (left := until - time.monotonic()) > 0:
                try:
                    line = self.lines.get(timeout=left)
                except queue.Empty:
                    break
                if line is None:
                    return
                batch.append(line)
            for subscription in self.filters:
                by_stream: dict[str, list[_Line]] = {}
                for line in batch:
                    if line.group == subscription.log_group and subscription.pattern.matches(line.message):
                        by_stream.setdefault(line.stream, []).append(line)
                for stream, lines in by_stream.items():
                    self._deliver(subscription, stream, lines)

    def _deliver(self, subscription: SubscriptionFilter, stream: str, lines: list[_Line]) -> None:
        payload = payload_of(self.account, subscription, stream, lines)
        function_errors = throttles = 0
        record = {
            "filter": subscription.name,
            "function": subscription.function,
            "logStream": stream,
            "messages": [line.message for line in lines],
        }
        while not self.stopping.is_set():
            try:
                answer = self.lambda_client.invoke(
                    FunctionName=subscription.function, Payload=json.dumps(payload).encode()
                )
            except (ClientError, BotoCoreError) as e:
                if isinstance(e, ClientError) and ErrorAnswer.of(e.response).throttled:
                    throttles += 1  # Lambda's asynchronous queue keeps a throttled event
                    self.stopping.wait(min(self.base_delay * 2 ** (throttles - 1), 5.0))
                    continue
                self.journal.write(**record, outcome="invoke-failed", error=str(e))
                return
            body = answer["Payload"].read().decode("utf-8", "replace")
            if "FunctionError" not in answer:
                self.journal.write(**record, outcome="delivered", response=body[:500])
                return
            function_errors += 1
            self.journal.write(**record, outcome="function-error", error=body[:500])
            if function_errors > self.retry_attempts(subscription.function):
                return
            self.stopping.wait(min(self.base_delay * 2 ** (function_errors - 1), 5.0))


def payload_of(
    account: str, subscription: SubscriptionFilter, stream: str, lines: list[_Line]
) -> dict[str, Any]:
    """CloudWatch Logs' payload for a Lambda destination: base64 of the gzipped JSON."""
    document = {
        "messageType": "DATA_MESSAGE",
        "owner": account,
        "logGroup": subscription.log_group,
        "logStream": stream,
        "subscriptionFilters": [subscription.name],
        "logEvents": [
            {"id": uuid.uuid4().hex, "timestamp": line.timestamp, "message": line.message} for line in lines
        ],
    }
    data = base64.b64encode(gzip.compress(json.dumps(document).encode())).decode()
    return {"awslogs": {"data": data}}
