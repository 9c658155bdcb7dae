"""The orchestrator's trace context, handed to the worker task and named by the relay.

Two forms of one context travel in the task's environment: the X-Ray trace header
(`_X_AMZN_TRACE_ID`, what the X-Ray SDKs read in a process) and a W3C traceparent (`TRACEPARENT`,
the OpenTelemetry environment carrier's variable). The trace id is the invocation's X-Ray root when
Lambda traces it (Tracing: Active; Lambda sets `_X_AMZN_TRACE_ID` per invocation); without one it
is derived from the durable execution's ARN, so every task of an execution shares a trace id all the
same, as the SDK's OpenTelemetry plugin derives one (aws-durable-execution-sdk-python-otel 2.0.0,
deterministic_id_generator). The parent span id is derived from the execution and the attempt's
callback: stable for the attempt.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

XRAY_ENV = "_X_AMZN_TRACE_ID"
TRACEPARENT_ENV = "TRACEPARENT"
# X-Ray: Root=1-{8 hex: epoch seconds}-{24 hex};Parent={16 hex};Sampled={0|1} (X-Ray developer
# guide, "Tracing header"); other fields (Lineage, ...) are not carried.
_ROOT = re.compile(r"Root=1-([0-9a-f]{8})-([0-9a-f]{24})")
_SAMPLED = re.compile(r"Sampled=([01])")
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


@dataclass(frozen=True)
class TraceContext:
    trace_id: str  # 32 hex: the X-Ray root's two parts joined (W3C's trace-id)
    parent_id: str  # 16 hex
    sampled: bool

    @classmethod
    def of_invocation(cls, xray_header: str | None, execution_arn: str, attempt_key: str) -> TraceContext:
        """The invocation's X-Ray trace if it has one, else the execution's derived one; the parent
        span derived from `attempt_key` (one per attempt)."""
        parent = hashlib.sha256(f"{execution_arn}#{attempt_key}".encode()).hexdigest()[:16]
        root = _ROOT.search(xray_header or "")
        if root is None:
            derived = hashlib.sha256(execution_arn.encode()).hexdigest()[:32]
            return cls(derived, parent, sampled=False)
        sampled = _SAMPLED.search(xray_header or "")
        return cls(root.group(1) + root.group(2), parent, sampled=bool(sampled and sampled.group(1) == "1"))

    @classmethod
    def of_env(cls, env: Mapping[str, str]) -> TraceContext | None:
        """The context a task was given (its environment, or its overrides as the relay reads them)."""
        found = _TRACEPARENT.fullmatch(env.get(TRACEPARENT_ENV, ""))
        if found is None:
            return None
        return cls(found.group(1), found.group(2), sampled=found.group(3) == "01")

    @property
    def xray_trace_id(self) -> str:
        """1-{8 hex}-{24 hex}: how X-Ray writes the same trace id."""
        return f"1-{self.trace_id[:8]}-{self.trace_id[8:]}"

    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.parent_id}-{'01' if self.sampled else '00'}"

    def xray_header(self) -> str:
        return f"Root={self.xray_trace_id};Parent={self.parent_id};Sampled={int(self.sampled)}"

    def to_env(self) -> dict[str, str]:
        return {XRAY_ENV: self.xray_header(), TRACEPARENT_ENV: self.traceparent()}


# What the task's environment holds at its longest (the door's 8,192-character check): fixed length.
LONGEST_ENV = TraceContext("0" * 32, "0" * 16, sampled=True).to_env()
