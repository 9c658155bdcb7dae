"""Names the orchestrator, the relay and the worker must agree on, and how they are derived."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

# Container environment overrides set by the orchestrator on the worker container.
CALLBACK_ID_ENV = "CALLBACK_ID"  # read by the relay from the task's overrides; the worker ignores it
# The callback the relay completes when the task reaches RUNNING (only with a start timeout,
# durable_ecs.run_task): read from the task's overrides too; the worker ignores it.
START_CALLBACK_ID_ENV = "START_CALLBACK_ID"
JOB_INPUT_ENV = "JOB_INPUT"  # the job input as JSON
RESULT_URI_ENV = "RESULT_S3_URI"  # s3://bucket/key where the worker writes its result JSON
# Like AWS Batch's AWS_BATCH_JOB_ATTEMPT and AWS_BATCH_JOB_ARRAY_INDEX: the task's attempt (1, 2,
# ...; on every task) and its index in a fan-out (`durable_ecs.run_tasks`; 0-based, fan-out only).
TASK_ATTEMPT_ENV = "TASK_ATTEMPT"
TASK_INDEX_ENV = "TASK_INDEX"

WORKER_CONTAINER_NAME = "worker"
# Where result objects live in the results bucket: the orchestrator names them under it, the relay
# reads only under it. A constant, not a setting: template.yaml's IAM policies and lifecycle rule
# spell the same prefix, and a test holds them to this one.
RESULTS_PREFIX = "results/"


@dataclass(frozen=True)
class EventKind:
    """An EventBridge event's envelope: its `source` and `detail-type`."""

    source: str
    detail_type: str

    def of(self, event: Mapping[str, object]) -> bool:
        """Whether the event is of this kind."""
        return (event.get("source"), event.get("detail-type")) == (self.source, self.detail_type)


# The events the relay's two rules match. template.yaml spells them again in its rule patterns,
# as CloudFormation must; tests/contract/test_template.py checks that the two agree.
TASK_STATE_CHANGE = EventKind("aws.ecs", "ECS Task State Change")
EXECUTION_STATUS_CHANGE = EventKind("aws.lambda", "Durable Execution Status Change")

# ECS startedBy: up to 128 letters, digits, '-', '_' and '/'. A callback id (up to 1,024 base64
# chars) can never fit, which is why it travels in an environment override instead.
STARTED_BY_MAX = 128
_STARTED_BY_CHARS = re.compile(r"^[A-Za-z0-9_/-]+$")
_EXECUTION_DIGEST_CHARS = 32
_MARKER_MAX = STARTED_BY_MAX - _EXECUTION_DIGEST_CHARS - 1

# What the Lambda API accepts as a callback id (botocore's model): base64, 1..1024 chars.
_CALLBACK_ID_PATTERN = re.compile(r"[A-Za-z0-9+/]+={0,2}")
CALLBACK_ID_MAX = 1024


def validate_marker(marker: str) -> str:
    """Return the marker if ECS accepts it as a startedBy prefix, else raise ValueError."""
    if not marker or len(marker) > _MARKER_MAX or not _STARTED_BY_CHARS.match(marker):
        raise ValueError(f"startedBy marker {marker!r} must be 1..{_MARKER_MAX} chars of [A-Za-z0-9_/-]")
    return marker


# botocore's Lambda model, DurableExecutionArn: "arn:...:function:NAME:QUALIFIER/durable-execution/
# EXECUTION_NAME/EXECUTION_ID", where QUALIFIER is "$LATEST", "$LATEST.PUBLISHED" or a version.
_EXECUTION_PART = "/durable-execution/"


def execution_key(execution_arn: str) -> str:
    """What names one durable execution whatever qualifier its ARN carries.

    The orchestrator sees its execution under the version that runs it (function:NAME:3/...); a
    "Durable Execution Status Change" event, the CLI or an operator may name the same execution
    with another qualifier. The part from "durable-execution/" on is the same in all of them.
    Anything without that part (another runner's ids, or garbage in an event) is its own key:
    total, so a malformed ARN can never crash the relay.
    """
    _, found, rest = execution_arn.partition(_EXECUTION_PART)
    return f"durable-execution/{rest}" if found else execution_arn


def started_by(marker: str, execution_arn: str) -> str:
    """The task's startedBy: our marker, then a digest of the durable execution (its `execution_key`).

    The EventBridge rule matches on the marker prefix; the digest lets an operator (and the
    cancellation path) find the tasks of one execution without scanning the cluster.
    """
    key = execution_key(execution_arn)
    digest = hashlib.sha256(key.encode()).hexdigest()[:_EXECUTION_DIGEST_CHARS]
    return f"{validate_marker(marker)}/{digest}"


def has_marker(started_by_value: str | None, marker: str) -> bool:
    return bool(started_by_value) and str(started_by_value).startswith(f"{marker}/")


def client_token(callback_id: str) -> str:
    """RunTask clientToken (max 64 ASCII chars): one callback id can start at most one task."""
    return hashlib.sha256(callback_id.encode()).hexdigest()


def is_callback_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= CALLBACK_ID_MAX
        # fullmatch: with match() and "$", a trailing newline would pass ("$" matches before it).
        and bool(_CALLBACK_ID_PATTERN.fullmatch(value))
    )


def redact(callback_id: str | None) -> str:
    """A callback id is a bearer token: logs get a short prefix and a digest, never the whole id."""
    if not callback_id:
        return "<none>"
    digest = hashlib.sha256(callback_id.encode()).hexdigest()[:8]
    return f"{callback_id[:4]}...#{digest}"
