"""The local cloud's task agent and moto's ECS, in one process as the local cloud runs them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecs_contract.decide import decide
from ecs_contract.names import TASK_STATE_CHANGE
from ecs_contract.outcome import ErrorType, TaskFailed
from ecs_contract.task import parse_task
from testkit.local_ecs import LocalEcs, local_ecs
from testkit.poll import poll


@pytest.fixture
def ecs(tmp_path: Path) -> Iterator[LocalEcs]:
    with local_ecs(tmp_path) as world:
        yield world


def stopped_events(published: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["resources"][0]: e["detail"] for e in published if e["detail"]["lastStatus"] == "STOPPED"}


def test_a_task_stopped_before_its_worker_started_still_ends_in_a_stopped_event(ecs: LocalEcs) -> None:
    published: list[dict[str, Any]] = []
    agent = ecs.agent(publish=published.append)
    agent.install_stop_hook()  # the agent's loop is not started: this task is never launched
    client = ecs.client("ecs")
    task_arn = client.run_task(**ecs.run_task_request())["tasks"][0]["taskArn"]
    stopped = client.stop_task(cluster=ecs.cluster, task=task_arn, reason="stopped by the test")["task"]
    assert stopped["lastStatus"] == "STOPPED"
    (event,) = poll(lambda: published, what="the STOPPED event")
    assert TASK_STATE_CHANGE.of(event) and event["resources"] == [task_arn]
    detail = event["detail"]
    assert (detail["lastStatus"], detail["stopCode"]) == ("STOPPED", "UserInitiated")
    assert "exitCode" not in detail["containers"][0]
    outcome = decide(parse_task(detail))
    assert isinstance(outcome, TaskFailed) and outcome.error_type is ErrorType.TASK_STOPPED


class LogsRefusingOneStream:
    """CloudWatch Logs that cannot create the log stream of one task (the awslogs driver's first call)."""

    def __init__(self, logs: Any, task_id: str) -> None:
        self.logs, self.task_id = logs, task_id

    def create_log_stream(self, **kwargs: Any) -> Any:
        if kwargs["logStreamName"].endswith(self.task_id):
            error = {"Error": {"Code": "ServiceUnavailableException", "Message": "injected by the test"}}
            raise ClientError(error, "CreateLogStream")
        return self.logs.create_log_stream(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.logs, name)


def test_one_failed_launch_does_not_lose_the_rest_of_its_batch(ecs: LocalEcs) -> None:
    # Given three tasks started by one RunTask, and a log stream that cannot be created for the first
    client = ecs.client("ecs")
    arns = [t["taskArn"] for t in client.run_task(**ecs.run_task_request(count=3))["tasks"]]
    failing = arns[0]
    logs = LogsRefusingOneStream(ecs.client("logs"), failing.rsplit("/", 1)[1])
    published: list[dict[str, Any]] = []
    agent = ecs.agent(
        publish=published.append, clients=lambda s: logs if s == "logs" else ecs.client(s), poll_interval=0.02
    )
    # When the agent finds the three in one scan
    agent.start()
    try:
        poll(lambda: len(stopped_events(published)) == 3, timeout=30, what="3 STOPPED events")
        stopped = stopped_events(published)
    finally:
        agent.stop()
    # Then the other two ran their worker to the end
    for arn in arns[1:]:
        assert stopped[arn]["stopCode"] == "EssentialContainerExited"
        assert stopped[arn]["containers"][0]["exitCode"] == 2  # no job input: the worker says so and exits 2
    # And the one that could not start stopped as ECS stops it, with no worker left behind
    failed = stopped[failing]
    assert failed["stopCode"] == "TaskFailedToStart"
    assert failed["stoppedReason"].startswith("ResourceInitializationError: ")
    assert "exitCode" not in failed["containers"][0]
    journal = [json.loads(line) for line in (ecs.state_dir / "tasks.jsonl").read_text().splitlines()]
    assert not [r for r in journal if r["taskArn"] == failing and r["lastStatus"] == "RUNNING"]
    assert agent.pids() == {}
    outcome = decide(parse_task(failed))
    assert isinstance(outcome, TaskFailed) and outcome.error_type is ErrorType.TASK_FAILED_TO_START


class EcsFailingOnceOnStopped:
    """ECS whose DescribeTasks fails once (a 5xx) when the task it describes has STOPPED."""

    def __init__(self, ecs: Any) -> None:
        self.ecs, self.failed = ecs, threading.Event()

    def describe_tasks(self, **kwargs: Any) -> Any:
        answer = self.ecs.describe_tasks(**kwargs)
        stopped = any(t["lastStatus"] == "STOPPED" for t in answer["tasks"])
        if stopped and not self.failed.is_set():
            self.failed.set()
            error = {"Error": {"Code": "ServerException", "Message": "injected by the test"}}
            raise ClientError(error, "DescribeTasks")
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ecs, name)


def test_a_describe_tasks_error_in_a_watcher_does_not_lose_the_stopped_event(ecs: LocalEcs) -> None:
    # Given an ECS whose DescribeTasks fails the first time the agent describes the stopped task
    failing_once = EcsFailingOnceOnStopped(ecs.client("ecs"))
    published: list[dict[str, Any]] = []
    agent = ecs.agent(
        publish=published.append,
        clients=lambda s: failing_once if s == "ecs" else ecs.client(s),
        poll_interval=0.02,
    )
    arn = ecs.client("ecs").run_task(**ecs.run_task_request())["tasks"][0]["taskArn"]
    # When its worker exits
    agent.start()
    try:
        stopped = poll(lambda: stopped_events(published), timeout=30, what="the STOPPED event")
    finally:
        agent.stop()
    # Then the event is published all the same, once
    assert failing_once.failed.is_set()
    assert list(stopped) == [arn]
    assert stopped[arn]["containers"][0]["exitCode"] == 2
    assert [e["detail"]["lastStatus"] for e in published] == ["RUNNING", "STOPPED"]
