"""The orchestrator under the SDK's in-process durable runner, ECS and S3 in moto, the real relay.

One harness for the component tests and the in-process benchmarks (bench/ops.py). The orchestrator
gets gateways on clients of its own (a test may put a Stubber on them and still look at moto through
`ecs`/`s3`); the relay's callback gateway completes callbacks on the runner, so a run goes through
the real chain: handler -> RunTask (moto) -> STOPPED event -> relay -> callback -> resume.
Everything here runs inside `moto.mock_aws()`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

import boto3
from aws_durable_execution_sdk_python.lambda_service import ErrorObject
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID as ACCOUNT
from moto.ecs.models import ecs_backends

from aws_adapters.ecs import EcsGateway
from aws_adapters.s3 import ResultGateway
from completion_relay.gateways import Delivery
from completion_relay.relay import Gateways as RelayGateways
from completion_relay.relay import RelayResult, relay_event
from durable_ecs import Gateways
from ecs_contract.demo_job import JOB_CHOICE_ENV, JobChoice
from ecs_contract.names import RESULT_URI_ENV, TASK_STATE_CHANGE, WORKER_CONTAINER_NAME
from local.ecs_rules import EcsRules
from orchestrator.handler import build_handler
from testkit.moto_world import BUCKET, moto_worker_cluster, worker_cluster
from testkit.poll import poll
from testkit.template import relay_config, template_environment

# What the template's EventBridge rule delivers for a task that stopped (events/ecs/*.json).
ESSENTIAL_CONTAINER_EXITED = "EssentialContainerExited"
STOPPED_REASON = "Essential container in task exited"


@dataclass
class RunnerCallbacks:
    """The relay's CallbackGateway, completing callbacks on the in-process durable runner."""

    runner: DurableFunctionTestRunner
    sent: list[tuple[str, str]] = field(default_factory=list)  # ("success" | "failure", callback id)

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
class MotoEcsRelay:
    """moto's ECS and S3 with the worker cluster, the orchestrator's gateways, and the relay."""

    ecs: Any  # for the test and the relay: a Stubber on the orchestrator's clients leaves it alone
    s3: Any
    cluster_arn: str
    subnet: str
    security_group: str
    bucket: str
    orchestrator_ecs: Any
    orchestrator_s3: Any
    run_task_calls: list[dict[str, Any]]  # RunTask's parameters, as the orchestrator sent them

    @classmethod
    def create(
        cls, bucket: str, cluster_name: str = "workers", *, ecs_rules: bool | EcsRules = True
    ) -> MotoEcsRelay:
        """Inside mock_aws: the results bucket and the worker cluster, behind the local cloud's ECS
        rules (these, if given, e.g. a tiny RunTask rate) unless `ecs_rules` is False (bench/ops.py:
        its polling baseline's clientToken is the same for every execution of the in-process runner,
        which the rules answer as ECS would)."""
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=bucket)
        if ecs_rules:
            cluster = moto_worker_cluster(
                cluster_name, ecs_rules if isinstance(ecs_rules, EcsRules) else None
            )
        else:
            cluster = worker_cluster(boto3.client("ecs"), boto3.client("ec2"), cluster_name)
        orchestrator_ecs = boto3.client("ecs")
        run_task_calls: list[dict[str, Any]] = []
        orchestrator_ecs.meta.events.register(
            "provide-client-params.ecs.RunTask", lambda params, **_: run_task_calls.append(dict(params))
        )
        return cls(
            ecs=boto3.client("ecs"),
            s3=s3,
            cluster_arn=cluster.arn,
            subnet=cluster.subnet,
            security_group=cluster.security_group,
            bucket=bucket,
            orchestrator_ecs=orchestrator_ecs,
            orchestrator_s3=boto3.client("s3"),
            run_task_calls=run_task_calls,
        )

    def environment(self, task_timeout_seconds: int) -> dict[str, str]:
        """The orchestrator's environment, as the template sets it, for this cluster and bucket (the
        tests keep their own Powertools settings)."""
        template = template_environment("Orchestrator")
        return {
            **{k: v for k, v in template.items() if not k.startswith("POWERTOOLS_")},
            "CLUSTER_ARN": self.cluster_arn,
            "TASK_DEFINITION": "worker",
            JOB_CHOICE_ENV: JobChoice.DEMO,  # the demo job's input rules, whatever the slot holds
            "SUBNETS": self.subnet,
            "SECURITY_GROUPS": self.security_group,
            "RESULTS_BUCKET": self.bucket,
            "TASK_TIMEOUT_SECONDS": str(task_timeout_seconds),
        }

    def gateways(self) -> Gateways:
        """The durable function's gateways to this world's ECS and S3 (its own clients)."""
        return Gateways(EcsGateway(self.orchestrator_ecs), ResultGateway(self.orchestrator_s3))

    def orchestrator_handler(self) -> Callable[[Any, Any], Any]:
        gateways = self.gateways()
        return build_handler(lambda: gateways)

    def task_arns(self) -> list[str]:
        """Every task of the cluster, in the order RunTask started them (moto lists them so)."""
        return list(self.ecs.list_tasks(cluster=self.cluster_arn)["taskArns"])

    def describe(self, task_arns: list[str]) -> list[dict[str, Any]]:
        return list(self.ecs.describe_tasks(cluster=self.cluster_arn, tasks=task_arns)["tasks"])

    @staticmethod
    def worker_env(task: dict[str, Any]) -> dict[str, str]:
        env = task["overrides"]["containerOverrides"][0]["environment"]
        return {pair["name"]: pair["value"] for pair in env}

    def store_result(self, task: dict[str, Any], result: Any) -> None:
        """Play the worker: write its result object where the task was told to."""
        bucket, _, key = self.worker_env(task)[RESULT_URI_ENV].removeprefix("s3://").partition("/")
        self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(result).encode())

    def relay_stopped(
        self,
        task: dict[str, Any],
        callbacks: RunnerCallbacks,
        *,
        exit_code: int | None,
        stop_code: str = ESSENTIAL_CONTAINER_EXITED,
        reason: str | None = None,
        result: Any = None,
        stopped_reason: str = STOPPED_REASON,
    ) -> RelayResult:
        """Play the worker and ECS: store the result, then deliver the STOPPED event to the relay."""
        if result is not None:
            self.store_result(task, result)
        detail = json.loads(json.dumps(task, default=str))
        detail.update(
            lastStatus="STOPPED", desiredStatus="STOPPED", stopCode=stop_code, stoppedReason=stopped_reason
        )
        container: dict[str, Any] = {"name": WORKER_CONTAINER_NAME, "lastStatus": "STOPPED"}
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
        gateways = RelayGateways(callbacks, EcsGateway(self.ecs), ResultGateway(self.s3))  # type: ignore[arg-type]
        config = relay_config(cluster_arn=self.cluster_arn, results_bucket=self.bucket)
        return relay_event(event, config, gateways)

    def finish_without_event(
        self, task: dict[str, Any], *, exit_code: int, reason: str | None = None, result: Any = None
    ) -> None:
        """Play the worker and ECS, but lose the STOPPED event: the task is STOPPED in moto only."""
        if result is not None:
            self.store_result(task, result)
        cluster = self.cluster_arn.rsplit("/", 1)[1]
        region = self.ecs.meta.region_name
        stored: Any = ecs_backends[ACCOUNT][region].tasks[cluster][task["taskArn"]]  # moto's own model
        stored.last_status = stored.desired_status = "STOPPED"
        stored.stop_code = ESSENTIAL_CONTAINER_EXITED
        stored.stopped_reason = STOPPED_REASON
        for container in stored.containers:
            container.exitCode = exit_code
            container.last_status = "STOPPED"
            if reason:
                container.reason = reason


@dataclass
class World(MotoEcsRelay):
    """MotoEcsRelay with one durable runner for the orchestrator: what a component test drives."""

    runner: DurableFunctionTestRunner
    callbacks: RunnerCallbacks

    @classmethod
    def around(cls, aws: MotoEcsRelay, runner: DurableFunctionTestRunner) -> World:
        given = {f.name: getattr(aws, f.name) for f in fields(MotoEcsRelay)}
        return cls(**given, runner=runner, callbacks=RunnerCallbacks(runner))

    @classmethod
    @contextmanager
    def serving(
        cls,
        setenv: Callable[[str, str], None],
        handler_of: Callable[[MotoEcsRelay], Callable[[Any, Any], Any]],
        *,
        task_timeout: int = 30,
        ecs_rules: bool | EcsRules = True,
    ) -> Iterator[World]:
        """A world in moto whose durable function is `handler_of(aws)`, configured by `setenv`
        (a test's monkeypatch.setenv) from the template's environment."""
        with mock_aws():
            aws = MotoEcsRelay.create(BUCKET, ecs_rules=ecs_rules)
            for name, value in aws.environment(task_timeout).items():
                setenv(name, value)
            with DurableFunctionTestRunner(handler=handler_of(aws), poll_interval=0.02) as runner:
                yield cls.around(aws, runner)

    def start(self, payload: Any, execution_timeout: int = 60) -> str:
        return self.runner.run_async(input=json.dumps(payload), execution_timeout=execution_timeout)

    def started_task(self, number: int = 1) -> dict[str, Any]:
        """The `number`th task RunTask started (in order), once it exists."""

        def listed() -> list[str] | None:
            arns = self.task_arns()
            return arns if len(arns) >= number else None

        arn = poll(listed, what=f"RunTask #{number}")[number - 1]
        return self.describe([arn])[0]

    def stop(
        self,
        task: dict[str, Any],
        *,
        exit_code: int | None,
        stop_code: str = ESSENTIAL_CONTAINER_EXITED,
        reason: str | None = None,
        result: Any = None,
        stopped_reason: str = STOPPED_REASON,
    ) -> RelayResult:
        """The task stops and its STOPPED event reaches the relay, which completes the runner's callback."""
        return self.relay_stopped(
            task,
            self.callbacks,
            exit_code=exit_code,
            stop_code=stop_code,
            reason=reason,
            result=result,
            stopped_reason=stopped_reason,
        )
