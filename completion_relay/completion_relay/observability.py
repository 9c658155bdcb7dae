"""Powertools objects for the completion relay.

Named in code, so a missing POWERTOOLS_* variable can never make a metrics flush fail; the
template's POWERTOOLS_* variables still tune log level and namespace per stack.
"""

import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

SERVICE = "completion_relay"

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=os.getenv("POWERTOOLS_METRICS_NAMESPACE", "DurableEcsTasks"))

Handler = TypeVar("Handler", bound=Callable[..., Any])


def _tracing() -> bool:
    disabled = os.getenv("POWERTOOLS_TRACE_DISABLED", "false").lower() in ("1", "true", "yes", "on")
    return not disabled and bool(os.getenv("LAMBDA_TASK_ROOT")) and not os.getenv("AWS_SAM_LOCAL")


def annotate(key: str, value: str) -> None:
    """An X-Ray annotation on the handler's subsegment (searchable: annotation.KEY = "VALUE"),
    where tracing is on; elsewhere nothing (the X-Ray SDK is not imported, as in `traced`)."""
    if _tracing():
        from aws_lambda_powertools import Tracer

        Tracer(service=SERVICE).put_annotation(key=key, value=value)


def traced(handler: Handler) -> Handler:
    """An X-Ray subsegment around the handler where tracing is on: in Lambda (Tracing: Active).

    Elsewhere (tests, the local cloud, SAM local, POWERTOOLS_TRACE_DISABLED=true: Powertools' own
    rule) the X-Ray SDK is not even imported: its import builds two botocore X-Ray clients for its
    sampler, ~0.2 s of every cold start (bench/BENCHMARKS.md, measurement 3).
    """
    if not _tracing():
        return handler
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE).capture_lambda_handler(capture_response=False)(handler)
