"""Lambda's quota on durable operations per execution (3,000), met on the local cloud: a cloud of its
own started with `up --max-durable-operations 10` runs the sample Pipeline, which fits with one part
and fails in its fan-out with four, as a fan-out past 3,000 operations fails on AWS
(local/dex_runner.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local.dex_runner import QUOTA_ERROR_TYPE
from testkit.local_cloud import PARAMETERS, Cloud, cli, execution_name, running_cloud
from testkit.poll import poll

pytestmark = pytest.mark.flow

# The Pipeline's operations: its start 1, "prepare" 2 (its start-task step, its callback), the
# parts' map 1, each part 2 (its step and callback; run_tasks' items run FLAT, no child context of
# their own), "combine" 2: 6 + 2 per part.
LIMIT = 10  # one part uses 8; four parts pass it in the fan-out (10 after three parts)


@pytest.fixture(scope="module")
def small_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    state_dir = tmp_path_factory.mktemp("quota-cloud")
    with running_cloud(state_dir, PARAMETERS, "--max-durable-operations", str(LIMIT)) as running:
        yield running


def pipeline(cloud: Cloud, parts: int, label: str) -> str:
    payload = cloud.state_dir / f"{label}.json"
    payload.write_text(json.dumps({"message": label, "parts": [f"p{i}" for i in range(parts)]}))
    done = cli(
        cloud.state_dir, "invoke", "--function", "Pipeline", "--name", execution_name(label), str(payload)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


def operations(cloud: Cloud, arn: str) -> set[str]:
    """The operation ids in the history (an InvocationCompleted event has none: not an operation)."""
    return {event["Id"] for event in cloud.history(arn) if "Id" in event}


def test_a_pipeline_within_the_limit_succeeds_and_one_past_it_fails_with_the_quota_error(
    small_cloud: Cloud,
) -> None:
    cloud = small_cloud
    fits, too_many = pipeline(cloud, 1, "one-part"), pipeline(cloud, 4, "four-parts")

    fitted: dict[str, Any] = cloud.wait(fits, timeout=90)
    failed: dict[str, Any] = cloud.wait(too_many, timeout=90)

    assert fitted["Status"] == "SUCCEEDED", fitted.get("Error")
    assert len(operations(cloud, fits)) == 8
    assert [e for e in cloud.history(fits) if "combine" in str(e.get("Name"))]
    assert failed["Status"] == "FAILED", failed.get("Result")
    assert failed["Error"]["ErrorType"] == QUOTA_ERROR_TYPE
    message = failed["Error"]["ErrorMessage"]
    assert (
        f"over the limit of {LIMIT} per durable execution (this local cloud's limit; AWS's is 3,000)"
        in message
    )
    assert "child executions" in message and "gettingstarted-limits.html" in message
    # The checkpoint that would pass the limit was refused whole: the history stops at the limit,
    # inside the fan-out (combine never started)
    history = cloud.history(too_many)
    assert len({e["Id"] for e in history if "Id" in e}) <= LIMIT
    assert not [e for e in history if "combine" in str(e.get("Name"))], history
    # ...and no task of the failed execution is left running (the relay stops an ended one's tasks)
    poll(
        lambda: all(t["lastStatus"] == "STOPPED" for t in cloud.tasks_of(too_many)) or None,
        30,
        what="every task of the failed pipeline stopped",
        interval=0.2,
    )
