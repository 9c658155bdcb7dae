"""The relay's boto3 adapter for the callback API, which only the relay calls.

ECS and the results bucket are `aws_adapters`' (shared with the orchestrator); errors are read as
`aws_adapters.errors.ErrorAnswer`, the one classification of what is transient.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from aws_adapters.errors import ErrorAnswer
from ecs_contract.names import redact


class CallbackNotDelivered(RuntimeError):
    """The completion did not reach the callback API, but may later: retried by Lambda's async
    invoke, then kept in the dead-letter queue for a redrive (throttling, 5xx, KMS, our own
    permissions, network).

    Raised instead of botocore's error, whose message may hold the request URL or the service's
    words, and so the whole callback id: a bearer token that must not reach a log, a dead letter
    or a traceback."""


class CallbackRejected(RuntimeError):
    """The callback API refused the completion for good (a 4xx no retry can change, e.g. a callback
    of an execution that was stopped): recorded by the relay, not retried into a dead letter.

    The message holds the error code, HTTP status and the service's words, callback id redacted."""


class Delivery(Enum):
    SENT = "sent"
    ALREADY_CLOSED = "already-closed"  # a duplicate event, or the callback timed out first


# botocore's Lambda model lists these errors for SendDurableExecutionCallbackSuccess / Failure:
#   TooManyRequestsException 429; ServiceException 500; KMSAccessDeniedException,
#   KMSDisabledException, KMSInvalidStateException, KMSNotFoundException 502 (faults);
#   InvalidParameterValueException 400; CallbackTimeoutException 400 ("expired or ... already
#   been closed"); ResourceNotFoundException 404.
# The service answers a completion of a closed callback with CallbackTimeoutException (docs);
# the local durable runner answers 404 with no code. Neither is worth a retry.
_CLOSED_CODES = frozenset({"CallbackTimeoutException", "ResourceNotFoundException"})
# Our own role or credentials (IAM answers any call with these): fixable by the operator, so the
# event is kept for a redrive rather than dropped, as for an S3 403 (ResultAccessDenied).
_OUR_SIDE_STATUSES = frozenset({401, 403})


def _is_closed(answer: ErrorAnswer) -> bool:
    return answer.code in _CLOSED_CODES or answer.status == 404


def _worth_retrying(answer: ErrorAnswer) -> bool:
    """Throttling, 5xx (the KMS errors among them, by code too), our own permissions."""
    return answer.transient or answer.code.startswith("KMS") or answer.status in _OUR_SIDE_STATUSES


def _redacted(text: str, callback_id: str) -> str:
    for form in (callback_id, quote(callback_id, safe=""), quote(callback_id)):
        text = text.replace(form, redact(callback_id))
    return text


@dataclass
class CallbackGateway:
    lambda_client: Any

    def succeed(self, callback_id: str, result: bytes) -> Delivery:
        return self._send(
            self.lambda_client.send_durable_execution_callback_success,
            CallbackId=callback_id,
            Result=result,
        )

    def fail(self, callback_id: str, error: dict[str, str]) -> Delivery:
        return self._send(
            self.lambda_client.send_durable_execution_callback_failure,
            CallbackId=callback_id,
            Error=error,
        )

    def heartbeat(self, callback_id: str) -> Delivery:
        """SendDurableExecutionCallbackHeartbeat: the task behind the callback is alive (botocore's
        Lambda model: POST /2025-12-01/durable-execution-callbacks/{CallbackId}/heartbeat, no body,
        an empty answer; errors InvalidParameterValueException, ServiceException,
        TooManyRequestsException, ResourceNotFoundException, CallbackTimeoutException: a closed
        callback reads as ALREADY_CLOSED, as for a completion)."""
        return self._send(
            self.lambda_client.send_durable_execution_callback_heartbeat, CallbackId=callback_id
        )

    @staticmethod
    def _send(call: Any, CallbackId: str, **kwargs: Any) -> Delivery:
        # `from None` below: the original error, chained, would print the callback id whole.
        try:
            call(CallbackId=CallbackId, **kwargs)
        except ClientError as e:
            answer = ErrorAnswer.of(e.response)
            if _is_closed(answer):
                return Delivery.ALREADY_CLOSED
            if _worth_retrying(answer):
                raise CallbackNotDelivered(_redacted(str(answer), CallbackId)) from None
            raise CallbackRejected(_redacted(str(answer), CallbackId)) from None
        except BotoCoreError as e:  # connection refused, timeouts: the message names the URL
            raise CallbackNotDelivered(_redacted(f"{type(e).__name__}: {e}", CallbackId)) from None
        return Delivery.SENT
