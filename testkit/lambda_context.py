"""The parts of Lambda's context object the handlers read (Powertools' logger and metrics)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeLambdaContext:
    function_name: str = "completion-relay"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:111122223333:function:completion-relay"
    aws_request_id: str = "req-1"
