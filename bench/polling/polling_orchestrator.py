"""The comparison, not the product: the seeds' polling orchestrator, as a Python durable function.

The algorithm the seeds document for their synchronous variant: start the task in a step, then
loop { durable wait POLL_SECONDS; DescribeTasks in a step } until the task is STOPPED. Every poll
is two durable operations (a wait and a step), so the count grows with the task's duration, and
the execution learns of the end up to one poll interval late.

It follows the same replay rules as ours: AWS calls only inside steps, nothing time- or
random-dependent outside them; each poll's operations are named by their index, which is
deterministic. Each DescribeTasks step checkpoints only what the loop needs (status and exit
code), the leanest fair baseline; returning the whole task would checkpoint ~2.5 KB per poll.

Hosted on the local cloud by ``bench/template-overlay.yaml`` (CodeUri ``bench/polling/``, handler
``polling_orchestrator.handler``) and in-process as ``bench.polling.polling_orchestrator``.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import boto3
from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution, durable_step
from aws_durable_execution_sdk_python.config import Duration, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from aws_durable_execution_sdk_python.serdes import JsonSerDes
from botocore.exceptions import BotoCoreError, ClientError

from ecs_contract.names import JOB_INPUT_ENV, RESULT_URI_ENV, WORKER_CONTAINER_NAME

POLL_SECONDS = 5  # the seeds' interval
CONFIG_ENV = (
    "CLUSTER_ARN",
    "TASK_DEFINITION",
    "SUBNETS",
    "SECURITY_GROUPS",
    "ASSIGN_PUBLIC_IP",
    "RESULTS_BUCKET",
)
STARTED_BY = "polling-baseline"  # not our marker: the completion relay's rule never matches it
# The same step retry policy as ours (contract/durable_ecs/task.py AWS_STEP_CONFIG), for a fair count;
# copied, because this function is deployed without the orchestrator's package.
STEP_CONFIG = StepConfig(
    serdes=JsonSerDes(),
    retry_strategy=create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=4,
            initial_delay=Duration.from_seconds(2),
            max_delay=Duration.from_seconds(30),
            retryable_error_types=[ClientError, BotoCoreError],
        )
    ),
)


class PollingTaskFailed(Exception):
    """The task stopped with a non-zero (or no) exit code."""


@cache
def ecs_client() -> Any:
    return boto3.client("ecs")


@durable_step
def start_task(step: StepContext, env: dict[str, str], job_json: str, token: str) -> dict[str, str]:
    network: dict[str, Any] = {
        "subnets": [s for s in env["SUBNETS"].split(",") if s],
        "assignPublicIp": env.get("ASSIGN_PUBLIC_IP", "ENABLED"),
    }
    if env.get("SECURITY_GROUPS"):
        network["securityGroups"] = [s for s in env["SECURITY_GROUPS"].split(",") if s]
    result_uri = f"s3://{env['RESULTS_BUCKET']}/results/polling-{token}.json"
    response = ecs_client().run_task(
        cluster=env["CLUSTER_ARN"],
        taskDefinition=env["TASK_DEFINITION"],
        launchType="FARGATE",
        count=1,
        startedBy=STARTED_BY,
        clientToken=token,
        networkConfiguration={"awsvpcConfiguration": network},
        overrides={
            "containerOverrides": [
                {
                    "name": WORKER_CONTAINER_NAME,
                    "environment": [
                        {"name": JOB_INPUT_ENV, "value": job_json},
                        {"name": RESULT_URI_ENV, "value": result_uri},
                    ],
                }
            ]
        },
    )
    return {"taskArn": response["tasks"][0]["taskArn"], "cluster": env["CLUSTER_ARN"]}


@durable_step
def describe_task(step: StepContext, cluster: str, task_arn: str) -> dict[str, Any]:
    task = ecs_client().describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
    containers = task.get("containers", [])
    worker: dict[str, Any] = next((c for c in containers if c.get("name") == WORKER_CONTAINER_NAME), {})
    return {"lastStatus": task["lastStatus"], "exitCode": worker.get("exitCode")}


@durable_execution
def handler(event: Any, context: DurableContext) -> dict[str, Any]:
    # The environment is fixed per deployment, so reading it outside a step replays identically.
    env = {k: os.environ[k] for k in CONFIG_ENV if k in os.environ}
    job_json = json.dumps(event, separators=(",", ":"), sort_keys=True)
    # The execution's own id: deterministic across replays, unique per execution (a clientToken).
    token = context.execution_context.durable_execution_arn.rsplit("/", 1)[-1][-64:]
    started = context.step(start_task(env, job_json, token), name="start-ecs-task", config=STEP_CONFIG)
    poll = 0
    while True:
        poll += 1
        context.wait(Duration.from_seconds(POLL_SECONDS), name=f"poll-wait-{poll}")
        status = context.step(
            describe_task(started["cluster"], started["taskArn"]), name=f"poll-{poll}", config=STEP_CONFIG
        )
        if status["lastStatus"] == "STOPPED":
            break
    if status["exitCode"] != 0:
        raise PollingTaskFailed(f"task failed with exit code {status['exitCode']}")
    return {"status": "SUCCEEDED", "taskArn": started["taskArn"], "exitCode": 0, "polls": poll}
