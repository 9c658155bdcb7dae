"""Is an AWS error answer worth asking again? Decided by error code and HTTP status, never by class.

botocore raises a modeled error as a `botocore.errorfactory.<Code>` class (e.g. ECS RunTask's
ServerException) and an unmodeled one as `botocore.exceptions.ClientError`, so the class says
nothing reliable; the `response` dict every ClientError carries does. Reading that dict keeps this
module standard library, so both functions' adapters share it through the contract layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
