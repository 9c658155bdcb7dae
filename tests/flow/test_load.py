"""Load: many orchestrations started at once on the local cloud all complete correctly, and the
relay sent exactly one completion per task. LOAD_ORCHESTRATIONS sets the size (default 200, what CI
runs); bench/ measures throughput, this test only correctness under load."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from completion_relay.relay import RelayAction
from ecs_contract.documents import ExecutionResult
from testkit.local_cloud import Cloud, running_cloud
from testkit.poll import poll

pytestmark = [pytest.mark.flow, pytest.mark.slow]

SIZE = int(os.environ.get("LOAD_ORCHESTRATIONS", "200"))


@pytest.fixture(scope="module")
def big_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A cloud of its own: 200 worker processes on 2 cores take minutes, so the task timeout is
    long (the timeout paths have their own tests), and no other test's records mix in."""
    with running_cloud(tmp_path_factory.mktemp("load-cloud"), {"TaskTimeoutSeconds": 1800}) as running:
        yield running


def test_many_orchestrations_at_once_all_complete_with_one_completion_per_task(big_cloud: Cloud) -> None:
    cloud = big_cloud
    run = uuid.uuid4().hex[:6]
    payloads: list[dict[str, Any]] = [
        {"message": f"load-{run}-{i}", "processingTime": 1} for i in range(SIZE)
    ]
    with ThreadPoolExecutor(max_workers=16) as pool:
        arns = list(pool.map(lambda p: cloud.start(p), payloads))
    assert len(set(arns)) == SIZE

    pending = set(arns)
    executions = {}

    def all_done() -> bool:
        for arn in list(pending):
            execution = cloud.execution(arn)
            if execution["Status"] != "RUNNING":
                executions[arn] = execution
                pending.discard(arn)
        return not pending

    started = time.monotonic()
    poll(all_done, timeout=60 + SIZE * 1.5, what=f"{SIZE} executions to end", interval=0.5)
    print(f"{SIZE} orchestrations completed in {time.monotonic() - started:.1f} s after the last start")

    outcomes = Counter(
        e["Status"] + " " + (e.get("Error") or {}).get("ErrorType", "") for e in executions.values()
    )
    assert outcomes == {"SUCCEEDED ": SIZE}
    results = [ExecutionResult.from_dict(json.loads(executions[arn]["Result"])) for arn in arns]
    processed = [r.completion.result["processedMessage"] for r in results]
    assert processed == [p["message"].upper() for p in payloads]
    assert {r.attempts for r in results} == {1}
    task_arns = [r.completion.task_arn for r in results if r.completion.task_arn]
    assert len(set(task_arns)) == SIZE  # one task per orchestration, none shared or doubled
    completions = Counter(a for t in task_arns for a in cloud.relay_actions(t))
    assert completions == {RelayAction.SUCCEEDED: SIZE}  # callbacks sent == tasks run
