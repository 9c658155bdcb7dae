"""Measurement 1: durable operations and checkpoint bytes per orchestration, ours vs polling.

Both handlers run under the SDK's in-process ``DurableFunctionTestRunner`` (durable waits are
skipped, so an hour of polling runs in seconds) with ECS and S3 served in-process by moto.
How a task "lasts" D seconds:
- polling: DescribeTasks answers RUNNING until the poll that comes at or after D, i.e. the
  ceil(D / 5)-th, which answers STOPPED with exit code 0 (a botocore after-call hook on the
  baseline's ECS client rewrites moto's answer); the durable waits in between are skipped.
- ours: the handler is suspended on its callback however long the task runs, so nothing happens
  in between; the bench plays the worker and ECS (writes the result object, builds the STOPPED
  event from DescribeTasks) and hands the event to the real relay (``relay_event``), whose
  callback completion goes to the runner. The task timeout is set above D, as a deployment would.
Operations are counted as the execution (its start) plus every operation in its history;
checkpoint bytes are the JSON of every update the function sent in CheckpointDurableExecution.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aws_durable_execution_sdk_python.execution import InvocationStatus
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from moto import mock_aws

from bench.polling import polling_orchestrator
from bench.stats import summary
from completion_relay.relay import RelayAction
from ecs_contract.names import JOB_INPUT_ENV
from testkit.moto_relay import MotoEcsRelay, RunnerCallbacks
from testkit.poll import poll

BUCKET = "bench-results"
DURATIONS = {"10 s": 10, "1 min": 60, "10 min": 600, "1 h": 3600, "24 h": 86400}
POLL_SECONDS = polling_orchestrator.POLL_SECONDS


def polls_for(duration_s: int) -> int:
    """Polls the baseline makes for a task of that duration: the first at or after its end sees it."""
    return max(1, math.ceil(duration_s / POLL_SECONDS))


@dataclass
class CheckpointMeter:
    """Counts what the function checkpoints: calls, updates, bytes of the updates' JSON."""

    calls: int = 0
    updates: int = 0
    bytes: int = 0

    def wrap(self, runner: DurableFunctionTestRunner) -> None:
        # The runner's checkpoint processor is what CheckpointDurableExecution reaches in-process.
        processor = runner._checkpoint_processor
        original = processor.process_checkpoint

        def process_checkpoint(checkpoint_token: str, updates: list[Any], client_token: str | None) -> Any:
            size = sum(len(json.dumps(u.to_dict(), separators=(",", ":"))) for u in updates)
            self.calls += 1
            self.updates += len(updates)
            self.bytes += size
            return original(checkpoint_token, updates, client_token)

        processor.process_checkpoint = process_checkpoint  # type: ignore[method-assign]


@dataclass(frozen=True)
class Run:
    operations: int
    checkpoint_calls: int
    checkpoint_bytes: int
    seconds: float  # wall time of the whole orchestration in-process


class World:
    """moto ECS and S3 with the relay (testkit.moto_relay) plus one runner per handler; environment
    as the template sets it."""

    def __init__(self) -> None:
        # Plain moto, as the baseline has always run: its clientToken, the last part of the execution
        # ARN, is the in-process runner's fixed invocation id, which the ECS rules refuse on reuse.
        self.aws = MotoEcsRelay.create(BUCKET, cluster_name="bench", ecs_rules=False)
        os.environ.update(self.aws.environment(task_timeout_seconds=2 * max(DURATIONS.values())))
        self.describes: dict[str, int] = {}
        self.stop_after: int = 1
        polling_orchestrator.ecs_client.cache_clear()
        polling_orchestrator.ecs_client().meta.events.register("after-call.ecs.DescribeTasks", self._describe)

    def _describe(self, parsed: dict[str, Any], **_: Any) -> None:
        """The baseline's DescribeTasks: RUNNING until the stop_after-th call for the task."""
        for task in parsed.get("tasks", []):
            n = self.describes[task["taskArn"]] = self.describes.get(task["taskArn"], 0) + 1
            stopped = n >= self.stop_after
            task["lastStatus"] = "STOPPED" if stopped else "RUNNING"
            for container in task.get("containers", []):
                container["lastStatus"] = task["lastStatus"]
                container["exitCode"] = 0 if stopped else None

    def _new_tasks(self) -> list[dict[str, Any]]:
        arns = self.aws.task_arns()
        if not arns:
            return []
        tasks = self.aws.describe(arns)
        return [
            t
            for t in tasks
            if t["startedBy"].startswith("durable-ecs/") and t["taskArn"] not in self.describes
        ]

    def stop_ours(self, runner: DurableFunctionTestRunner, callbacks: RunnerCallbacks) -> None:
        """Play the worker (result object) and ECS (STOPPED event), then run the real relay."""
        [task] = poll(self._new_tasks, 30, what="the task RunTask started", interval=0.01)
        self.describes[task["taskArn"]] = 0  # handled
        job = json.loads(self.aws.worker_env(task)[JOB_INPUT_ENV])
        result = {"message": job["message"], "processedMessage": job["message"].upper()}
        relayed = self.aws.relay_stopped(task, callbacks, exit_code=0, result=result)
        assert relayed.action is RelayAction.SUCCEEDED, relayed


@contextmanager
def world() -> Iterator[World]:
    saved = dict(os.environ)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # moto's fake account
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="DurableEcsTasksBench",
        POWERTOOLS_METRICS_DISABLED="true",  # no EMF lines on stdout; the cost is measured elsewhere
    )
    quiet = [logging.getLogger(name) for name in ("orchestrator", "completion_relay")]
    levels = [log.level for log in quiet]
    for log in quiet:
        log.setLevel(logging.WARNING)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        with mock_aws():
            yield World()
    finally:
        polling_orchestrator.ecs_client.cache_clear()
        os.environ.clear()
        os.environ.update(saved)
        for log, level in zip(quiet, levels, strict=True):
            log.setLevel(level)


def _payload(duration_s: int) -> str:
    return json.dumps({"message": "bench", "processingTime": duration_s})


def run_ours(w: World, duration_s: int) -> Run:
    meter = CheckpointMeter()
    with DurableFunctionTestRunner(handler=w.aws.orchestrator_handler(), poll_interval=0.005) as runner:
        meter.wrap(runner)
        callbacks = RunnerCallbacks(runner)
        started = time.perf_counter()
        arn = runner.run_async(input=_payload(duration_s), execution_timeout=4 * max(DURATIONS.values()))
        w.stop_ours(runner, callbacks)
        result = runner.wait_for_result(arn, timeout=600)
        seconds = time.perf_counter() - started
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert [kind for kind, _ in callbacks.sent] == ["success"]
    return Run(1 + len(result.operations), meter.calls, meter.bytes, seconds)


def run_polling(w: World, duration_s: int) -> Run:
    meter = CheckpointMeter()
    w.stop_after = polls_for(duration_s)
    with DurableFunctionTestRunner(handler=polling_orchestrator.handler, poll_interval=0.005) as runner:
        meter.wrap(runner)
        started = time.perf_counter()
        arn = runner.run_async(input=_payload(duration_s), execution_timeout=4 * max(DURATIONS.values()))
        result = runner.wait_for_result(arn, timeout=3600)
        seconds = time.perf_counter() - started
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert json.loads(result.result or "{}")["polls"] == polls_for(duration_s)
    return Run(1 + len(result.operations), meter.calls, meter.bytes, seconds)


def measure(durations: dict[str, int], repeats: int, measure_polling_up_to: int) -> dict[str, Any]:
    """Each duration `repeats` times, ours and polling paired in the same round. Polling runs longer
    than `measure_polling_up_to` seconds are extrapolated from the measured per-poll cost."""
    rows: dict[str, Any] = {}
    per_poll: list[tuple[int, Run]] = []
    with world() as w:
        for label, seconds in durations.items():
            ours_runs, polling_runs = [], []
            for _ in range(repeats):
                ours_runs.append(run_ours(w, seconds))
                if seconds <= measure_polling_up_to:
                    polling_runs.append(run_polling(w, seconds))
            row: dict[str, Any] = {
                "seconds": seconds,
                "polls": polls_for(seconds),
                "ours": _describe_runs(ours_runs),
            }
            if polling_runs:
                row["polling"] = _describe_runs(polling_runs)
                pairs = zip(ours_runs, polling_runs, strict=True)
                row["ratio"] = summary([p.operations / o.operations for o, p in pairs])
                per_poll += [(polls_for(seconds), r) for r in polling_runs]
            rows[label] = row
    model = _per_poll_model(per_poll)
    for row in rows.values():
        if "polling" not in row:
            n = row["polls"]
            row["polling"] = {
                "extrapolated": True,
                "operations": {"median": model["base_ops"] + model["ops_per_poll"] * n},
                "checkpoint_bytes": {"median": round(model["base_bytes"] + model["bytes_per_poll"] * n)},
                "checkpoint_calls": {"median": round(model["base_calls"] + model["calls_per_poll"] * n)},
            }
            row["ratio"] = {
                "median": round(
                    row["polling"]["operations"]["median"] / row["ours"]["operations"]["median"], 1
                )
            }
    return {"durations": rows, "per_poll_model": model, "sdk_stop_poll": sdk_stop_poll(repeats)}


def sdk_stop_poll(repeats: int) -> dict[str, Any]:
    """What-if: ours, whole orchestration in-process, with the SDK's checkpoint thread polling its
    stop signal every 0.1 s (as shipped) and every 1 ms. Each invocation ends by waiting for that
    thread, so the poll interval lands on every invocation (two here: start, resume)."""
    from aws_durable_execution_sdk_python import state

    shipped = state._STOP_SIGNAL_POLL_SECONDS
    out: dict[str, Any] = {}
    with world() as w:
        for label, interval in (("shipped", shipped), ("1 ms", 0.001)):
            state._STOP_SIGNAL_POLL_SECONDS = interval
            try:
                out[label] = summary([run_ours(w, 10).seconds for _ in range(max(3, repeats))])
            finally:
                state._STOP_SIGNAL_POLL_SECONDS = shipped
    out["shipped_interval_s"] = shipped
    return out


def _describe_runs(runs: list[Run]) -> dict[str, Any]:
    return {
        "operations": summary([r.operations for r in runs]),
        "checkpoint_calls": summary([r.checkpoint_calls for r in runs]),
        "checkpoint_bytes": summary([r.checkpoint_bytes for r in runs]),
        "wall_seconds": summary([r.seconds for r in runs]),
    }


def _per_poll_model(samples: list[tuple[int, Run]]) -> dict[str, float]:
    """Least-squares line through (polls, cost) of the measured polling runs."""
    if len({n for n, _ in samples}) < 2:
        return {}

    def fit(ys: list[float]) -> tuple[float, float]:
        xs = [float(n) for n, _ in samples]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
        return my - slope * mx, slope

    base_ops, ops = fit([r.operations for _, r in samples])
    base_bytes, per_byte = fit([r.checkpoint_bytes for _, r in samples])
    base_calls, calls = fit([r.checkpoint_calls for _, r in samples])
    return {
        "base_ops": round(base_ops, 2),
        "ops_per_poll": round(ops, 3),
        "base_bytes": round(base_bytes, 1),
        "bytes_per_poll": round(per_byte, 2),
        "base_calls": round(base_calls, 2),
        "calls_per_poll": round(calls, 3),
    }
