"""Is an AWS error worth asking again? Decided here once, by error code and HTTP status, never by class.

botocore raises a modeled error as a `botocore.errorfactory.<Code>` class (e.g. ECS RunTask's
ServerException) that `botocore.exceptions` does not hold, and an unmodeled one as
`botocore.exceptions.ClientError`, so the class says nothing reliable; the `response` dict every
ClientError carries does (`ErrorAnswer`).

The adapters raise `AwsUnavailable` for what asking again may fix. RunTask's throttling is raised
as its subclass `AwsThrottled`: at fan-out scale it is the service working as designed (Fargate
RunTask: 100 at once, then 20 a second per account and Region; local/ecs_rules.py cites the pages),
never a reason to give up, while a 5xx or a network error that persists is an outage worth
reporting. The orchestrator's step retry strategy (`apart_when_throttled`) retries AwsThrottled
with jittered backoff for as long as it lasts, other AwsUnavailable a few times, and nothing else;
past its retries the workflow recognizes AwsUnavailable by the type name the SDK records in the
StepError (`AWS_UNAVAILABLE_TYPE`). The relay lets both raise: Lambda retries the event, then keeps
it in the dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

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


class AwsThrottled(AwsUnavailable):
    """AWS throttled the call: it will succeed once the caller slows down (a quota, not an outage)."""


# What StepError.error_type holds when a step failed with AwsUnavailable past its retries.
AWS_UNAVAILABLE_TYPE = f"{AwsUnavailable.__module__}.{AwsUnavailable.__qualname__}"
# ... and with AwsThrottled, which only a retry strategy with a limit lets out of a step.
AWS_THROTTLED_TYPE = f"{AwsThrottled.__module__}.{AwsThrottled.__qualname__}"


def _never(_: ErrorAnswer) -> bool:
    return False


@contextmanager
def transient_as_unavailable(
    operation: str, *, throttling_apart: bool = False, also_throttled: Callable[[ErrorAnswer], bool] = _never
) -> Iterator[None]:
    """Raise AwsUnavailable for a transient error of the AWS call inside (AwsThrottled for throttling
    if `throttling_apart`); let any other error pass.

    `also_throttled` names what a service reports as throttling under another code (RunTask).
    """
    try:
        yield
    except ClientError as e:
        answer = ErrorAnswer.of(e.response)
        throttled = answer.throttled or also_throttled(answer)
        if throttled and throttling_apart:
            raise AwsThrottled(operation, str(answer)) from e
        if throttled or answer.transient:
            raise AwsUnavailable(operation, str(answer)) from e
        raise
    except NETWORK_ERRORS as e:
        raise AwsUnavailable(operation, f"{type(e).__name__}: {e}") from e


Decision = TypeVar("Decision")


def apart_when_throttled(
    throttled: Callable[[Exception, int], Decision], other: Callable[[Exception, int], Decision]
) -> Callable[[Exception, int], Decision]:
    """A step retry strategy (the durable SDK's `(error, attempts_made) -> RetryDecision`) that asks
    `throttled` about AwsThrottled and `other` about everything else.

    The SDK counts a step's attempts whatever failed them, so `other` sees the throttled attempts
    too: a 5xx after many throttled attempts is past `other`'s limit at once, as after that many
    5xx. Written without the SDK: the relay, which shares this layer, does not load it.
    """

    def strategy(error: Exception, attempts_made: int) -> Decision:
        chosen = throttled if isinstance(error, AwsThrottled) else other
        return chosen(error, attempts_made)

    return strategy
