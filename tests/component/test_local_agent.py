"""The local cloud's task agent and moto's ECS, in one process as the local cloud runs them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.moto_api import state_manager
from moto.server import ThreadedMotoServer

from ecs_contract.decide import decide
from ecs_contract.outcome import ErrorType, TaskFailed
from ecs_contract.task import parse_task
from local.agent import TaskAgent, worker_base_env
from local.seed import ACCOUNT, REGION, seed
from tests.conftest import poll


@pytest.fixture
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    state_manager.set_transition("ecs::task", {"progression": "manual", "times": sys.maxsize})
    yield f"http://{host}:{port}"
    state_manager.unset_transition("ecs::task")
    server.stop()


def test_a_task_stopped_before_its_worker_started_still_ends_in_a_stopped_event(moto_url, tmp_path):
    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_url, region_name=REGION)

    template = seed(client, "agent-test")
    cluster = template.r.names.refs["Cluster.Arn"]
    published: list[dict[str, Any]] = []
    agent = TaskAgent(
        cluster_arn=cluster,
        task_definition=template.task_definition("WorkerTaskDefinition"),
        clients=client,
        publish=published.append,
        worker_env=worker_base_env(moto_url, REGION),
        state_dir=tmp_path,
        account=ACCOUNT,
        region=REGION,
    )
    agent.install_stop_hook()  # the agent's loop is not started: this task is never launched
    ecs = client("ecs")
    orchestrator = template.functions()["Orchestrator"].environment
    task_arn = ecs.run_task(
        cluster=cluster,
        taskDefinition=orchestrator["TASK_DEFINITION"],
        launchType="FARGATE",
        startedBy="durable-ecs/0123",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": orchestrator["SUBNETS"].split(","),
                "securityGroups": [orchestrator["SECURITY_GROUPS"]],
            }
        },
    )["tasks"][0]["taskArn"]
    stopped = ecs.stop_task(cluster=cluster, task=task_arn, reason="stopped by the test")["task"]
    assert stopped["lastStatus"] == "STOPPED"
    (event,) = poll(lambda: published, what="the STOPPED event")
    assert event["detail-type"] == "ECS Task State Change" and event["resources"] == [task_arn]
    detail = event["detail"]
    assert (detail["lastStatus"], detail["stopCode"]) == ("STOPPED", "UserInitiated")
    assert "exitCode" not in detail["containers"][0]
    outcome = decide(parse_task(detail))
    assert isinstance(outcome, TaskFailed) and outcome.error_type is ErrorType.TASK_STOPPED
