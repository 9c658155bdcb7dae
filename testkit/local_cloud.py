"""The flow tests' local cloud, started and stopped through the CLI exactly as a user would, and the
readers of what it did (executions, histories, tasks, deliveries, logs)."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from completion_relay.relay import RelayAction
from ecs_contract.documents import Operation, StartTaskResult
from ecs_contract.names import started_by
from local import targets
from local.cli import start
from testkit.paths import ROOT
from testkit.poll import poll
from testkit.template import parameter_default

# A callback id is base64 of {"arn": ...}: logged only shortened ("eyJh...#hash").
WHOLE_CALLBACK_ID = re.compile(r"eyJhcm4iOi[A-Za-z0-9+/=%]{40,}")
TASK_TIMEOUT = 8  # seconds: short enough for the timeout test, long enough for a loaded CI machine
PARAMETERS = {
    "TaskTimeoutSeconds": TASK_TIMEOUT,
    "RetryDelaySeconds": 1,  # a retried attempt starts a second or two later, not 30 s
    "RetryMaxDelaySeconds": 2,
}


def cli(state_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local", "--state-dir", str(state_dir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Cloud:
    state_dir: Path
    state: dict[str, Any]
    target: targets.Target

    def control(self, path: str, method: str = "GET", body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.state["control"] + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=60) as r:
            return json.loads(r.read())

    def arm(self, kind: str, execution: str, count: int = 1) -> None:
        """Arm a fault for the tasks of the execution started with this name (local/faults.py)."""
        self.control("/faults", "POST", {"kind": kind, "execution": execution, "count": count})

    def tasks_of(self, arn: str) -> list[dict[str, Any]]:
        """Every task the execution started: its running ones found by startedBy (as the relay finds
        them), its stopped ones among the cluster's stopped tasks. ECS refuses startedBy with any
        other filter, desiredStatus included (botocore ECS model, ListTasksRequest.startedBy)."""
        ecs, cluster, marker = (
            self.target.ecs,
            self.target.cluster,
            started_by(parameter_default("StartedByMarker"), arn),
        )
        pages = ecs.get_paginator("list_tasks")
        arns = [a for page in pages.paginate(cluster=cluster, startedBy=marker) for a in page["taskArns"]]
        arns += [
            a for page in pages.paginate(cluster=cluster, desiredStatus="STOPPED") for a in page["taskArns"]
        ]
        tasks = [
            t
            for i in range(0, len(arns), 100)  # DescribeTasksRequest.tasks: "up to 100"
            for t in ecs.describe_tasks(cluster=cluster, tasks=arns[i : i + 100])["tasks"]
        ]
        return [t for t in tasks if t.get("startedBy") == marker]

    def deliveries(self, task_arn: str) -> list[dict[str, Any]]:
        """The EventBridge stand-in's record of the task's STOPPED event (events.jsonl)."""
        lines = (self.state_dir / "events.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines]
        return [r for r in records if r.get("taskArn") == task_arn and r.get("lastStatus") == "STOPPED"]

    def relay_actions(self, task_arn: str, heartbeats: bool = False) -> list[RelayAction]:
        """What the relay did with this task's events: the `action` field of its log records. Its
        heartbeats (the worker log subscription's invocations, one per batch of progress lines) only
        when asked: their number depends on the worker's timing."""
        log = self.state_dir / "logs" / "CompletionRelay.log"
        records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        return sorted(
            RelayAction(r["action"])
            for r in records
            if "action" in r
            and task_arn in str(r.get("task_arn", ""))
            and (heartbeats or r["action"] != RelayAction.HEARTBEAT)
        )

    def relay_trace_ids(self, task_arn: str) -> list[str]:
        """The trace ids the relay's log lines name for the task."""
        log = self.state_dir / "logs" / "CompletionRelay.log"
        records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        return [
            str(r["trace_id"]) for r in records if "trace_id" in r and task_arn in str(r.get("task_arn", ""))
        ]

    def start(self, payload: dict[str, Any], name: str | None = None) -> str:
        return start(self.target, json.dumps(payload).encode(), name)

    def execution(self, arn: str) -> dict[str, Any]:
        return dict(self.target.lambda_client.get_durable_execution(DurableExecutionArn=arn))

    def wait(self, arn: str, timeout: float = 60) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            e = self.execution(arn)
            return e if e["Status"] != "RUNNING" else None

        return poll(done, timeout, what=f"execution {arn} to end", interval=0.1)

    def history(self, arn: str) -> list[dict[str, Any]]:
        page = self.target.lambda_client.get_durable_execution_history(
            DurableExecutionArn=arn, IncludeExecutionData=True
        )
        return list(page["Events"])

    def worker_pid(self, timeout: float = 30) -> tuple[str, int]:
        """The one running task's ARN and its worker's pid."""
        tasks = poll(lambda: self.control("/tasks"), timeout, what="a running worker")
        assert len(tasks) == 1, tasks
        ((arn, pid),) = tasks.items()
        return arn, pid

    def task(self, arn: str) -> dict[str, Any]:
        return dict(self.target.ecs.describe_tasks(cluster=self.target.cluster, tasks=[arn])["tasks"][0])

    def dead_letters(self, task_arn: str) -> list[dict[str, Any]]:
        """Dead-letter records (Lambda's on-failure destination format) about one task."""
        sqs = boto3.client("sqs", endpoint_url=self.state["moto"], region_name=self.state["region"])
        url = self.state["outputs"]["DeadLetterQueueUrl"]
        peek = {"MaxNumberOfMessages": 10, "VisibilityTimeout": 0}  # look without hiding them
        messages = sqs.receive_message(QueueUrl=url, **peek).get("Messages", [])
        records = [json.loads(m["Body"]) for m in messages]
        return [r for r in records if r.get("requestPayload", {}).get("resources") == [task_arn]]

    def task_count(self) -> int:
        return len(
            self.target.ecs.list_tasks(cluster=self.target.cluster, desiredStatus="STOPPED")["taskArns"]
        ) + len(self.target.ecs.list_tasks(cluster=self.target.cluster)["taskArns"])


def execution_name(label: str) -> str:
    """A durable execution name of its own, so a fault armed for it hits nothing else."""
    return f"{label}-{uuid.uuid4().hex[:8]}"


def kinds(history: list[dict[str, Any]]) -> list[str]:
    """The history as "EventType name" strings, bookkeeping (invocations, step starts) left out."""
    skip = {"InvocationCompleted", "StepStarted"}
    return [
        e["EventType"] if e["EventType"].startswith("Execution") else f"{e['EventType']} {e.get('Name')}"
        for e in history
        if e["EventType"] not in skip
    ]


def entry(event_type: str, operation: Operation, attempt: int = 1) -> str:
    """One entry of `kinds`: "StepSucceeded start-task #1"."""
    return f"{event_type} {operation.named(attempt)}"


def step_result(history: list[dict[str, Any]], name: str) -> Any:
    (event,) = [e for e in history if e["EventType"] == "StepSucceeded" and e.get("Name") == name]
    return json.loads(event["StepSucceededDetails"]["Result"]["Payload"])


def started_task(history: list[dict[str, Any]], attempt: int = 1) -> str:
    """The ARN of the task the attempt's start-task step started."""
    start = StartTaskResult.from_dict(step_result(history, Operation.START_TASK.named(attempt)))
    assert isinstance(start.outcome, str), start
    return start.outcome


def error_type(execution: dict[str, Any]) -> str:
    return str(execution["Error"]["ErrorType"]).rsplit(".", 1)[-1]


def group_members(pgid: int) -> list[str]:
    """Live (not zombie) processes of a process group, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(stat.parent.name)
    return members


@contextlib.contextmanager
def running_cloud(state_dir: Path, parameters: dict[str, Any], *options: str) -> Iterator[Cloud]:
    """A local cloud started and stopped with the CLI (`up`, its template parameters and other
    options, e.g. "--max-durable-operations", "12"); on the way out, checks what it left behind."""
    settings = [arg for k, v in parameters.items() for arg in ("--parameter", f"{k}={v}")]
    up = cli(state_dir, "up", *settings, *options)
    assert up.returncode == 0, up.stdout + up.stderr
    state = json.loads((state_dir / "state.json").read_text())
    try:
        yield Cloud(state_dir, state, targets.local(state_dir))
        # After the tests: no log or record the local cloud wrote holds a whole callback id.
        leaks = [
            f"{path.relative_to(state_dir)}: {match[:24]}..."
            for path in state_dir.rglob("*")
            if path.is_file() and path.suffix in (".log", ".jsonl")
            for match in WHOLE_CALLBACK_ID.findall(path.read_text(errors="replace"))
        ]
        assert leaks == [], leaks
    finally:
        down = cli(state_dir, "down")
        assert down.returncode == 0, down.stdout + down.stderr
        # Everything the cloud started (runtimes, durable runner, workers) is in its process group.
        assert group_members(state["pid"]) == [], "the local cloud left processes behind"
        assert not (state_dir / "state.json").exists()
