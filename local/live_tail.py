"""A worker's log lines as CloudWatch Logs ingests them: one StartLiveTail session on its stream.

What `follow --target aws` shows instead of asking GetLogEvents every poll. From botocore's logs
model (StartLiveTail): the answer is an event stream holding one `sessionStart`, then a
`sessionUpdate` about every second with up to 500 `sessionResults` (sampled down to 500 when more
matched: `sessionMetadata.sampled`), and it may end with a `SessionTimeoutException` (after three
hours) or a `SessionStreamingException`, which botocore raises as an EventStreamError (a
ClientError) while the stream is read. `logGroupIdentifiers` must be ARNs without the trailing
":*"; `logStreamNames` needs exactly one group. A session streams only what is ingested after it
started, so the follower reads what came before with GetLogEvents once (`timeline.Follower`).

The request goes to the "stream-" host prefix of the endpoint (the model's `endpoint.hostPrefix`):
the local cloud's endpoint, an IP address, has no such host, and moto's StartLiveTail answers
every past event in one update and ends, which is not Live Tail: the local target never uses it.
IAM: the caller needs logs:StartLiveTail on the log group (Service Authorization Reference).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

SAMPLED_NOTE = "(Live Tail sampled this second's lines: more than 500 came; some are not shown)"


@dataclass(frozen=True)
class LogLine:
    at: datetime
    message: str

    @property
    def key(self) -> tuple[int, str]:
        """What makes a line the same line, whichever API read it (its timestamp and text)."""
        return round(self.at.timestamp() * 1000), self.message


def log_group_arn(group: str, task_arn: str) -> str:
    """The worker log group's ARN, in the task's partition, Region and account (the awslogs driver
    writes in the task's Region: template.yaml, awslogs-region)."""
    _, partition, _, region, account, _ = task_arn.split(":", 5)
    return f"arn:{partition}:logs:{region}:{account}:log-group:{group}"


def lines_of(event: Mapping[str, Any], stream: str) -> list[LogLine]:
    """A Live Tail event's lines of `stream`, oldest first; a note when the update was sampled."""
    update = event.get("sessionUpdate")
    if not isinstance(update, Mapping):
        return []  # sessionStart, or an event this version does not know
    lines = [
        LogLine(datetime.fromtimestamp(int(r.get("timestamp", 0)) / 1000, UTC), str(r.get("message", "")))
        for r in update.get("sessionResults") or []
        if r.get("logStreamName") == stream
    ]
    lines.sort(key=lambda line: line.at)
    if (update.get("sessionMetadata") or {}).get("sampled"):
        lines.append(LogLine(datetime.now(UTC), SAMPLED_NOTE))
    return lines


class LiveTailUnavailable(RuntimeError):
    """StartLiveTail was refused or could not be reached (the message says why): poll instead."""


class LiveTail:
    """One Live Tail session on one stream, read on a thread; `drain()` returns what came since."""

    def __init__(self, logs: Any, group_arn: str, stream: str) -> None:
        self.stream = stream
        self.ended: str | None = None  # why the session ended early (a timeout, a stream error)
        self._lines: queue.Queue[LogLine] = queue.Queue()
        try:
            answer = logs.start_live_tail(logGroupIdentifiers=[group_arn], logStreamNames=[stream])
        except (ClientError, BotoCoreError) as e:
            raise LiveTailUnavailable(f"{type(e).__name__}: {e}") from e
        self._events: Any = answer["responseStream"]
        self._thread = threading.Thread(target=self._read, name="live-tail", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            self._take(self._events)
        except (ClientError, BotoCoreError, OSError, ValueError) as e:
            # A closed stream ends the same way (close() below): only an unexpected end is news.
            self.ended = self.ended or f"{type(e).__name__}: {e}"
        else:
            self.ended = self.ended or "the Live Tail session ended"

    def _take(self, events: Iterable[Mapping[str, Any]]) -> None:
        for event in events:
            for line in lines_of(event, self.stream):
                self._lines.put(line)

    def drain(self) -> list[LogLine]:
        out: list[LogLine] = []
        while True:
            try:
                out.append(self._lines.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        """End the session (closing its stream ends it: StartLiveTail's documentation)."""
        self.ended = self.ended or "closed"
        close = getattr(self._events, "close", None)
        if close is not None:
            with contextlib.suppress(OSError, ValueError):  # already closed by the server
                close()
        self._thread.join(timeout=5)
