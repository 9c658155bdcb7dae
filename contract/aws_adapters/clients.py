"""A boto3 client built on its first call, not when the gateways holding it are built."""

from __future__ import annotations

import threading
from typing import Any

import boto3


class ClientOnFirstUse:
    """Stands for `boto3.client(service_name)` and builds it on its first call.

    For the orchestrator, whose invocations mostly replay: a resume in a new execution environment
    runs no step, so it should build no client (one costs ~0.05-0.2 s of a cold start; measured:
    BENCHMARKS.md, measurement 3). Built once per execution environment, then reused.
    """

    def __init__(self, service_name: str) -> None:
        self._service_name = service_name
        self._client: Any = None
        self._lock = threading.Lock()

    def built(self) -> Any:
        """The boto3 client, built now if it was not yet."""
        with self._lock:
            if self._client is None:
                self._client = boto3.client(self._service_name)
            return self._client

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not ours to proxy (and never a recursion before __init__ ran)
            raise AttributeError(name)
        return getattr(self.built(), name)
