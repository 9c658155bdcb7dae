"""Measurement 7: a fan-out of N short tasks in one execution on the local cloud.

The Pipeline sample (pipeline/pipeline/handler.py) runs "prepare", then N parts through
`durable_ecs.run_tasks`, then "combine", on a fresh local cloud whose ECS applies a RunTask rate
(``up --run-task-rate``, AWS's Fargate numbers by default: 100 at once, then 20 a second). Read
from the records the local cloud keeps and from the execution's own history:
- every part's start: when its start step succeeded (ECS accepted the RunTask: the history), and
  when the task agent launched its worker process (``tasks.jsonl``, RUNNING), matched to its part
  through the start step's checkpointed result (the task ARN);
- callbacks the relay sent, tasks run (STOPPED), the execution's status and its summary;
- durable operations (distinct operation ids in the history, plus each step's retries, as Lambda
  meters them) and checkpoint bytes (every payload the history holds), against Lambda's quotas of
  3,000 operations and 100 MB an execution;
- the Pipeline's invocations, and the peak resident memory of its execution environment's
  process (a sample every 0.1 s from /proc: the process serves one invocation at a time);
- CPU seconds by process of the local cloud (as measurement 5).

The durable runner keeps its executions in memory here (``--durable-store memory``; ``python -m
bench fanout --durable-store sqlite`` measures the local cloud's default instead).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.onlocal import Cloud, _at, _cli, _relay_sent, cpu_seconds, status
from local import targets
from testkit.poll import poll

PIPELINE = "Pipeline:live"
# Lambda quotas ("Durable functions"): 3,000 durable operations and 100 MB of checkpoint data
# (durable execution storage written) an execution; neither can be raised.
MAX_OPERATIONS = 3000
MAX_STORAGE_BYTES = 100 * 1024 * 1024


@contextmanager
def fan_out_cloud(state_dir: Path, run_task_rate: str, store: str) -> Any:
    """A fresh local cloud; `store` is the durable runner's (up --durable-store): with sqlite it
    writes the whole execution at every checkpoint, which at a thousand tasks costs more CPU than
    all else here, so the figures would be the store's."""
    _cli(state_dir, "up", "--run-task-rate", run_task_rate, "--durable-store", store)
    try:
        state = json.loads((state_dir / "state.json").read_text())
        yield Cloud(state_dir, state, targets.local(state_dir))
    finally:
        _cli(state_dir, "down")


class PeakRss(threading.Thread):
    """The largest resident set of any process whose command line names `marker`, every 0.1 s."""

    def __init__(self, marker: str) -> None:
        super().__init__(daemon=True)
        self.marker, self.peak_mb = marker.encode(), 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    if self.marker not in cmdline.read_bytes():
                        continue
                    text = (cmdline.parent / "status").read_text()
                except OSError:
                    continue
                kb = next(
                    (int(line.split()[1]) for line in text.splitlines() if line.startswith("VmRSS:")), 0
                )
                self.peak_mb = max(self.peak_mb, kb / 1024)


@dataclass(frozen=True)
class History:
    events: list[dict[str, Any]]

    @classmethod
    def of(cls, cloud: Cloud, arn: str) -> History:
        events: list[dict[str, Any]] = []
        marker: str | None = None
        while True:
            page = cloud.target.lambda_client.get_durable_execution_history(
                DurableExecutionArn=arn,
                IncludeExecutionData=True,
                MaxItems=1000,
                **({"Marker": marker} if marker else {}),
            )
            events += page["Events"]
            marker = page.get("NextMarker")
            if not marker:
                return cls(events)

    def operations(self) -> int:
        """Distinct operations, the execution's own included (Lambda's quota counts it too)."""
        return len({e["Id"] for e in self.events if e.get("Id")})

    def step_retries(self) -> int:
        """Step attempts after the first (a throttled start asked again): each is metered as one
        more operation ("How durable operations are metered": a step is 1 + its retries)."""
        steps = [e["Id"] for e in self.events if e["EventType"] == "StepStarted"]
        return len(steps) - len(set(steps))

    def payload_bytes(self) -> int:
        """Every payload the history holds (results, inputs, errors): the checkpoint data written."""

        def walk(value: Any, key: str = "") -> int:
            if isinstance(value, dict):
                return sum(walk(v, k) for k, v in value.items())
            if isinstance(value, list):
                return sum(walk(v, key) for v in value)
            return len(value.encode()) if isinstance(value, str) and key == "Payload" else 0

        return sum(walk(e) for e in self.events)

    def by_type(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.events:
            out[e["EventType"]] = out.get(e["EventType"], 0) + 1
        return dict(sorted(out.items()))

    def part_starts(self) -> list[float]:
        """When each part's start step succeeded (ECS accepted its RunTask), epoch seconds, sorted."""
        return sorted(
            _at(e["EventTimestamp"])
            for e in self.events
            if e["EventType"] == "StepSucceeded" and (e.get("Name") or "").startswith("part ")
        )

    def part_tasks(self) -> dict[str, str]:
        """Task ARN by part name ("part 7"), from each part's first start step's result."""
        out: dict[str, str] = {}
        for e in self.events:
            name = e.get("Name") or ""
            if e["EventType"] != "StepSucceeded" or not name.startswith("part ") or "start-task" not in name:
                continue
            payload = e.get("StepSucceededDetails", {}).get("Result", {}).get("Payload")
            made = json.loads(payload) if payload else {}
            task = made.get("taskArn") if isinstance(made, dict) else None
            if isinstance(task, str):
                out.setdefault(name.split(":", 1)[0], task)
        return out


def measure(
    cloud: Cloud, parts: int, concurrency: int, rate: str, store: str, timeout: float
) -> dict[str, Any]:
    pgid = int(cloud.state["pid"])
    sent_before, cpu_before = _relay_sent(cloud), cpu_seconds(pgid)
    peak = PeakRss("pipeline.handler")
    peak.start()
    payload = {
        "message": "fan",
        "parts": [str(i) for i in range(parts)],
        "processingTime": 0,
        "maxConcurrency": concurrency,
    }
    began = time.time()
    arn = str(
        cloud.target.lambda_client.invoke(
            FunctionName=PIPELINE,
            InvocationType="Event",
            Payload=json.dumps(payload).encode(),
            DurableExecutionName=f"bench-fan-out-{uuid.uuid4()}",
        )["DurableExecutionArn"]
    )
    final = poll(
        lambda: (s := status(cloud, arn)) != "RUNNING" and s, timeout, what="the fan-out", interval=0.5
    )
    wall = time.time() - began
    peak.done.set()
    cpu_after = cpu_seconds(pgid)
    history = History.of(cloud, arn)
    tasks = history.part_tasks()
    running = {
        r["taskArn"]: _at(r["at"]) for r in cloud.records("tasks.jsonl") if r["lastStatus"] == "RUNNING"
    }
    stopped = {r["taskArn"] for r in cloud.records("tasks.jsonl") if r["lastStatus"] == "STOPPED"}
    launched = sorted(running[t] for t in tasks.values() if t in running)
    accepted = history.part_starts()
    answer = cloud.target.lambda_client.get_durable_execution(DurableExecutionArn=arn)
    result = json.loads(answer.get("Result") or "{}")
    invocations = sum(
        1
        for r in cloud.records("invocations.jsonl")
        if r.get("executionArn") == arn and r.get("phase") == "end"
    )
    operations, retries, stored = history.operations(), history.step_retries(), history.payload_bytes()
    return {
        "parts": parts,
        "max_concurrency": concurrency,
        "run_task_rate": rate,
        "durable_store": store,
        "status": final,
        "parts_succeeded": len(result.get("parts", [])),
        "parts_failed": len(result.get("failedParts", [])),
        "part_tasks_started": len(tasks),
        "part_tasks_stopped": sum(1 for t in tasks.values() if t in stopped),
        # Every callback the history closed, once each (a history cannot close one twice), and the
        # relay's own count, which misses an invocation that timed out after its callback went out
        "callbacks_completed": sum(
            n
            for kind, n in history.by_type().items()
            if kind.startswith("Callback") and kind != "CallbackStarted"
        ),
        "callbacks_sent": _relay_sent(cloud) - sent_before,
        # From the first part's RunTask accepted to the last's (the rate limit's floor applies here),
        # and from the first part's process launched to the last's (this machine's CPU applies too).
        "start_span_seconds": round(accepted[-1] - accepted[0], 1) if accepted else None,
        "launch_span_seconds": round(launched[-1] - launched[0], 1) if launched else None,
        "wall_seconds": round(wall, 1),
        "operations": operations,
        "step_retries": retries,
        "operations_per_part": round((operations + retries) / parts, 2),
        "operations_share_of_quota": round((operations + retries) / MAX_OPERATIONS, 3),
        "checkpoint_bytes": stored,
        "checkpoint_bytes_per_part": round(stored / parts),
        "checkpoint_share_of_quota": round(stored / MAX_STORAGE_BYTES, 5),
        "history_events": len(history.events),
        "history_events_by_type": history.by_type(),
        "invocations": invocations,
        "peak_rss_mb_pipeline_process": round(peak.peak_mb, 1),
        "cpu_seconds_by_process": {
            k: round(cpu_after.get(k, 0.0) - cpu_before.get(k, 0.0), 1) for k in sorted(cpu_after)
        },
    }
