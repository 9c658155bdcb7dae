"""An orchestrator under the SDK's in-process durable runner, with ECS and S3 served by moto.

The relay's callback gateway is swapped for one that completes callbacks on the runner, so a test
drives the real chain: handler -> RunTask (moto) -> STOPPED event -> relay -> callback -> resume.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_durable_execution_sdk_python.lambda_service import ErrorObject
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID as ACCOUNT
from moto.ecs.models import ecs_backends

from completion_relay.config import RelayConfig
from completion_relay.gateways import Delivery, TaskGateway
from completion_relay.relay import Gateways, RelayResult, relay_event
from ecs_contract.demo_job import JOB_CHOICE_ENV, JobChoice
from ecs_contract.names import TASK_STATE_CHANGE
from ecs_contract.s3_results import ResultGateway
from orchestrator import workflow
from orchestrator.handler import handler
from testkit.moto_world import BUCKET, moto_worker_cluster
from testkit.poll import poll

REGION = "us-east-1"


@dataclass
class RunnerCallbacks:
    """CallbackGateway stand-in: completes callbacks on the in-process durable runner."""

    runner: DurableFunctionTestRunner
    sent: list[tuple[str, str]] = field(default_factory=list)

    def succeed(self, callback_id: str, result: bytes) -> Delivery:
        self.sent.append(("success", callback_id))
        self.runner.send_callback_success(callback_id, result)
        return Delivery.SENT

    def fail(self, callback_id: str, error: dict[str, str]) -> Delivery:
        self.sent.append(("failure", callback_id))
        self.runner.send_callback_failure(
            callback_id,
            ErrorObject(
                message=error["ErrorMessage"],
                type=error["ErrorType"],
                data=error["ErrorData"],
                stack_trace=None,
            ),
        )
        return Delivery.SENT


@dataclass
class World:
    runner: DurableFunctionTestRunner
    ecs: Any
    s3: Any
    cluster_arn: str
    run_task_calls: list[dict[str, Any]]
    callbacks: RunnerCallbacks

    def start(self, payload: Any) -> str:
        return self.runner.run_async(input=json.dumps(payload), execution_timeout=60)

    def started_task(self, number: int = 1) -> dict[str, Any]:
        """The `number`th task RunTask started (in order), once it exists."""

        def listed() -> list[str] | None:
            arns = self.ecs.list_tasks(cluster=self.cluster_arn)["taskArns"]
            return arns if len(arns) >= number else None

        arn = poll(listed, what=f"RunTask #{number}")[number - 1]  # moto lists in creation order
        return self.ecs.describe_tasks(cluster=self.cluster_arn, tasks=[arn])["tasks"][0]

    def worker_env(self, task: dict[str, Any]) -> dict[str, str]:
        env = task["overrides"]["containerOverrides"][0]["environment"]
        return {pair["name"]: pair["value"] for pair in env}

    def finish_without_event(
        self, task: dict[str, Any], *, exit_code: int, reason: str | None = None, result: Any = None
    ) -> None:
        """Play the worker and ECS, but lose the STOPPED event: the task is STOPPED in moto only."""
        if result is not None:
            self._store_result(task, result)
        cluster = self.cluster_arn.rsplit("/", 1)[1]
        # moto's Task and Container declare no stop_code / reason; its serializer reads them when set.
        stored: Any = ecs_backends[ACCOUNT][REGION].tasks[cluster][task["taskArn"]]
        stored.last_status = stored.desired_status = "STOPPED"
        stored.stop_code = "EssentialContainerExited"
        stored.stopped_reason = "Essential container in task exited"
        for container in stored.containers:
            container.exitCode = exit_code
            container.last_status = "STOPPED"
            if reason:
                container.reason = reason

    def _store_result(self, task: dict[str, Any], result: Any) -> None:
        uri = self.worker_env(task)["RESULT_S3_URI"]
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(result).encode())

    def stop(
        self,
        task: dict[str, Any],
        *,
        exit_code: int | None,
        stop_code: str = "EssentialContainerExited",
        reason: str | None = None,
        result: Any = None,
    ) -> RelayResult:
        """Play the worker and ECS: store the result, then deliver the STOPPED event to the relay."""
        if result is not None:
            self._store_result(task, result)
        detail = json.loads(json.dumps(task, default=str))
        detail.update(
            lastStatus="STOPPED",
            desiredStatus="STOPPED",
            stopCode=stop_code,
            stoppedReason="Essential container in task exited",
        )
        container: dict[str, Any] = {"name": "worker", "lastStatus": "STOPPED"}
        if exit_code is not None:
            container["exitCode"] = exit_code
        if reason:
            container["reason"] = reason
        detail["containers"] = [container]
        event = {
            "source": TASK_STATE_CHANGE.source,
            "detail-type": TASK_STATE_CHANGE.detail_type,
            "id": "evt-1",
            "detail": detail,
        }
        gateways = Gateways(self.callbacks, TaskGateway(self.ecs), ResultGateway(self.s3))  # type: ignore[arg-type]
        return relay_event(event, RelayConfig(cluster_arn=self.cluster_arn, results_bucket=BUCKET), gateways)


@pytest.fixture
def task_timeout() -> int:
    return 30


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, task_timeout: int) -> Iterator[World]:
    with mock_aws():
        ecs, s3 = boto3.client("ecs"), boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        cluster = moto_worker_cluster("workers")
        cluster_arn = cluster.arn
        monkeypatch.setenv("CLUSTER_ARN", cluster_arn)
        monkeypatch.setenv("TASK_DEFINITION", "worker")
        monkeypatch.setenv(JOB_CHOICE_ENV, JobChoice.DEMO)  # the demo job's rules, whatever the slot holds
        monkeypatch.setenv("SUBNETS", cluster.subnet)
        monkeypatch.setenv("SECURITY_GROUPS", cluster.security_group)
        monkeypatch.setenv("RESULTS_BUCKET", BUCKET)
        monkeypatch.setenv("TASK_TIMEOUT_SECONDS", str(task_timeout))

        workflow.ecs_client.cache_clear()
        run_task_calls: list[dict[str, Any]] = []
        workflow.ecs_client().meta.events.register(
            "provide-client-params.ecs.RunTask", lambda params, **_: run_task_calls.append(dict(params))
        )
        with DurableFunctionTestRunner(handler=handler, poll_interval=0.02) as runner:
            yield World(runner, ecs, s3, cluster_arn, run_task_calls, RunnerCallbacks(runner))
        workflow.ecs_client.cache_clear()
