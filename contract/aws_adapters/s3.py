"""Reading the worker's result object from S3, for the relay and the orchestrator's reconcile step."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from aws_adapters.errors import ErrorAnswer, transient_as_unavailable
from ecs_contract.completion import ResultAccessDenied, StoredResult

# S3 GetObject: "NoSuchKey" (404) with a body; "404" where the answer has none (HeadObject).
_MISSING_CODES = frozenset({"NoSuchKey", "404"})


@dataclass
class ResultGateway:
    """The `ecs_contract.completion.ResultReader` both functions read the result object with."""

    s3_client: Any

    def read(self, uri: str, max_bytes: int) -> StoredResult:
        """The object at `uri`; StoredResult() if there is none.

        Raises ResultAccessDenied on a 403, AwsUnavailable on throttling (SlowDown), a 5xx or the
        network, and any other refusal as botocore raised it.
        """
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            with transient_as_unavailable("GetObject"):
                obj = self.s3_client.get_object(Bucket=bucket, Key=key)
        except ClientError as e:
            answer = ErrorAnswer.of(e.response)
            if answer.code in _MISSING_CODES:
                return StoredResult()
            if answer.status == 403:
                raise ResultAccessDenied(uri, answer.code) from None
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
