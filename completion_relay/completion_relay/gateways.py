"""The relay's boto3 adapters: the callback API and ECS (the results bucket: ecs_contract.s3_results)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from ecs_contract.names import redact


class CallbackNotDelivered(RuntimeError):
    """The callback API could not be reached; retried by EventBridge / async invoke like any error.

    Raised instead of botocore's error, whose message holds the request URL and so the whole
    callback id, a bearer token that must not reach a log, a dead letter or a traceback."""


class Delivery(Enum):
    SENT = "sent"
    ALREADY_CLOSED = "already-closed"  # a duplicate event, or the callback timed out first


# The service answers a completion of a closed callback with CallbackTimeoutException (docs);
# the local durable runner answers 404 with no code. Neither is worth a retry.
_CLOSED_CODES = frozenset({"CallbackTimeoutException", "ResourceNotFoundException"})


def _is_closed(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in _CLOSED_CODES or status == 404


@dataclass
class CallbackGateway:
    lambda_client: Any

    def succeed(self, callback_id: str, result: bytes) -> Delivery:
        return self._send(
            self.lambda_client.send_durable_execution_callback_success,
            CallbackId=callback_id,
            Result=result,
        )

    def fail(self, callback_id: str, error: dict[str, str]) -> Delivery:
        return self._send(
            self.lambda_client.send_durable_execution_callback_failure,
            CallbackId=callback_id,
            Error=error,
        )

    @staticmethod
    def _send(call: Any, CallbackId: str, **kwargs: Any) -> Delivery:
        try:
            call(CallbackId=CallbackId, **kwargs)
        except ClientError as e:
            if _is_closed(e):
                return Delivery.ALREADY_CLOSED
            raise  # throttling, 5xx, anything unexpected: let EventBridge / async invoke retry
        except BotoCoreError as e:  # connection refused, timeouts: the message names the URL
            message = str(e)
            for form in (CallbackId, quote(CallbackId, safe=""), quote(CallbackId)):
                message = message.replace(form, redact(CallbackId))
            raise CallbackNotDelivered(f"{type(e).__name__}: {message}") from None
        return Delivery.SENT


@dataclass
class TaskGateway:
    ecs_client: Any

    def describe(self, cluster_arn: str, task_arn: str) -> dict[str, Any] | None:
        answer = self.ecs_client.describe_tasks(cluster=cluster_arn, tasks=[task_arn])
        tasks = answer.get("tasks") or []
        return tasks[0] if tasks else None

    def running(self, cluster_arn: str, started_by: str) -> list[str]:
        """ARNs of the tasks with exactly this startedBy that ECS has not stopped yet.

        startedBy must be the only filter (botocore ECS model, ListTasksRequest.startedBy); desired
        status RUNNING is ListTasks' default."""
        pages = self.ecs_client.get_paginator("list_tasks").paginate(
            cluster=cluster_arn, startedBy=started_by
        )
        return [arn for page in pages for arn in page.get("taskArns", [])]

    def stop(self, cluster_arn: str, task_arn: str, reason: str) -> bool:
        """StopTask; False if ECS no longer knows the task."""
        try:
            self.ecs_client.stop_task(cluster=cluster_arn, task=task_arn, reason=reason[:255])
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("InvalidParameterException", "ClientException"):
                return False
            raise
        return True
