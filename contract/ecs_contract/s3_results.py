"""Reading the worker's result object from S3, for the relay and the orchestrator's reconcile step.

The one contract module that needs botocore (both functions ship it); the worker never imports it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ecs_contract.completion import StoredResult


@dataclass
class ResultGateway:
    s3_client: Any

    def read(self, uri: str, max_bytes: int) -> StoredResult:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            obj = self.s3_client.get_object(Bucket=bucket, Key=key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return StoredResult()
            raise
        size = int(obj.get("ContentLength", 0))
        if size > max_bytes:
            obj["Body"].close()
            return StoredResult(size=size)
        raw = obj["Body"].read()
        try:
            return StoredResult(body=json.loads(raw), size=size)
        except ValueError:
            return StoredResult(size=size, is_json=False)
