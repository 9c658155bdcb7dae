"""Measurements 2 and 5 on the local cloud: completion-to-resume latency by hop, and scale.

The local cloud is started with the CLI, as a user would, plus the polling baseline
(``--overlay bench/template-overlay.yaml``), so both orchestrators run side by side on the same
runner, agent and bus. Timestamps come from the records the local cloud keeps:
- ``tasks.jsonl`` (task agent): the worker's exit, as the agent sees it (``STOPPED``);
- ``events.jsonl`` (event bus): the ECS event published;
- ``invocations.jsonl`` (Lambda endpoint): each invocation's start, by event id (the relay) or
  execution ARN (the orchestrators);
- the durable history: the callback completed, the execution SUCCEEDED (and, for polling, the
  wait and DescribeTasks step of the poll that saw STOPPED).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.stats import tail
from completion_relay.relay import RelayAction
from local import dex_runner, targets
from local.template import ROOT
from testkit.local_cloud import cli
from testkit.poll import PollTimeout, poll

OVERLAY = ROOT / "bench" / "template-overlay.yaml"
OURS = "Orchestrator:live"
POLLING = "PollingOrchestrator:live"


@dataclass(frozen=True)
class Cloud:
    state_dir: Path
    state: dict[str, Any]
    target: targets.Target

    def records(self, name: str) -> list[dict[str, Any]]:
        path = self.state_dir / name
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _cli(state_dir: Path, *args: str, timeout: float = 180) -> None:
    done = cli(state_dir, *args, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"python -m local {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


@contextmanager
def local_cloud(state_dir: Path, task_timeout: int = 1800) -> Iterator[Cloud]:
    """A fresh local cloud hosting both orchestrators; stopped (and its folder kept) afterwards."""
    _cli(state_dir, "up", "--overlay", str(OVERLAY), "--parameter", f"TaskTimeoutSeconds={task_timeout}")
    try:
        state = json.loads((state_dir / "state.json").read_text())
        yield Cloud(state_dir, state, targets.local(state_dir))
    finally:
        _cli(state_dir, "down")


def start(cloud: Cloud, function: str, payload: dict[str, Any]) -> str:
    answer = cloud.target.lambda_client.invoke(
        FunctionName=function,
        InvocationType="Event",
        Payload=json.dumps(payload).encode(),
        DurableExecutionName=f"bench-{uuid.uuid4()}",
    )
    return str(answer["DurableExecutionArn"])


def status(cloud: Cloud, arn: str) -> str:
    return str(cloud.target.lambda_client.get_durable_execution(DurableExecutionArn=arn)["Status"])


def wait_all(cloud: Cloud, arns: list[str], timeout: float) -> dict[str, str]:
    """Every execution's final status; sweeps the running ones every 0.2 s until the deadline, and
    leaves out the ones still running then (the caller counts what succeeded)."""
    final: dict[str, str] = {}

    def swept() -> bool:
        for arn in arns:
            if arn not in final and (s := status(cloud, arn)) != "RUNNING":
                final[arn] = s
        return len(final) == len(arns)

    with contextlib.suppress(PollTimeout):
        poll(swept, timeout, what="every execution to end", interval=0.2)
    return final


def history(cloud: Cloud, arn: str) -> list[dict[str, Any]]:
    page = cloud.target.lambda_client.get_durable_execution_history(
        DurableExecutionArn=arn, IncludeExecutionData=True
    )
    return list(page["Events"])


def _at(value: str | datetime) -> float:
    """Epoch seconds of a journal stamp ("...Z"), a Powertools log stamp, or a datetime."""
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(value.replace("Z", "+00:00").replace(",", ".")).timestamp()


def _events(h: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in h if e["EventType"] == kind]


# -- 2. latency ---------------------------------------------------------------------------------
def run_one(cloud: Cloud, function: str, timeout: float) -> str:
    arn = start(cloud, function, {"message": "latency", "processingTime": 0})
    poll(lambda: status(cloud, arn) != "RUNNING", timeout, what=f"{arn} to end", interval=0.01)
    return arn


def latency(
    cloud: Cloud, orchestrations: int, concurrency: int, kinds: tuple[str, ...] = (OURS, POLLING)
) -> dict[str, Any]:
    """`orchestrations` of each kind, `concurrency` of each in flight at a time, interleaved."""
    jobs = list(kinds) * orchestrations
    with ThreadPoolExecutor(max_workers=2 * concurrency) as pool:
        arns = list(pool.map(lambda f: (f, run_one(cloud, f, 300)), jobs))
    stopped = {
        r["taskArn"]: _at(r["at"]) for r in cloud.records("tasks.jsonl") if r["lastStatus"] == "STOPPED"
    }
    published = {
        r["taskArn"]: (_at(r["at"]), r["eventId"])
        for r in cloud.records("events.jsonl")
        if r["outcome"] == "published" and r["lastStatus"] == "STOPPED"
    }
    starts: dict[str, list[float]] = {}
    for r in cloud.records("invocations.jsonl"):
        if r["phase"] == "start":
            starts.setdefault(r.get("eventId") or r.get("executionArn") or "", []).append(_at(r["at"]))
    rows: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    for function, arn in arns:
        h = history(cloud, arn)
        [done] = _events(h, "ExecutionSucceeded")
        end = _at(done["EventTimestamp"])
        result = json.loads(status_result(cloud, arn))
        exit_at = stopped[result["taskArn"]]
        row = {"total": end - exit_at}
        if function == OURS:
            event_at, event_id = published[result["taskArn"]]
            relay_at = min(starts[event_id])
            [callback] = _events(h, "CallbackSucceeded")
            callback_at = _at(callback["EventTimestamp"])
            resumed_at = max(t for t in starts[arn] if t <= end)
            row |= {
                "event emitted": event_at - exit_at,
                "relay invoked": relay_at - event_at,
                "callback sent": callback_at - relay_at,
                "handler resumed": resumed_at - callback_at,
                "execution succeeded": end - resumed_at,
            }
        else:
            last_wait = _events(h, "WaitSucceeded")[-1]
            wait_at = _at(last_wait["EventTimestamp"])
            row |= {
                "next poll due": wait_at - exit_at,
                "poll and return": end - wait_at,
                "polls": float(len(_events(h, "WaitSucceeded"))),
            }
        rows[function].append(row)
    out: dict[str, Any] = {"orchestrations": orchestrations, "concurrency": concurrency}
    for function, name in ((OURS, "ours"), (POLLING, "polling")):
        if function not in kinds:
            continue
        keys = rows[function][0].keys()
        out[name] = {k: tail([r[k] * (1 if k == "polls" else 1000) for r in rows[function]], 1) for k in keys}
    return out


def status_result(cloud: Cloud, arn: str) -> str:
    return str(cloud.target.lambda_client.get_durable_execution(DurableExecutionArn=arn)["Result"])


# -- 5. scale -----------------------------------------------------------------------------------
def cpu_seconds(pgid: int) -> dict[str, float]:
    """CPU seconds so far of every live process of the local cloud, by role (from /proc).

    Workers are short-lived: their CPU is counted, once reaped, in the supervisor's children time."""
    hz = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if int(fields[2]) != pgid:
            continue
        utime, stime, cutime, cstime = (int(x) / hz for x in fields[11:15])
        role = _role(cmdline, int(stat.parent.name) == pgid)
        out[role] = out.get(role, 0.0) + utime + stime
        if role == "supervisor: moto, task agent, event bus, Lambda endpoint":
            out["workers (reaped)"] = out.get("workers (reaped)", 0.0) + cutime + cstime
    return out


def _role(cmdline: str, is_leader: bool) -> str:
    if is_leader:
        return "supervisor: moto, task agent, event bus, Lambda endpoint"
    if dex_runner.__name__ in cmdline:  # python -m local.dex_runner (local/durable.py)
        return "durable runner"
    if "worker.entrypoint" in cmdline:
        return "workers (running)"
    for handler, role in (
        ("orchestrator.handler", "orchestrator runtime (ours)"),
        ("completion_relay.handler", "relay runtime (ours)"),
        ("polling_orchestrator", "polling runtime"),
        ("pipeline.handler", "pipeline runtime (ours)"),
    ):
        if handler in cmdline:
            return role
    return "other"


def available_mb() -> float:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:")) / 1024


def workers(pgid: int) -> list[int]:
    """Pids of the running workers of this local cloud (its process group) only."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"worker.entrypoint" not in cmdline.read_bytes():
                continue
            stat = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat[2]) == pgid:
            pids.append(int(cmdline.parent.name))
    return pids


class Watch(threading.Thread):
    """Every 0.2 s: the machine's available memory and how many workers run. Every worker is a real
    process (~50 MB); if the machine runs short (below `floor_mb`), this cloud's workers are killed,
    by pid, so the run fails instead of the machine (the executions then fail with exit code 137)."""

    def __init__(self, pgid: int, floor_mb: float) -> None:
        super().__init__(daemon=True)
        self.pgid, self.floor_mb = pgid, floor_mb
        self.peak_workers, self.min_available_mb, self.aborted = 0, available_mb(), False
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            running = workers(self.pgid)
            free = available_mb()
            self.peak_workers = max(self.peak_workers, len(running))
            self.min_available_mb = min(self.min_available_mb, free)
            if free < self.floor_mb:
                self.aborted = True
                for pid in running:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)


def scale(cloud: Cloud, sizes: list[int], timeout: float, floor_mb: float = 3000) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pgid = int(cloud.state["pid"])
    for n in sizes:
        watch = Watch(pgid, floor_mb)
        watch.start()
        tasks_before = _count(cloud, "tasks.jsonl", "STOPPED")
        sent_before = _relay_sent(cloud)
        cpu_before = cpu_seconds(pgid)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            arns = list(
                pool.map(
                    lambda i: start(cloud, OURS, {"message": f"scale {i}", "processingTime": 0}), range(n)
                )
            )
        invoked = time.monotonic() - started
        final = wait_all(cloud, arns, timeout)
        wall = time.monotonic() - started
        cpu_after = cpu_seconds(pgid)
        watch.done.set()
        # The bus and the agent write their records just after the fact: let the last ones land.
        _await_records(cloud, tasks_before + len(final))
        succeeded = sum(1 for s in final.values() if s == "SUCCEEDED")
        cpu = {k: round(cpu_after.get(k, 0.0) - cpu_before.get(k, 0.0), 1) for k in sorted(cpu_after)}
        out[str(n)] = {
            "started": n,
            "succeeded": succeeded,
            "not_finished": n - len(final),
            "tasks_run": _count(cloud, "tasks.jsonl", "STOPPED") - tasks_before,
            "callbacks_sent": _relay_sent(cloud) - sent_before,
            "invoke_seconds": round(invoked, 2),
            "wall_seconds": round(wall, 2),
            "throughput_per_s": round(succeeded / wall, 2),
            "peak_running_workers": watch.peak_workers,
            "min_available_memory_mb": round(watch.min_available_mb),
            "aborted_low_memory": watch.aborted,
            "cpu_seconds_by_process": cpu,
            "cpu_share_ours": round(
                sum(v for k, v in cpu.items() if "(ours)" in k) / max(0.001, sum(cpu.values())), 3
            ),
        }
    return out


def _await_records(cloud: Cloud, tasks: int) -> None:
    poll(lambda: _count(cloud, "tasks.jsonl", "STOPPED") >= tasks, 10, "the task records", interval=0.01)


def _count(cloud: Cloud, journal: str, status_: str) -> int:
    return sum(1 for r in cloud.records(journal) if r.get("lastStatus") == status_)


def _relay_sent(cloud: Cloud) -> int:
    """Callback completions the relay made: its log records whose `action` field says it completed one."""
    log = cloud.state_dir / "logs" / "CompletionRelay.log"
    if not log.exists():
        return 0
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return sum(1 for r in records if r.get("action") in (RelayAction.SUCCEEDED, RelayAction.FAILED))
