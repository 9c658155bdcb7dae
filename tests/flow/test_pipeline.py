"""The library from a second durable function, end to end on the local cloud: the sample Pipeline
started by the CLI (`invoke --function Pipeline`), its tasks run by real worker processes and
completed by the stack's one relay, which also stops the tasks of a pipeline that is stopped."""

from __future__ import annotations

import json

import pytest

from ecs_contract.documents import ExecutionResult, Operation
from testkit.local_cloud import Cloud, cli, execution_name, kinds
from testkit.paths import EVENTS, load_event
from testkit.poll import poll

pytestmark = pytest.mark.flow


def invoke_pipeline(cloud: Cloud, payload_file: str, name: str) -> str:
    done = cli(cloud.state_dir, "invoke", "--function", "Pipeline", "--name", name, payload_file)
    assert done.returncode == 0, done.stdout + done.stderr
    arn = done.stdout.strip().splitlines()[-1]
    assert ":function:Pipeline:" in arn, arn  # the Pipeline's alias, not the orchestrator's
    return arn


def test_the_cli_runs_the_pipeline_prepare_then_each_part_then_combine(cloud: Cloud) -> None:
    payload = load_event("invoke/pipeline")
    arn = invoke_pipeline(cloud, str(EVENTS / "invoke" / "pipeline.json"), execution_name("pipeline"))

    execution = cloud.wait(arn, timeout=120)
    assert execution["Status"] == "SUCCEEDED", execution
    body = json.loads(execution["Result"])
    prepared = ExecutionResult.from_dict(body["prepare"]).completion.result
    assert prepared["processedMessage"] == payload["message"].upper()  # computed by a worker process
    parts = [ExecutionResult.from_dict(p).completion.result["processedMessage"] for p in body["parts"]]
    assert parts == [f"{payload['message']} {part}".upper() for part in payload["parts"]]  # input order
    combined = ExecutionResult.from_dict(body["combine"]).completion.result["processedMessage"]
    assert combined == " + ".join(parts)

    # The history names each task's operations by the task: a workflow of several tasks reads well
    succeeded = [k for k in kinds(cloud.history(arn)) if k.startswith(("CallbackSucceeded", "StepSucceeded"))]
    for task in ["prepare", *[f"part {i}" for i in range(len(payload["parts"]))], "combine"]:
        assert f"StepSucceeded {Operation.START_TASK.named(1, task)}" in succeeded
        assert f"CallbackSucceeded {Operation.TASK_COMPLETION.named(1, task)}" in succeeded
    # prepare ends before any part starts; combine starts after every part ended
    at = {k: n for n, k in enumerate(succeeded)}
    parts_done = [
        at[f"CallbackSucceeded {Operation.TASK_COMPLETION.named(1, f'part {i}')}"]
        for i in range(len(payload["parts"]))
    ]
    assert at[f"CallbackSucceeded {Operation.TASK_COMPLETION.named(1, 'prepare')}"] < min(
        at[f"StepSucceeded {Operation.START_TASK.named(1, f'part {i}')}"]
        for i in range(len(payload["parts"]))
    )
    assert max(parts_done) < at[f"StepSucceeded {Operation.START_TASK.named(1, 'combine')}"]
    # One task per name, every one stopped, all under the execution's startedBy
    tasks = cloud.tasks_of(arn)
    assert len(tasks) == 2 + len(payload["parts"])
    assert {t["lastStatus"] for t in tasks} == {"STOPPED"}


def test_stopping_a_fan_out_of_four_running_at_once_stops_all_four(cloud: Cloud, tmp_path) -> None:
    # Four parts run at once (the Pipeline's run_tasks: max_concurrency 10), each for 6 s: all
    # running when the execution is stopped ("prepare" takes as long: under the flow's 8 s timeout).
    slow = tmp_path / "four-parts.json"
    slow.write_text(
        json.dumps(
            {"message": "slow", "parts": ["a", "b", "c", "d"], "processingTime": 6, "toleratedFailures": 1}
        )
    )
    arn = invoke_pipeline(cloud, str(slow), execution_name("fan-out-stop"))

    def fanned_out() -> list[dict[str, str]] | None:
        running = [t for t in cloud.tasks_of(arn) if t["lastStatus"] != "STOPPED"]
        return running if len(running) == 4 else None

    poll(fanned_out, 120, what="the four parts' tasks running", interval=0.2)
    stopped = cli(cloud.state_dir, "stop", arn)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr

    def all_stopped() -> list[dict[str, str]] | None:
        tasks = cloud.tasks_of(arn)
        return tasks if tasks and all(t["lastStatus"] == "STOPPED" for t in tasks) else None

    tasks = poll(all_stopped, 60, what="every task of the stopped fan-out to stop", interval=0.2)
    assert len(tasks) == 5  # prepare (done) and the four parts; combine never started
    parts = [t for t in tasks if t.get("stopCode") == "UserInitiated"]
    assert len(parts) == 4, [(t["taskArn"], t.get("stopCode"), t.get("stoppedReason")) for t in tasks]
    assert all("durable execution STOPPED" in t["stoppedReason"] for t in parts)
