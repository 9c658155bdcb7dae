"""What completes a callback for a task that exited 0: the worker's result inline, or its location.

The relay builds it when the STOPPED event arrives; the orchestrator builds it when it reconciles a
task whose event never came. One function, so a completion reads the same whichever path made it.
The result object is read through a `ResultReader` (``ecs_contract.s3_results.ResultGateway`` in
both functions; a fake in tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ecs_contract.limits import CALLBACK_RESULT_MAX_BYTES
from ecs_contract.names import RESULT_URI_ENV
from ecs_contract.outcome import TaskSucceeded, encode_callback_result
from ecs_contract.task import Task


@dataclass(frozen=True)
class StoredResult:
    body: Any = None
    size: int | None = None  # None: no object at that location
    is_json: bool = True


class ResultReader(Protocol):
    def read(self, uri: str, max_bytes: int) -> StoredResult: ...


@dataclass(frozen=True)
class Completion:
    payload: bytes  # the Result of SendDurableExecutionCallbackSuccess (UTF-8 JSON)
    reason: str  # why the result is inline, by location or absent: for the log


def owns_result(uri: str, bucket: str, prefix: str) -> bool:
    """Only objects under our bucket and prefix are read: the URI comes from an event or a task."""
    return uri.startswith(f"s3://{bucket}/{prefix}") and ".." not in uri


def success_completion(
    outcome: TaskSucceeded, task: Task, results: ResultReader, bucket: str, prefix: str
) -> Completion:
    """The worker's result inline when it fits the callback limit, else its S3 location."""
    uri = task.env(RESULT_URI_ENV)
    result, location, reason = None, None, "worker exited 0"
    if uri and owns_result(uri, bucket, prefix):
        stored = results.read(uri, CALLBACK_RESULT_MAX_BYTES)
        if stored.size is None:
            reason = "worker exited 0 but wrote no result object"
        elif stored.is_json and stored.size <= CALLBACK_RESULT_MAX_BYTES:
            result = stored.body
        else:
            location, reason = uri, f"result passed by location ({stored.size} bytes, or not JSON)"
    elif uri:
        reason = "result location outside the results prefix was not read"
    payload = encode_callback_result(outcome.callback_result(result, location))
    if len(payload) > CALLBACK_RESULT_MAX_BYTES:  # the result fit, but not with the envelope
        payload = encode_callback_result(outcome.callback_result(None, result_location=uri))
        reason = f"result passed by location ({len(payload)} bytes with the envelope)"
    return Completion(payload, reason)
