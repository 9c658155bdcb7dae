"""Every IAM statement the functions and the worker run with is needed: without it, the flow that
uses it fails with AccessDenied, in the execution's error or in the log of whoever was refused.

One local cloud for the file: each test drops one statement (the control API's /iam/drop, what
`python -m local up --drop-statement HOLDER/SID` does at start), runs the flow, restores it. The
statements come from the running cloud (GET /iam), so one added to template.yaml without a flow
here fails test_every_statement_of_the_functions_and_the_worker_has_a_flow.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from ecs_contract.names import RESULT_URI_ENV, TASK_STATE_CHANGE
from local import targets
from testkit.local_cloud import Cloud, cli, execution_name, running_cloud
from testkit.poll import poll

pytestmark = pytest.mark.flow

TASK_TIMEOUT = 5  # seconds: the reconcile flows wait for the callback to time out; jobs are shorter
PARAMETERS = {"TaskTimeoutSeconds": TASK_TIMEOUT, "RetryDelaySeconds": 1, "RetryMaxDelaySeconds": 2}
HOLDERS = ("Orchestrator", "CompletionRelay", "WorkerTaskRole")
# Statements no local flow can show: nothing local calls X-Ray, and a function's own log lines go
# to the platform (Lambda ships stdout to CloudWatch Logs), not through the Logs API.
NOT_EXERCISED = {
    "Orchestrator/AWSXrayWriteOnlyAccess": "no X-Ray daemon or API locally",
    "CompletionRelay/AWSXrayWriteOnlyAccess": "no X-Ray daemon or API locally",
    "CompletionRelay/AWSLambdaBasicExecutionRole": "function logs are written by the platform",
}
# Statements whose flow needs a cloud of its own, so it runs in another file's cloud (same drop and
# restore): the hung task's log needs a liveness timeout well under the task timeout used here.
FLOWS_ELSEWHERE = {
    "Orchestrator/ReadWorkerLogTail": "tests/flow/test_liveness.py::test_without_read_worker_log_tail_",
}
Drop = Callable[[], None]


@pytest.fixture(scope="module")
def iam_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with running_cloud(tmp_path_factory.mktemp("iam-cloud"), PARAMETERS) as running:
        yield running


def job(label: str, seconds: int = 1) -> dict[str, Any]:
    return {"message": f"iam-{label}-{uuid.uuid4().hex[:8]}", "processingTime": seconds}


def refused(text: str, action: str) -> bool:
    return "AccessDenied" in text and action in text


def events_about(cloud: Cloud, **match: str) -> list[dict[str, Any]]:
    """The event bus's delivery records (events.jsonl) with these fields."""
    lines = (cloud.state_dir / "events.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def the_task(cloud: Cloud, arn: str, status: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        tasks = [t for t in cloud.tasks_of(arn) if t["lastStatus"] == status]
        return tasks[0] if tasks else None

    return poll(found, 30, what=f"the task of {arn} to be {status}", interval=0.1)


def failed_with(cloud: Cloud, arn: str, action: str, timeout: float = 30) -> dict[str, Any]:
    execution = cloud.wait(arn, timeout=timeout)
    assert execution["Status"] == "FAILED", execution
    assert refused(execution["Error"]["ErrorMessage"], action), execution["Error"]
    return execution


def relay_refused(cloud: Cloud, action: str, **match: str) -> None:
    def errors() -> list[str]:
        records = events_about(cloud, outcome="function-error", **match)
        return [r["error"] for r in records if refused(r["error"], action)]

    poll(errors, 30, what=f"the relay to be refused {action}", interval=0.1)


def result_key(task: dict[str, Any]) -> str:
    (override,) = task["overrides"]["containerOverrides"]
    uri = next(e["value"] for e in override["environment"] if e["name"] == RESULT_URI_ENV)
    return str(uri.removeprefix("s3://").partition("/")[2])


# ------------------------------------------------------------------ the orchestrator


def checkpoints(cloud: Cloud, drop: Drop) -> None:
    drop()
    failed_with(cloud, cloud.start(job("checkpoint")), "lambda:CheckpointDurableExecution")


def runs_the_task(cloud: Cloud, drop: Drop) -> None:
    drop()
    execution = failed_with(cloud, cloud.start(job("run-task")), "ecs:RunTask")
    assert execution["Error"]["ErrorType"].endswith("TaskStartRejected")


def tags_the_task(cloud: Cloud, drop: Drop) -> None:
    drop()
    execution = failed_with(cloud, cloud.start(job("tag")), "ecs:TagResource")
    assert execution["Error"]["ErrorType"].endswith("TaskStartRejected")


def passes_the_roles(cloud: Cloud, drop: Drop) -> None:
    drop()
    execution = failed_with(cloud, cloud.start(job("pass-role")), "iam:PassRole")
    assert execution["Error"]["ErrorType"].endswith("TaskStartRejected")


def reconciles(action: str, result_missing: bool = False) -> Callable[[Cloud, Drop], None]:
    """The task's STOPPED event is lost: after the callback timeout the orchestrator asks ECS and
    reads the result itself (and gets 403, not 404, for a missing result without ListBucket)."""

    def flow(cloud: Cloud, drop: Drop) -> None:
        drop()
        payload, name = job("reconcile"), execution_name("reconcile")
        cloud.arm("drop-stopped", name)
        arn = cloud.start(payload, name)
        task = the_task(cloud, arn, "STOPPED")
        if result_missing:  # e.g. expired by the bucket's lifecycle rule
            bucket = cloud.state["outputs"]["ResultsBucketName"]
            cloud_s3(cloud).delete_object(Bucket=bucket, Key=result_key(task))
        # The step's retries (4 attempts, 2 s doubling) come after the callback timeout.
        failed_with(cloud, arn, action, timeout=TASK_TIMEOUT + 60)

    return flow


def cloud_s3(cloud: Cloud) -> Any:
    """S3 as the admin (the operator, or the bucket's lifecycle rule)."""
    return boto3.client("s3", endpoint_url=cloud.state["moto"], region_name=cloud.state["region"])


# ------------------------------------------------------------------ the relay


def completes_callbacks(cloud: Cloud, drop: Drop) -> None:
    drop()
    arn = cloud.start(job("callback"))
    task = the_task(cloud, arn, "STOPPED")
    relay_refused(cloud, "lambda:SendDurableExecutionCallbackSuccess", taskArn=task["taskArn"])


def reads_results(cloud: Cloud, drop: Drop) -> None:
    drop()
    arn = cloud.start(job("read"))
    task = the_task(cloud, arn, "STOPPED")
    relay_refused(cloud, "s3:GetObject", taskArn=task["taskArn"])


def lists_results(cloud: Cloud, drop: Drop) -> None:
    """A STOPPED event delivered again (EventBridge delivers at least once) after the result is
    gone: without ListBucket the relay's read is 403 AccessDenied instead of "no result"."""
    arn = cloud.start(job("list"))
    assert cloud.wait(arn)["Status"] == "SUCCEEDED"
    task = the_task(cloud, arn, "STOPPED")
    cloud_s3(cloud).delete_object(Bucket=cloud.state["outputs"]["ResultsBucketName"], Key=result_key(task))
    drop()
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": TASK_STATE_CHANGE.detail_type,
        "source": TASK_STATE_CHANGE.source,
        "account": task["taskArn"].split(":")[4],
        "time": datetime.now().astimezone().isoformat(),
        "region": cloud.state["region"],
        "resources": [task["taskArn"]],
        "detail": json.loads(json.dumps(task, default=lambda d: d.isoformat())),
    }
    answer = cloud.target.lambda_client.invoke(FunctionName="CompletionRelay", Payload=json.dumps(event))
    error = answer["Payload"].read().decode()
    assert answer.get("FunctionError") and refused(error, "GetObject"), error


def stops_tasks(action: str) -> Callable[[Cloud, Drop], None]:
    """The user stops the execution: the relay lists and stops the task it left running."""

    def flow(cloud: Cloud, drop: Drop) -> None:
        drop()
        arn = cloud.start(job("cancel", seconds=3))
        the_task(cloud, arn, "RUNNING")
        cloud.target.lambda_client.stop_durable_execution(DurableExecutionArn=arn)
        relay_refused(cloud, action, executionArn=arn)

    return flow


def dead_letters(cloud: Cloud, drop: Drop) -> None:
    """Lambda sends the relay's failed event to its on-failure destination with the relay's role."""
    drop()
    payload, name = job("destination"), execution_name("destination")
    cloud.arm("relay-error", name, count=3)  # the invocation and both retries fail
    arn = cloud.start(payload, name)
    task = the_task(cloud, arn, "STOPPED")

    def lost() -> list[dict[str, Any]]:
        records = events_about(cloud, taskArn=task["taskArn"], outcome="destination-failed")
        return [r for r in records if refused(r["error"], "sqs:SendMessage")]

    poll(lost, 30, what="the dead letter to be refused", interval=0.1)


# ------------------------------------------------------------------ the worker


def writes_the_result(cloud: Cloud, drop: Drop) -> None:
    drop()
    arn = cloud.start(job("write"))
    execution = failed_with_worker(cloud, arn)
    task = the_task(cloud, arn, "STOPPED")
    logs = cloud.target.logs.get_log_events(
        logGroupName=cloud.target.worker_logs.group,
        logStreamName=cloud.target.worker_logs.stream(task["taskArn"]),
    )
    lines = [e["message"] for e in logs["events"]]
    assert any(refused(line, "s3:PutObject") for line in lines), lines
    assert "exited with code 1" in execution["Error"]["ErrorMessage"]


def failed_with_worker(cloud: Cloud, arn: str) -> dict[str, Any]:
    execution = cloud.wait(arn)
    assert execution["Status"] == "FAILED" and execution["Error"]["ErrorType"].endswith("WorkerFailed")
    return execution


FLOWS: dict[str, Callable[[Cloud, Drop], None]] = {
    "Orchestrator/AWSLambdaBasicDurableExecutionRolePolicy": checkpoints,
    "Orchestrator/RunWorkerTasks": runs_the_task,
    "Orchestrator/PassWorkerRoles": passes_the_roles,
    "Orchestrator/TagWorkerTasks": tags_the_task,
    "WorkerTaskRole/write-result": writes_the_result,
    "CompletionRelay/CompleteTaskCallbacks": completes_callbacks,
    "CompletionRelay/ReadWorkerResults": reads_results,
    "CompletionRelay/ListWorkerResults": lists_results,
    "CompletionRelay/DescribeAndStopWorkerTasks": stops_tasks("ecs:StopTask"),
    "CompletionRelay/ListTasksOfAnEndedExecution": stops_tasks("ecs:ListTasks"),
    "CompletionRelay/CompletionRelayEventInvokeConfigOnFailureSQSPolicy": dead_letters,
    "Orchestrator/WatchAndStopWorkerTasks": reconciles("ecs:DescribeTasks"),
    "Orchestrator/ReadWorkerResults": reconciles("s3:GetObject"),
    "Orchestrator/ListWorkerResults": reconciles("GetObject", result_missing=True),
}


def test_every_statement_of_the_functions_and_the_worker_has_a_flow(iam_cloud: Cloud) -> None:
    statements = iam_cloud.control("/iam")["statements"]
    ours = {s for s in statements if s.split("/", 1)[0] in HOLDERS}
    assert ours == set(FLOWS) | set(NOT_EXERCISED) | set(FLOWS_ELSEWHERE)


@pytest.mark.parametrize("statement", list(FLOWS))
def test_without_the_statement_its_flow_is_access_denied(iam_cloud: Cloud, statement: str) -> None:
    def drop() -> None:
        assert iam_cloud.control("/iam/drop", "POST", {"statements": [statement]}) == {"dropped": [statement]}

    try:
        FLOWS[statement](iam_cloud, drop)
    finally:
        iam_cloud.control("/iam/restore", "POST", {})


def test_with_every_statement_restored_a_job_succeeds(iam_cloud: Cloud) -> None:
    arn = iam_cloud.start(job("all"))
    assert iam_cloud.wait(arn)["Status"] == "SUCCEEDED"
    assert iam_cloud.control("/iam")["dropped"] == []


def test_up_can_leave_a_statement_out_and_refuses_one_that_does_not_exist(tmp_path: Path) -> None:
    bad = cli(tmp_path / "bad", "up", "--drop-statement", "Orchestrator/RunWorkerTask")
    assert bad.returncode == 1 and "no statement Orchestrator/RunWorkerTask;" in bad.stderr
    assert "Orchestrator/RunWorkerTasks" in bad.stderr  # it names the ones there are
    up = cli(tmp_path / "good", "up", "--drop-statement", "Orchestrator/RunWorkerTasks")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        state = json.loads((tmp_path / "good" / "state.json").read_text())
        cloud = Cloud(tmp_path / "good", state, targets.local(tmp_path / "good"))
        assert cloud.control("/iam")["dropped"] == ["Orchestrator/RunWorkerTasks"]
        failed_with(cloud, cloud.start(job("up")), "ecs:RunTask")
    finally:
        assert cli(tmp_path / "good", "down").returncode == 0
