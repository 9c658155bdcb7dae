"""The official local runner (``dex-local-runner``), with execution ARNs shaped as Lambda shapes them
and Lambda's quota on durable operations per execution enforced.

The runner names an execution ``<uuid>/<uuid>``, "opaque local identifiers, not real AWS ARNs"
(its ``Execution.new``). Lambda's are ``arn:aws:lambda:REGION:ACCOUNT:function:NAME:QUALIFIER/
durable-execution/EXECUTION_NAME/ID`` (botocore's Lambda model, DurableExecutionArn; the ARN the
IAM durable actions authorize on). Code that derives anything from an execution ARN (the tasks' startedBy, IAM
resources, the cancellation rule) must meet the real shape here too, so this module starts the
runner's own CLI with that factory replaced.

The runner also lets an execution grow without bound, where Lambda stops it at 3,000 durable
operations (``ecs_contract.limits.DURABLE_OPERATIONS_MAX``), so a fan-out that fails on AWS would
pass here. Its one checkpoint write path (``CheckpointCore.apply``, which both the HTTP server and
the in-process client go through) is wrapped by ``limit_operations``: a checkpoint whose updates
would take the execution past the limit fails the execution instead.

Run as ``python -m local.dex_runner ...`` with the runner's arguments; AWS_REGION names the region,
LOCAL_MAX_DURABLE_OPERATIONS (default AWS's 3,000) the limit.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime

from aws_durable_execution_sdk_python.lambda_service import (
    ErrorObject,
    OperationAction,
    OperationType,
    OperationUpdate,
)
from aws_durable_execution_sdk_python_testing.checkpoint.core import CheckpointCore, CheckpointResult
from aws_durable_execution_sdk_python_testing.checkpoint.effects import Failed
from aws_durable_execution_sdk_python_testing.checkpoint.transformer import CheckpointRequestDispatcher
from aws_durable_execution_sdk_python_testing.checkpoint.validators.checkpoint import CheckpointValidator
from aws_durable_execution_sdk_python_testing.cli import main
from aws_durable_execution_sdk_python_testing.execution import Execution
from aws_durable_execution_sdk_python_testing.model import StartDurableExecutionInput

from ecs_contract.limits import DURABLE_OPERATIONS_MAX
from local.durable import MAX_OPERATIONS_ENV

# What an execution that would exceed the quota fails with. AWS does not publish the error it
# returns: the SDK says only that a checkpoint response may omit its token when "the execution
# failed because a quota limit was exceeded" (aws_durable_execution_sdk_python/state.py,
# checkpoint batching), so the execution FAILS, as here, but this type and message are ours.
QUOTA_ERROR_TYPE = "DurableOperationsQuotaExceeded"
QUOTAS_PAGE = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"

Apply = Callable[
    [Execution, str, list[OperationUpdate], str | None, CheckpointRequestDispatcher, datetime],
    CheckpointResult,
]


def execution_arn(region: str, start: StartDurableExecutionInput) -> str:
    function = f"arn:aws:lambda:{region}:{start.account_id}:function:{start.function_name}"
    execution_id = start.invocation_id or str(uuid.uuid4())
    return f"{function}:{start.function_qualifier}/durable-execution/{start.execution_name}/{execution_id}"


def new_execution(input: StartDurableExecutionInput) -> Execution:
    arn = execution_arn(os.environ.get("AWS_REGION", "us-east-1"), input)
    return Execution(durable_execution_arn=arn, start_input=input, operations=[])


# -- durable operations per execution ------------------------------------------------------------
def _is_retry(update: OperationUpdate) -> bool:
    return update.operation_type is OperationType.STEP and update.action is OperationAction.RETRY


def metered_operations(execution: Execution) -> int:
    """The durable operations an execution has used, as Lambda meters them: one per operation id
    (its own EXECUTION operation is its start; steps, waits, callbacks, child contexts, chained
    invokes one each), plus one per step retry (each RETRY it checkpointed). Invocation-level
    retries are the runner's own and never reach a checkpoint: not counted."""
    return len(execution.operations) + sum(1 for update in execution.updates if _is_retry(update))


def metered_after(execution: Execution, updates: list[OperationUpdate]) -> int:
    """What the execution would have used once these updates are applied: each new operation id
    and each step RETRY adds one; a start, completion or failure of a known operation adds none."""
    known = {operation.operation_id for operation in execution.operations}
    new_ids = {update.operation_id for update in updates} - known
    return metered_operations(execution) + len(new_ids) + sum(1 for u in updates if _is_retry(u))


def quota_error(limit: int, would_use: int) -> ErrorObject:
    local = (
        ""
        if limit == DURABLE_OPERATIONS_MAX
        else f" (this local cloud's limit; AWS's is {DURABLE_OPERATIONS_MAX:,})"
    )
    return ErrorObject(
        message=(
            f"Durable operations quota exceeded: this checkpoint would bring the execution to "
            f"{would_use:,} durable operations, over the limit of {limit:,} per durable execution"
            f"{local}, which cannot be increased. Each step and each of its retries, wait, callback "
            "and child context (a map item's, unless FLAT) counts one. Split the work across child "
            "executions (e.g. one chained invoke or one execution per batch of items) or run it in "
            f"smaller batches. See the Lambda quotas, 'Durable functions': {QUOTAS_PAGE}"
        ),
        type=QUOTA_ERROR_TYPE,
        data=None,
        stack_trace=None,
    )


def limit_operations(apply: Apply, limit: int) -> Apply:
    """``CheckpointCore.apply`` that refuses a checkpoint taking the execution past ``limit``
    durable operations: none of its updates are applied, the execution FAILS with `quota_error`,
    and the response carries no checkpoint token (what the SDK expects of a quota failure, see
    QUOTA_ERROR_TYPE: the invocation reports PENDING and the runner ignores it, the execution being
    complete). A checkpoint that adds nothing (completions, the execution's own result) always passes."""

    def limited(
        execution: Execution,
        checkpoint_token: str,
        updates: list[OperationUpdate],
        client_token: str | None,
        dispatcher: CheckpointRequestDispatcher,
        now: datetime,
    ) -> CheckpointResult:
        # A malformed batch is refused as the runner refuses it (InvalidParameterValueException),
        # whatever its size: validation first, as apply does it, then the quota.
        CheckpointValidator.validate_input(updates, execution)
        would_use = metered_after(execution, updates)
        if would_use > limit:
            failed = Failed(execution.durable_execution_arn, quota_error(limit, would_use))
            return CheckpointResult(checkpoint_token=None, operations=[], effects=[failed])
        return apply(execution, checkpoint_token, updates, client_token, dispatcher, now)

    return limited


def operation_limit(environ: Mapping[str, str]) -> int:
    """The limit the local cloud set (`up --max-durable-operations`), else AWS's."""
    value = environ.get(MAX_OPERATIONS_ENV)
    return DURABLE_OPERATIONS_MAX if not value else int(value)


if __name__ == "__main__":
    Execution.new = staticmethod(new_execution)  # type: ignore[method-assign]
    limited = limit_operations(CheckpointCore.apply, operation_limit(os.environ))
    CheckpointCore.apply = staticmethod(limited)  # type: ignore[assignment]
    sys.exit(main())
