"""Follow one execution as a readable timeline: durable history, the ECS task, the worker's log.

Everything comes from the public APIs (GetDurableExecutionHistory, DescribeTasks, CloudWatch
Logs), so the same code follows an execution on the local cloud and on AWS. On the local cloud
the event-delivery record adds the relay's invocations.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from ecs_contract.documents import Operation, StartTaskResult
from ecs_contract.names import redact
from ecs_contract.outcome import TaskFailed
from ecs_contract.progress import parse_progress
from local.live_tail import LiveTail, LiveTailUnavailable, LogLine, log_group_arn
from local.targets import Target

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"}
TASK_STOP_GRACE = 40.0  # after the execution ends, how long to wait for its task to stop (ECS: 30 s)


@dataclass(frozen=True, order=True)
class Entry:
    at: datetime
    source: str  # execution | task | worker | relay
    text: str


def _payload(details: dict[str, Any], key: str) -> Any:
    raw = details.get(key, {}).get("Payload")
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw


def _error(details: dict[str, Any]) -> str:
    """The error's type and its message's first line: a task's failure goes on with the worker's
    last log lines (ecs_contract.outcome.TaskFailed.error_message), which the timeline already shows."""
    err = details.get("Error", {}).get("Payload") or details.get("Error") or {}
    kind = str(err.get("ErrorType", "?")).rsplit(".", 1)[-1]
    first_line = str(err.get("ErrorMessage", "")).partition("\n")[0]
    return f"{kind}: {first_line}".strip()


def _started(details: dict[str, Any]) -> str | TaskFailed | None:
    """A start-task step's result: the task's ARN or why none started (None: not ours to read)."""
    try:
        return StartTaskResult.from_dict(_payload(details, "Result")).outcome
    except (TypeError, KeyError, ValueError):  # the timeline shows any history, never crashes on one
        return None


def describe_history_event(event: dict[str, Any], waiting: bool, resumed: bool) -> str | None:
    """One history event as a line of the timeline; None for bookkeeping events."""
    kind, name = event.get("EventType", ""), event.get("Name")
    details = next((v for k, v in event.items() if k.endswith("Details") and isinstance(v, dict)), {})
    if kind == "InvocationCompleted":
        if waiting:
            return "handler suspended, waiting for the callback at no cost"
        return "handler resumed and returned" if resumed else "handler returned"
    if kind == "StepStarted":
        return None
    describe = _DESCRIBE.get(kind)
    return describe(name, details) if describe else f"{kind} {name or ''}".strip()


def _step_succeeded(name: str | None, details: dict[str, Any]) -> str:
    if not Operation.START_TASK.names(name):
        return f"step {name!r} done"
    started = _started(details)
    if isinstance(started, str):
        return f"task started: {started.rsplit('/', 1)[1]}"
    failure = started.callback_error() if started else _payload(details, "Result")
    return f"task did not start: {failure}"


def _execution_ended(kind: str) -> Callable[[str | None, dict[str, Any]], str]:
    return lambda name, details: f"execution {kind.removeprefix('Execution').upper()}: {_error(details)}"


# History events by EventType -> (the operation's name, its details) -> the timeline's words.
_DESCRIBE: dict[str, Callable[[str | None, dict[str, Any]], str]] = {
    "ExecutionStarted": lambda name, details: "execution started",
    "CallbackStarted": lambda name, details: (
        f"callback {name!r} created (id {redact(details.get('CallbackId', ''))})"
    ),
    "StepSucceeded": _step_succeeded,
    "StepFailed": lambda name, details: f"step {name!r} failed: {_error(details)}",
    "CallbackSucceeded": lambda name, details: "callback completed: task succeeded",
    "CallbackFailed": lambda name, details: f"callback completed: task failed ({_error(details)})",
    "CallbackTimedOut": lambda name, details: f"callback {name!r} timed out",
    "ExecutionSucceeded": lambda name, details: _clip(
        f"execution SUCCEEDED: {json.dumps(_payload(details, 'Result'))}"
    ),
    **{kind: _execution_ended(kind) for kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionStopped")},
}


def render(entry: Entry, origin: datetime) -> str:
    """One timeline line: seconds since the first entry, where it comes from, what happened."""
    return f"  +{(entry.at - origin).total_seconds():7.3f}s  {entry.source:<9} {entry.text}"


def _clip(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class Follower:
    """Incremental view of one execution: each ``poll()`` returns only what is new.

    With ``live`` (``follow --target aws``), the worker's lines come from a CloudWatch Logs Live
    Tail session on the task's stream (``local.live_tail``) instead of a GetLogEvents every poll:
    one GetLogEvents reads what was written before the session started, and one more what the
    session had not yet sent when the task is done (``finish``). Where Live Tail is refused or
    cannot be reached, or its session ends, the follower reads the log every poll, as without it.
    A line two reads both return is shown once."""

    def __init__(self, target: Target, execution_arn: str, live: bool = False) -> None:
        self.target, self.arn = target, execution_arn
        self.live_wanted = live
        self.live: LiveTail | None = None
        self.live_off: str | None = None  # why Live Tail is not (or no longer) used
        self._pending: list[Entry] = []  # the last lines of a task whose attempt just ended
        self._read: dict[str, Counter[tuple[int, str]]] = {"live": Counter(), "poll": Counter()}
        self._shown: Counter[tuple[int, str]] = Counter()
        self.history_seen = 0
        self.callback_pending = False
        self.callback_done = False
        self.task_arn: str | None = None
        self.task_status: str | None = None
        self.log_token: str | None = None
        self.journal_offset = 0
        self.subscriptions_offset = 0
        self.status = "RUNNING"
        self.execution: dict[str, Any] = {}

    def poll(self) -> list[Entry]:
        # The status first: once it is final, the history read after it holds the last events.
        self.execution = self.target.lambda_client.get_durable_execution(DurableExecutionArn=self.arn)
        self.status = self.execution["Status"]
        entries = list(self._history())
        entries += self._pending
        self._pending = []
        if self.task_arn:
            entries += self._task()
            entries += self._worker_log()
            entries += self._relay()
            entries += self._heartbeats()
        return sorted(entries)

    def _history(self) -> Iterator[Entry]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"DurableExecutionArn": self.arn, "IncludeExecutionData": True}
        while True:
            page = self.target.lambda_client.get_durable_execution_history(**kwargs)
            events += page.get("Events", [])
            if not page.get("NextMarker"):
                break
            kwargs["Marker"] = page["NextMarker"]
        for event in events[self.history_seen :]:
            kind = event.get("EventType")
            if kind == "StepSucceeded" and Operation.START_TASK.names(event.get("Name")):
                details = event.get("StepSucceededDetails", {})
                started = _started(details)
                if isinstance(started, str) and started != self.task_arn:  # a new attempt: follow its task
                    self._pending += self.finish()
                    self.task_arn, self.task_status, self.log_token = started, None, None
                    self._read = {"live": Counter(), "poll": Counter()}
                    self._shown = Counter()
            if kind in ("CallbackSucceeded", "CallbackFailed", "CallbackTimedOut"):
                self.callback_pending, self.callback_done = False, True
            text = describe_history_event(event, waiting=self.callback_pending, resumed=self.callback_done)
            if kind == "CallbackStarted":
                self.callback_pending = True
            if text:
                yield Entry(_parse_time(event["EventTimestamp"]), "execution", text)
        self.history_seen = len(events)

    def _task(self) -> list[Entry]:
        if self.task_status == "STOPPED":
            return []
        tasks = self.target.ecs.describe_tasks(cluster=self.target.cluster, tasks=[self.task_arn])["tasks"]
        if not tasks:
            return []
        task, out = tasks[0], []
        status = task.get("lastStatus")
        if status == self.task_status:
            return []
        if status == "RUNNING" or (
            status == "STOPPED" and task.get("startedAt") and self.task_status is None
        ):
            out.append(Entry(_parse_time(task.get("startedAt") or datetime.now(UTC)), "task", "task RUNNING"))
        if status not in ("RUNNING", "STOPPED"):
            reason = f" ({task['stoppedReason']})" if task.get("stoppedReason") else ""
            out.append(Entry(datetime.now(UTC), "task", f"task {status}{reason}"))
        if status == "STOPPED":
            codes = [c.get("exitCode") for c in task.get("containers", [])]
            code = codes[0] if len(codes) == 1 else codes
            text = f"task STOPPED, exit code {code}: {task.get('stoppedReason', '')}"
            out.append(Entry(_parse_time(task.get("stoppedAt") or datetime.now(UTC)), "task", text))
        self.task_status = status
        return out

    def _worker_log(self) -> list[Entry]:
        assert self.task_arn is not None
        if not self.live_wanted or self.live_off is not None:
            return self._unseen(self._poll_log(), "poll")
        out: list[Entry] = []
        if self.live is None:
            group, stream = self.target.worker_logs.group, self.target.worker_logs.stream(self.task_arn)
            try:
                self.live = LiveTail(self.target.logs, log_group_arn(group, self.task_arn), stream)
            except LiveTailUnavailable as e:
                return self._live_off(f"Live Tail is not available ({e})")
            # The session streams what is ingested from now on: what came before, read once.
            out += self._unseen(self._poll_log(), "poll")
        out += self._unseen(self.live.drain(), "live")
        if self.live.ended:
            out += self._live_off(f"the Live Tail session ended ({self.live.ended})")
        return out

    def _live_off(self, why: str) -> list[Entry]:
        """From now on, read the log every poll (what Live Tail may have missed comes with it)."""
        if self.live is not None:
            self.live.close()
            self.live = None
        self.live_off = why
        note = Entry(datetime.now(UTC), "follow", f"{why}: reading the worker's log every poll instead")
        return [note, *self._unseen(self._poll_log(), "poll")]

    def finish(self) -> list[Entry]:
        """The task's last lines the Live Tail session had not sent yet; the session ends."""
        if self.live is None or self.task_arn is None:
            return []
        lines = self.live.drain()
        self.live.close()
        self.live = None
        return self._unseen(lines, "live") + self._unseen(self._poll_log(), "poll")

    def _unseen(self, lines: list[LogLine], source: str) -> list[Entry]:
        """The lines not shown yet: each read counts its lines, and a line shows when one read has
        returned it more often than it has been shown (the same line may be written twice)."""
        read, out = self._read[source], []
        for line in lines:
            read[line.key] += 1
            if read[line.key] > self._shown[line.key]:
                self._shown[line.key] = read[line.key]
                out.append(Entry(line.at, "worker", _worker_line(line.message)))
        return out

    def _poll_log(self) -> list[LogLine]:
        """What GetLogEvents has after the last read (forward token) of the task's stream."""
        assert self.task_arn is not None
        kwargs: dict[str, Any] = {
            "logGroupName": self.target.worker_logs.group,
            "logStreamName": self.target.worker_logs.stream(self.task_arn),
            "startFromHead": True,
        }
        if self.log_token:
            kwargs["nextToken"] = self.log_token
        try:
            page = self.target.logs.get_log_events(**kwargs)
        except self.target.logs.exceptions.ResourceNotFoundException:
            return []  # the stream appears when the container writes its first line
        self.log_token = page.get("nextForwardToken", self.log_token)
        return [
            LogLine(datetime.fromtimestamp(e["timestamp"] / 1000, UTC), e["message"])
            for e in page.get("events", [])
        ]

    def _heartbeats(self) -> list[Entry]:
        """The relay's invocations by the worker log group's subscription (progress lines), which
        the local cloud records beside the event deliveries (local/subscriptions.py)."""
        journal = self.target.journal
        path = journal.parent / "subscriptions.jsonl" if journal is not None else None
        if path is None or not path.exists() or self.task_arn is None:
            return []
        with path.open() as f:
            f.seek(self.subscriptions_offset)
            lines = f.readlines()
            self.subscriptions_offset = f.tell()
        task_id = self.task_arn.rsplit("/", 1)[-1]
        out = []
        for line in lines:
            rec = json.loads(line)
            if not str(rec.get("logStream", "")).endswith(f"/{task_id}"):
                continue
            text = f"progress delivered to the relay: {rec['outcome']}"
            if rec["outcome"] == "delivered":
                text = f"relay invoked by the log subscription: {json.loads(rec['response']).get('action')}"
            out.append(Entry(_parse_time(rec["at"]), "relay", text))
        return out

    def _relay(self) -> list[Entry]:
        journal = self.target.journal
        if journal is None or not journal.exists():
            return []
        with journal.open() as f:
            f.seek(self.journal_offset)
            lines = f.readlines()
            self.journal_offset = f.tell()
        out = []
        for line in lines:
            rec = json.loads(line)
            if rec.get("taskArn") != self.task_arn or rec.get("rule") is None:
                continue
            text = f"event delivered to the relay (attempt {rec.get('attempt')}): {rec['outcome']}"
            if rec["outcome"] == "delivered":
                text = (
                    f"relay invoked (attempt {rec['attempt']}): {json.loads(rec['response']).get('action')}"
                )
            out.append(Entry(_parse_time(rec["at"]), "relay", text))
        return out


def _worker_line(message: str) -> str:
    """A worker's log line; a progress line (ecs_contract.progress) as "progress 42% what it said"."""
    progress = parse_progress(message)
    return message if progress is None else f"progress {progress.describe()}"


def follow(
    target: Target, arn: str, out: TextIO = sys.stdout, timeout: float = 3600, progress_every: float = 10
) -> dict[str, Any]:
    """Print the timeline until the execution ends; returns GetDurableExecution's answer.

    While nothing happens it shows progress: a live status line on a terminal, else a
    "still waiting" line every ``progress_every`` seconds."""
    follower = Follower(target, arn, live=target.live_tail)
    try:
        return _follow(follower, out, timeout, progress_every)
    finally:
        if follower.live is not None:
            follower.live.close()


def _follow(follower: Follower, out: TextIO, timeout: float, progress_every: float) -> dict[str, Any]:
    target, arn = follower.target, follower.arn
    started = time.monotonic()
    origin: datetime | None = None
    last_progress = ended = started
    interactive = out.isatty()
    while True:
        entries = follower.poll()
        for entry in entries:
            origin = origin or entry.at
            if interactive:
                out.write("\r\033[K")
            out.write(render(entry, origin) + "\n")
        task_done = follower.task_arn is None or follower.task_status == "STOPPED"
        if follower.status in TERMINAL and (task_done or time.monotonic() - ended > TASK_STOP_GRACE):
            for entry in sorted(follower.finish()):
                out.write(render(entry, origin or entry.at) + "\n")
            out.flush()
            return follower.execution
        if follower.status not in TERMINAL:
            ended = time.monotonic()
        waited = time.monotonic() - started
        if waited > timeout:
            raise TimeoutError(f"execution {arn} still {follower.status} after {timeout:g} s")
        what = f"task {follower.task_status or 'starting'}" if follower.task_arn else "starting"
        if interactive:
            out.write(f"\r  ... waiting ({what}) {waited:5.1f} s")
        elif time.monotonic() - last_progress >= progress_every:
            out.write(f"  ... still waiting ({what}), {waited:.0f} s\n")
            last_progress = time.monotonic()
        out.flush()
        time.sleep(target.poll_interval)
