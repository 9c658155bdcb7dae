"""What completes a callback for a task that exited 0: the worker's result inline, or its location.

The relay builds it when the STOPPED event arrives; the orchestrator builds it when it reconciles a
task whose event never came. One function, so a completion reads the same whichever path made it.
The result object is read through a `ResultReader` (``aws_adapters.s3.ResultGateway`` in
both functions; a fake in tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ecs_contract.documents import CallbackSuccess
from ecs_contract.limits import CALLBACK_RESULT_MAX_BYTES
from ecs_contract.logs import LogLocation
from ecs_contract.names import RESULT_URI_ENV, RESULTS_PREFIX
from ecs_contract.outcome import TaskSucceeded, encode_callback_result
from ecs_contract.task import Task


@dataclass(frozen=True)
class StoredResult:
    body: Any = None
    size: int | None = None  # None: no object at that location
    is_json: bool = True


class ResultAccessDenied(Exception):
    """S3 refused to read the result object (HTTP 403): a permission to fix, not a missing result.

    Without s3:ListBucket S3 answers 403 for a missing key too (botocore's S3 model, GetObject: "If
    you don't have the s3:ListBucket permission, Amazon S3 returns an HTTP status code 403");
    the template grants it, so a 403 now means IAM, the bucket policy or the KMS key refused. The
    relay lets it raise (Lambda retries the event, then keeps it in the dead-letter queue, to be
    redriven once fixed); the orchestrator's reconcile step fails the execution with ResultUnreadable.
    """

    def __init__(self, uri: str, code: str) -> None:
        super().__init__(
            f"S3 refused GetObject on {uri} ({code}, HTTP 403): the function's role needs "
            "s3:GetObject on the results prefix and s3:ListBucket on the bucket, and the bucket "
            "policy and the bucket's KMS key (kms:Decrypt) must allow it"
        )
        self.uri = uri
        self.code = code


class ResultReader(Protocol):
    def read(self, uri: str, max_bytes: int) -> StoredResult:
        """The object at `uri`; StoredResult() if there is none. Raises ResultAccessDenied on 403."""
        ...


@dataclass(frozen=True)
class Completion:
    document: CallbackSuccess
    payload: bytes  # the Result of SendDurableExecutionCallbackSuccess (UTF-8 JSON)
    reason: str  # why the result is inline, by location or absent: for the log


def owns_result(uri: str, bucket: str) -> bool:
    """Only objects under our bucket and prefix are read: the URI comes from an event or a task."""
    return uri.startswith(f"s3://{bucket}/{RESULTS_PREFIX}") and ".." not in uri


def success_completion(
    outcome: TaskSucceeded, task: Task, results: ResultReader, bucket: str, log: LogLocation | None = None
) -> Completion:
    """The worker's result inline when it fits the callback limit, else its S3 location; and where
    the worker's log is (`log`)."""
    uri = task.env(RESULT_URI_ENV)
    result, location, reason = None, None, "worker exited 0"
    if uri and owns_result(uri, bucket):
        stored = results.read(uri, CALLBACK_RESULT_MAX_BYTES)
        if stored.size is None:
            reason = "worker exited 0 but wrote no result object"
        elif stored.is_json and stored.size <= CALLBACK_RESULT_MAX_BYTES:
            result = stored.body
        else:
            location, reason = uri, f"result passed by location ({stored.size} bytes, or not JSON)"
    elif uri:
        reason = "result location outside the results prefix was not read"
    document = CallbackSuccess.of(outcome, result, location, log)
    payload = encode_callback_result(document.to_dict())
    if len(payload) > CALLBACK_RESULT_MAX_BYTES:  # the result fit, but not with the envelope
        document = CallbackSuccess.of(outcome, None, result_location=uri, log=log)
        payload = encode_callback_result(document.to_dict())
        reason = f"result passed by location ({len(payload)} bytes with the envelope)"
    return Completion(document, payload, reason)
