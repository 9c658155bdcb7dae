"""The one AWS error the orchestrator's steps ask again about, decided inside the adapters.

A step's retry strategy retries `AwsUnavailable` and nothing else; past its retries the workflow
recognizes it by the type name the SDK records in the StepError (module.qualname of the exception).
Which AWS answers become one is decided by error code and HTTP status (ecs_contract.aws_errors),
never by the class botocore raised: a modeled error is a `botocore.errorfactory.<Code>` class
(e.g. RunTask's ServerException) that `botocore.exceptions` does not hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from ecs_contract.aws_errors import ErrorAnswer


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
    Network errors are the classes botocore's own standard retry mode treats as transient
    (botocore/retries/standard.py, TransientRetryableChecker: ConnectionError, HTTPClientError).
    """
    try:
        yield
    except ClientError as e:
        answer = ErrorAnswer.of(e.response)
        if answer.transient or also_transient(answer):
            raise AwsUnavailable(operation, str(answer)) from e
        raise
    except (BotocoreConnectionError, HTTPClientError) as e:
        raise AwsUnavailable(operation, f"{type(e).__name__}: {e}") from e
