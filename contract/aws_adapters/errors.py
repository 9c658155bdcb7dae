"""Is an AWS error worth asking again? Decided here once, by error code and HTTP status, never by class.

botocore raises a modeled error as a `botocore.errorfactory.<Code>` class (e.g. ECS RunTask's
ServerException) that `botocore.exceptions` does not hold, and an unmodeled one as
`botocore.exceptions.ClientError`, so the class says nothing reliable; the `response` dict every
ClientError carries does (`ErrorAnswer`).

The adapters raise `AwsUnavailable` for what asking again may fix. The orchestrator's step retry
strategy retries that type and nothing else; past its retries the workflow recognizes it by the type
name the SDK records in the StepError (`AWS_UNAVAILABLE_TYPE`). The relay lets it raise: Lambda
retries the event, then keeps it in the dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

# botocore/retries/standard.py, ThrottlingErrorDetector._THROTTLED_ERROR_CODES (botocore 1.44).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
# botocore/retries/standard.py, TransientRetryableChecker._TRANSIENT_ERROR_CODES.
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})
# The network errors botocore's own standard retry mode treats as transient
# (botocore/retries/standard.py, TransientRetryableChecker: ConnectionError, HTTPClientError).
NETWORK_ERRORS: tuple[type[Exception], ...] = (BotocoreConnectionError, HTTPClientError)


@dataclass(frozen=True)
class ErrorAnswer:
    """What AWS answered: botocore's ClientError.response, typed."""

    code: str
    status: int | None
    message: str

    @classmethod
    def of(cls, response: Mapping[str, Any]) -> ErrorAnswer:
        error = response.get("Error") or {}
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return cls(
            code=str(error.get("Code", "")),
            status=status if isinstance(status, int) else None,
            message=str(error.get("Message", "")),
        )

    @property
    def throttled(self) -> bool:
        return self.code in THROTTLING_CODES or self.status == 429

    @property
    def server_fault(self) -> bool:
        return self.status is not None and self.status >= 500

    @property
    def transient(self) -> bool:
        """Throttling, a 5xx or a request timeout: the same request may well succeed later."""
        return self.throttled or self.server_fault or self.code in TRANSIENT_CODES

    def __str__(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no HTTP status"
        return f"{self.code or 'no error code'} ({status}): {self.message}"


class AwsUnavailable(Exception):
    """An AWS call failed in a way that asking again may fix: throttling, a 5xx, the network."""

    def __init__(self, operation: str, detail: str) -> None:
        super().__init__(f"{operation}: {detail}")
        self.operation = operation


# What StepError.error_type holds when a step failed with AwsUnavailable past its retries.
AWS_UNAVAILABLE_TYPE = f"{AwsUnavailable.__module__}.{AwsUnavailable.__qualname__}"


def _never(_: ErrorAnswer) -> bool:
    return False


@contextmanager
def transient_as_unavailable(
    operation: str, also_transient: Callable[[ErrorAnswer], bool] = _never
) -> Iterator[None]:
    """Raise AwsUnavailable for a transient error of the AWS call inside; let any other error pass.

    `also_transient` names what a service reports as transient under another code (RunTask).
    """
    try:
        yield
    except ClientError as e:
        answer = ErrorAnswer.of(e.response)
        if answer.transient or also_transient(answer):
            raise AwsUnavailable(operation, str(answer)) from e
        raise
    except NETWORK_ERRORS as e:
        raise AwsUnavailable(operation, f"{type(e).__name__}: {e}") from e
