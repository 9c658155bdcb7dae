"""The container's entry point: read the job from the environment, run it, store the result.

Exit 0 after the result object is written; exit non-zero (with the reason on stderr) otherwise.
The worker knows nothing about callbacks and needs no Lambda permission: the completion relay
learns how it ended from ECS itself.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from ecs_contract.names import JOB_INPUT_ENV, RESULT_URI_ENV
from worker import job

EXIT_JOB_FAILED = 1
EXIT_BAD_ENVIRONMENT = 2


class BadEnvironment(ValueError):
    """The task was started without the input the worker needs."""


def read_job(env: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    raw, uri = env.get(JOB_INPUT_ENV), env.get(RESULT_URI_ENV)
    if raw is None or not uri:
        raise BadEnvironment(f"{JOB_INPUT_ENV} and {RESULT_URI_ENV} must both be set")
    if not uri.startswith("s3://") or "/" not in uri.removeprefix("s3://"):
        raise BadEnvironment(f"{RESULT_URI_ENV} must look like s3://bucket/key, got {uri!r}")
    try:
        payload = json.loads(raw)
    except ValueError as e:
        raise BadEnvironment(f"{JOB_INPUT_ENV} is not JSON: {e}") from e
    if not isinstance(payload, dict):
        raise BadEnvironment(f"{JOB_INPUT_ENV} must be a JSON object")
    return payload, uri


def write_result(uri: str, result: Any) -> None:
    import boto3  # imported here so a bad environment fails fast, before boto3 loads

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = json.dumps(result, separators=(",", ":")).encode()
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def progress(line: str) -> None:
    print(line, flush=True)


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    try:
        payload, uri = read_job(env)
    except BadEnvironment as e:
        print(f"worker: {e}", file=sys.stderr, flush=True)
        return EXIT_BAD_ENVIRONMENT
    try:
        result = job.run(payload, progress)
        write_result(uri, result)
    except Exception as e:  # noqa: BLE001 - any failure of the job is the task's failure
        print(f"worker: job failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return EXIT_JOB_FAILED
    progress(f"result written to {uri}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
