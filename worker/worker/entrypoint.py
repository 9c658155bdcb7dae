"""The container's entry point: read the job from the environment, run it, store the result.

The job that runs is the job slot (``job.py``), unless the environment chooses the seeds' demo job
(``JOB_CHOICE=demo``: the local cloud does, so that replacing the slot cannot break the demo).

Exit 0 after the result object is written; exit non-zero (with the reason on stderr) otherwise.
The worker knows nothing about callbacks and needs no Lambda permission: the completion relay
learns how it ended from ECS itself.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from ecs_contract.demo_job import JOB_CHOICE_ENV, JobChoice
from ecs_contract.names import JOB_INPUT_ENV, RESULT_URI_ENV
from ecs_contract.trace import TraceContext

# A job: the input object and a function for progress lines in, a JSON-serialisable result out.
Job = Callable[[dict[str, Any], Callable[[str], None]], Any]

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


def job_choice(env: Mapping[str, str]) -> JobChoice:
    try:
        return JobChoice.parse(env.get(JOB_CHOICE_ENV))
    except ValueError as e:
        raise BadEnvironment(str(e)) from e


def load_job(choice: JobChoice) -> Job:
    """The slot's `run`, or the demo job's when the environment chooses it.

    Imported only once chosen: the demo never imports the slot, so a slot whose job needs packages
    this machine lacks cannot break the local cloud's demo (and a slot that cannot be imported fails
    the task like any failure of the job)."""
    if choice is JobChoice.DEMO:
        from worker import demo_job

        return demo_job.run
    from worker import job

    return job.run


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
        choice = job_choice(env)
    except BadEnvironment as e:
        print(f"worker: {e}", file=sys.stderr, flush=True)
        return EXIT_BAD_ENVIRONMENT
    trace = TraceContext.of_env(env)
    if trace is not None:  # the orchestrator's trace: search the worker's log for it
        print(f"worker: trace_id={trace.xray_trace_id} traceparent={trace.traceparent()}", flush=True)
    try:
        result = load_job(choice)(payload, progress)
        write_result(uri, result)
    except Exception as e:  # noqa: BLE001 - any failure of the job is the task's failure
        print(f"worker: job failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return EXIT_JOB_FAILED
    progress(f"result written to {uri}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
