"""Reading the worker's result object from S3, for the relay and the orchestrator's reconcile step.

Standard library only, like the rest of the contract: the boto3 client is handed in, and its errors
are caught through `client.exceptions.ClientError` (botocore's ClientError) and read by code and
HTTP status. The worker never imports this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ecs_contract.aws_errors import ErrorAnswer
from ecs_contract.completion import ResultAccessDenied, StoredResult

# S3 GetObject: "NoSuchKey" (404) with a body; "404" where the answer has none (HeadObject).
_MISSING_CODES = frozenset({"NoSuchKey", "404"})


@dataclass
class ResultGateway:
    s3_client: Any

    def read(self, uri: str, max_bytes: int) -> StoredResult:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            obj = self.s3_client.get_object(Bucket=bucket, Key=key)
        except self.s3_client.exceptions.ClientError as e:
            answer = ErrorAnswer.of(e.response)
            if answer.code in _MISSING_CODES:
                return StoredResult()
            if answer.status == 403:
                raise ResultAccessDenied(uri, answer.code) from None
            raise  # throttling (SlowDown), 5xx: the caller's retries ask again
        size = int(obj.get("ContentLength", 0))
        if size > max_bytes:
            obj["Body"].close()
            return StoredResult(size=size)
        raw = obj["Body"].read()
        try:
            return StoredResult(body=json.loads(raw), size=size)
        except ValueError:
            return StoredResult(size=size, is_json=False)
