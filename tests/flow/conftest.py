"""One local cloud for the flow tests, started and stopped through the CLI exactly as a user would."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from local import targets
from local.cli import start
from tests.conftest import ROOT, poll

# A callback id is base64 of {"arn": ...}: logged only shortened ("eyJh...#hash").
WHOLE_CALLBACK_ID = re.compile(r"eyJhcm4iOi[A-Za-z0-9+/=%]{40,}")
TASK_TIMEOUT = 8  # seconds: short enough for the timeout test, long enough for a loaded CI machine


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

    def control(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(self.state["control"] + path, method=method)
        with urllib.request.urlopen(request, timeout=60) as r:
            return json.loads(r.read())

    def start(self, payload: dict[str, Any]) -> str:
        return start(self.target, json.dumps(payload).encode())

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
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        records = [json.loads(m["Body"]) for m in messages]
        return [r for r in records if r.get("requestPayload", {}).get("resources") == [task_arn]]

    def task_count(self) -> int:
        return len(
            self.target.ecs.list_tasks(cluster=self.target.cluster, desiredStatus="STOPPED")["taskArns"]
        ) + len(self.target.ecs.list_tasks(cluster=self.target.cluster)["taskArns"])


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


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    state_dir = tmp_path_factory.mktemp("local-cloud")
    up = cli(state_dir, "up", "--parameter", f"TaskTimeoutSeconds={TASK_TIMEOUT}")
    assert up.returncode == 0, up.stdout + up.stderr
    state = json.loads((state_dir / "state.json").read_text())
    try:
        yield Cloud(state_dir, state, targets.local(state_dir))
        # After every flow test: no log or record the local cloud wrote holds a whole callback id.
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
