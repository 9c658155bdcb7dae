"""A boto3 client built on its first call, not when the gateways holding it are built."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

# ECS's RunTask is throttled per account and Region (a token bucket: ECS API reference, "Request
# throttling"; Fargate's own 20 a second). botocore's adaptive mode keeps its standard retries (3
# attempts) and adds a client-side token bucket that slows every caller of the client after a
# ThrottlingException: the branches of a fan-out share one client per execution environment, so
# they start tasks at the rate ECS grants instead of each asking and failing in turn (each failed
# step attempt is a durable operation, and an execution has 3,000).
ECS_CLIENT_CONFIG = Config(retries={"mode": "adaptive", "total_max_attempts": 3})


class ClientOnFirstUse:
    """Stands for `boto3.client(service_name)` and builds it on its first call.

    For the orchestrator, whose invocations mostly replay: a resume in a new execution environment
    runs no step, so it should build no client (one costs ~0.05-0.2 s of a cold start; measured:
    BENCHMARKS.md, measurement 3). Built once per execution environment, then reused.
    """

    def __init__(self, service_name: str, config: Config | None = None) -> None:
        self._service_name = service_name
        self._config = config
        self._client: Any = None
        self._lock = threading.Lock()

    def built(self) -> Any:
        """The boto3 client, built now if it was not yet."""
        with self._lock:
            if self._client is None:
                self._client = boto3.client(self._service_name, config=self._config)
            return self._client

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not ours to proxy (and never a recursion before __init__ ran)
            raise AttributeError(name)
        return getattr(self.built(), name)
