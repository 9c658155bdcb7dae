"""The official local runner (``dex-local-runner``), with execution ARNs shaped as Lambda shapes them.

The runner names an execution ``<uuid>/<uuid>``, "opaque local identifiers, not real AWS ARNs"
(its ``Execution.new``). Lambda's are ``arn:aws:lambda:REGION:ACCOUNT:function:NAME:QUALIFIER/
durable-execution/EXECUTION_NAME/ID`` (botocore's Lambda model, DurableExecutionArn; the ARN the
IAM durable actions authorize on). Code that derives anything from an execution ARN (the tasks' startedBy, IAM
resources, the cancellation rule) must meet the real shape here too, so this module starts the
runner's own CLI with only that factory replaced. Run as ``python -m local.dex_runner ...`` with the
runner's arguments; AWS_REGION names the region.
"""

from __future__ import annotations

import os
import sys
import uuid

from aws_durable_execution_sdk_python_testing.cli import main
from aws_durable_execution_sdk_python_testing.execution import Execution
from aws_durable_execution_sdk_python_testing.model import StartDurableExecutionInput


def execution_arn(region: str, start: StartDurableExecutionInput) -> str:
    function = f"arn:aws:lambda:{region}:{start.account_id}:function:{start.function_name}"
    execution_id = start.invocation_id or str(uuid.uuid4())
    return f"{function}:{start.function_qualifier}/durable-execution/{start.execution_name}/{execution_id}"


def _new(input: StartDurableExecutionInput) -> Execution:
    arn = execution_arn(os.environ.get("AWS_REGION", "us-east-1"), input)
    return Execution(durable_execution_arn=arn, start_input=input, operations=[])


if __name__ == "__main__":
    Execution.new = staticmethod(_new)  # type: ignore[method-assign]
    sys.exit(main())
