"""The local Lambda: each function of template.yaml runs in execution environments, behind one
Invoke endpoint.

The endpoint speaks Lambda's Invoke API (``POST /2015-03-31/functions/{name}/invocations``):
- a durable function invoked by a caller starts a durable execution at the durable runner, which
  is what Lambda does, and answers with its ARN in ``X-Amz-Durable-Execution-Arn``; only by a
  qualified name or ARN (a version, an alias or ``$LATEST``), as Lambda requires;
- an invocation the durable runner sends (marked ``X-Dex-Handler-Invoke``), and any invocation of
  a plain function, runs the handler in one of that function's execution environments;
- the durable execution APIs (``/2025-12-01/...``: callbacks, history, stop) are passed to the
  durable runner, so one endpoint serves all of Lambda, as in the cloud.

Execution environments, as Lambda runs them (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html):
- an environment is a process (``local/runtime.py``) that runs one invocation at a time, so
  module-level state (Powertools Metrics, cached clients) is never shared by concurrent invocations;
- a new invocation takes an idle environment (warm) or starts a new one (a cold start: a new
  process imports the handler), up to the function's concurrency: ``ReservedConcurrentExecutions``
  if the template sets it, else the local cloud's per-function cap (``DEFAULT_CONCURRENCY``);
- at the cap, a synchronous invoke is refused with 429 TooManyRequestsException; an asynchronous
  (``Event``) one waits in the function's queue, and so does the durable runner's (see ``route``);
- the function's Timeout is enforced: the environment is stopped and the invocation fails with
  ``Sandbox.Timedout``; MemorySize as far as ``runtime.limit_memory`` can: ``Runtime.OutOfMemory``.
  A stopped environment is replaced by a cold start when one is next needed.
Each invocation is recorded in ``invocations.jsonl`` (with its environment and whether it was a
cold start) and framed in the function's log by Lambda's START / END / REPORT lines.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, unquote, urlsplit

from local.durable import ExecutionNameRefused
from local.journal import Journal
from local.runtime import EXIT_OUT_OF_MEMORY
from local.template import Function

_HOP_HEADERS = {"transfer-encoding", "content-length", "connection", "server", "date"}
RUNTIME = Path(__file__).with_name("runtime.py")
DEX_MARKER_HEADER = "X-Dex-Handler-Invoke"  # aws_durable_execution_sdk_python_testing.invoker
# Per function, when the template reserves none: what a new AWS account may get as its whole
# concurrency quota, and what 2 cores can start and hold (an environment is a ~60 MB process).
DEFAULT_CONCURRENCY = 10
# "The Init phase is limited to 10 seconds. If all three tasks do not complete within 10 seconds,
# Lambda retries the Init phase at the time of the first function invocation with the configured
# function timeout." (Lambda developer guide, "Understanding the Lambda execution environment lifecycle")
INIT_LIMIT_SECONDS = 10.0
# Lambda waits 1 minute, then 2, between the attempts of a failed asynchronous invocation
# (developer guide, "Error handling and automatic retries"); scaled down like the bus's delays.
ASYNC_RETRY_DELAY_SECONDS = 0.2
# botocore Invoke model: "You cannot invoke a durable function using an unqualified ARN" is answered
# as InvalidParameterValueException (400); the text as Lambda gives it (quoted in
# serverless/serverless#13589 and aws-durable-execution-sdk-js#109).
UNQUALIFIED_DURABLE = "You cannot invoke a durable function using an unqualified ARN."


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


def lambda_error(status: int, code: str, message: str, **extra: str) -> Reply:
    body = json.dumps({"Type": "User", "message": message, **extra, "__type": code}).encode()
    return Reply(status, body, {"x-amzn-ErrorType": code, "Content-Type": "application/json"})


class Outcome(StrEnum):
    """How an invocation ended (``outcome`` in invocations.jsonl)."""

    SUCCEEDED = "succeeded"
    FUNCTION_ERROR = "function-error"  # the handler raised, or could not be loaded
    TIMED_OUT = "timed-out"
    OUT_OF_MEMORY = "out-of-memory"
    EXITED = "exited"  # the runtime process ended during the invocation


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    payload: bytes

    @property
    def failed(self) -> bool:
        return self.outcome is not Outcome.SUCCEEDED


def platform_error(error_type: str, request_id: str, error: str) -> bytes:
    """The payload Lambda answers when the environment, not the handler, ends an invocation, e.g.
    ``{"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: <id> Error: Task timed out after
    3.00 seconds"}`` (as reported by users of the Lambda console; the text is not in the API model)."""
    return json.dumps(
        {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {error}"}
    ).encode()


class FunctionLog:
    """A function's log (``logs/<Function>.log``), written whole lines at a time by every
    environment of the function, as its CloudWatch log group gathers their log streams."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self._lock = threading.Lock()

    def write(self, line: bytes) -> None:
        with self._lock:
            if self._file.closed:  # a killed environment's last words, after the cloud stopped
                return
            self._file.write(line if line.endswith(b"\n") else line + b"\n")
            self._file.flush()

    def copy(self, source: IO[bytes]) -> None:
        """Copy an environment's output until it ends (run in a thread of its own)."""
        for line in source:
            self.write(line)

    def close(self) -> None:
        with self._lock:
            self._file.close()


class Environment:
    """One execution environment: a runtime process that runs one invocation at a time."""

    def __init__(self, function: Function, env: dict[str, str], log: FunctionLog) -> None:
        self.function = function
        self.id = uuid.uuid4().hex
        # Lambda's log stream name of an environment: "2024/01/31/[$LATEST]<32 hex digits>".
        self.log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{self.id}"
        self.invocations = 0
        self.invoke_began = 0.0
        self.port: int | None = None
        self.init_error: bytes | None = None
        self.init_seconds = 0.0
        ready_r, ready_w = os.pipe()
        args = [
            sys.executable,
            "-I",
            str(RUNTIME),
            "--handler",
            function.handler,
            "--code",
            str(function.code_uri),
        ]
        for layer in function.layers:
            args += ["--layer", str(layer)]
        args += ["--memory", str(function.memory_mb), "--log-stream", self.log_stream]
        args += ["--ready-fd", str(ready_w)]
        self.started = time.monotonic()
        started = False
        try:
            # In the cloud's process group (``python -m local down`` ends it with the group).
            self.process = subprocess.Popen(
                args,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                pass_fds=(ready_w,),
            )
            started = True
        finally:
            os.close(ready_w)
            if not started:  # whatever stopped the start, the read end would leak
                os.close(ready_r)
        self._ready = ready_r  # read (and closed) by the first invocation, in _await_init
        assert self.process.stdout is not None
        threading.Thread(
            target=log.copy, args=(self.process.stdout,), name=f"log-{self.id[:8]}", daemon=True
        ).start()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """SIGKILL, as Lambda stops an environment that timed out or ran out of memory."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def max_memory_mb(self) -> int | None:
        """Peak resident memory of the environment (VmHWM), Lambda's "Max Memory Used"."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
        return None

    def _await_init(self, deadline: float) -> float | None:
        """Wait for the runtime's "ready" line; returns when it came (monotonic), None past the deadline."""
        line = b""
        try:
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._ready], [], [], left)[0]:
                    return None
                chunk = os.read(self._ready, 4096)
                if not chunk:
                    break  # the runtime ended without a word: its exit status says why
                line += chunk
        finally:
            os.close(self._ready)
        ready_at = time.monotonic()
        self.init_seconds = ready_at - self.started
        message = json.loads(line) if line.strip() else {}
        if "port" in message:
            self.port = int(message["port"])
        else:
            self.init_error = json.dumps(message).encode() if message else b""
        return ready_at

    def invoke(self, payload: bytes, invoked_as: str, request_id: str) -> Result:
        timeout = self.function.timeout_seconds
        self.invocations += 1
        self.invoke_began = time.monotonic()  # Lambda's "Duration" runs from here (Init excluded)
        if self.port is None and self.init_error is None:
            ready_at = self._await_init(self.started + INIT_LIMIT_SECONDS + timeout)
            if ready_at is None:
                return self._timed_out(request_id)
            # Init beyond INIT_LIMIT_SECONDS counts against the invocation's Timeout.
            deadline = min(ready_at, self.started + INIT_LIMIT_SECONDS) + timeout
            self.invoke_began = ready_at
        else:
            deadline = self.invoke_began + timeout
        if self.init_error is not None:
            if not self.init_error:  # it ended without saying why: its exit status does
                return self._exited(request_id)
            self.stop()  # Lambda initializes a new environment for the next invocation
            return Result(Outcome.FUNCTION_ERROR, self.init_error)
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=max(deadline - time.monotonic(), 0.001)
        )
        deadline_ms = int((time.time() + deadline - time.monotonic()) * 1000)
        try:
            conn.request(
                "POST",
                "/",
                body=payload,
                headers={
                    "X-Invoked-As": invoked_as,
                    "X-Request-Id": request_id,
                    "X-Deadline-Ms": str(deadline_ms),
                },
            )
            resp = conn.getresponse()
            body = resp.read()
        except TimeoutError:
            return self._timed_out(request_id)
        except (OSError, http.client.HTTPException):
            return self._exited(request_id)
        finally:
            conn.close()
        return Result(
            Outcome.FUNCTION_ERROR if resp.getheader("X-Function-Error") else Outcome.SUCCEEDED, body
        )

    def _timed_out(self, request_id: str) -> Result:
        self.stop()
        text = f"Task timed out after {self.function.timeout_seconds:.2f} seconds"
        return Result(Outcome.TIMED_OUT, platform_error("Sandbox.Timedout", request_id, text))

    def _exited(self, request_id: str) -> Result:
        """The runtime ended mid-invocation: out of memory (see runtime.py), or it exited or crashed."""
        status = self.process.wait()
        if status == EXIT_OUT_OF_MEMORY:
            # Lambda's OOM: the environment is killed ("signal: killed"); errorType Runtime.OutOfMemory.
            error = platform_error(
                "Runtime.OutOfMemory", request_id, "Runtime exited with error: signal: killed"
            )
            return Result(Outcome.OUT_OF_MEMORY, error)
        how = f"signal: {_signal_name(-status)}" if status < 0 else f"exit status {status}"
        error = platform_error("Runtime.ExitError", request_id, f"Runtime exited with error: {how}")
        return Result(Outcome.EXITED, error)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name.removeprefix("SIG").lower()
    except ValueError:
        return str(number)


class Closed(RuntimeError):
    """The local cloud is stopping: no more invocations."""


class Environments:
    """One function's execution environments, its concurrency, and its asynchronous-invocation queue."""

    def __init__(
        self,
        function: Function,
        env: dict[str, str],
        state_dir: Path,
        concurrency: int = DEFAULT_CONCURRENCY,
        async_retry_delay: float = ASYNC_RETRY_DELAY_SECONDS,
    ) -> None:
        self.function, self.env = function, env
        reserved = function.reserved_concurrency
        self.concurrency = concurrency if reserved is None else reserved
        # botocore Lambda model, ThrottleReason: the function's own reservation, or the account's pool.
        self.throttle_reason = (
            "ConcurrentInvocationLimitExceeded"
            if reserved is None
            else "ReservedFunctionConcurrentInvocationLimitExceeded"
        )
        self.async_retry_delay = async_retry_delay
        self.log = FunctionLog(state_dir / "logs" / f"{function.logical_id}.log")
        # When each invocation began and ended (the bench's latency hops), keyed by what the payload
        # names: an EventBridge event's id, or the durable execution an invocation drives.
        self.journal = Journal(state_dir / "invocations.jsonl")
        self.created = 0  # environments started so far (each one a cold start)
        self._idle: list[Environment] = []
        self._all: set[Environment] = set()
        self._slots = 0  # environments that exist or are starting: at most `concurrency`
        self._cond = threading.Condition()
        self._closed = threading.Event()

    # -- environments -----------------------------------------------------------------------
    def _take(self, wait: bool) -> Environment | None:
        """An idle environment, or a new one while under the cap; at the cap, None (``wait=False``)
        or the next one freed."""
        with self._cond:
            while True:
                if self._closed.is_set():
                    raise Closed(self.function.logical_id)
                while self._idle:
                    environment = self._idle.pop()  # the most recently used one, as Lambda prefers
                    if environment.alive:
                        return environment
                    self._forget(environment)
                if self._slots < self.concurrency:
                    self._slots += 1
                    break
                if not wait:
                    return None
                self._cond.wait()
        fresh: Environment | None = None
        try:
            fresh = Environment(self.function, self.env, self.log)
        finally:
            if fresh is None:  # not started: give its slot back to a waiting invocation
                with self._cond:
                    self._slots -= 1
                    self._cond.notify()
        with self._cond:
            self._all.add(fresh)
            self.created += 1
            if not self._closed.is_set():
                return fresh
            self._forget(fresh)  # close() ran while it started
        raise Closed(self.function.logical_id)

    def _give_back(self, environment: Environment) -> None:
        with self._cond:
            if environment.alive and not self._closed.is_set():
                self._idle.append(environment)
            else:
                self._forget(environment)
            self._cond.notify()

    def _forget(self, environment: Environment) -> None:
        """Caller holds the lock."""
        self._all.discard(environment)
        self._slots -= 1
        environment.stop()

    def close(self) -> None:
        """Stop every environment (a running invocation fails) and refuse further invocations."""
        self._closed.set()
        with self._cond:
            environments = list(self._all)
            self._cond.notify_all()
        for environment in environments:
            environment.stop()
        self.log.close()

    # -- invocations ------------------------------------------------------------------------
    def invoke(self, payload: bytes, invoked_as: str, request_id: str, wait: bool) -> Result | None:
        """Run one invocation in an environment; None if throttled (at the cap and ``wait=False``)."""
        subject = _subject(payload)
        record = {"function": self.function.logical_id, "requestId": request_id, **subject}
        environment = self._take(wait=False)
        if environment is None:
            if not wait:
                self.journal.write(**record, phase="throttled")
                return None
            self.journal.write(**record, phase="waiting")
            environment = self._take(wait=True)
            assert environment is not None
        cold = environment.invocations == 0
        self.journal.write(**record, phase="start", environment=environment.id, coldStart=cold)
        kind = "cold" if cold else "warm"
        self.log.write(
            f"START RequestId: {request_id} Version: $LATEST Environment: {environment.id} ({kind})".encode()
        )
        try:
            result = environment.invoke(payload, invoked_as, request_id)
        finally:
            self._give_back(environment)
        took = (time.monotonic() - environment.invoke_began) * 1000
        self.log.write(f"END RequestId: {request_id}".encode())
        report = f"REPORT RequestId: {request_id}\tDuration: {took:.2f} ms"
        report += f"\tMemory Size: {self.function.memory_mb} MB"
        if (used := environment.max_memory_mb()) is not None:
            report += f"\tMax Memory Used: {used} MB"
        if cold:
            report += f"\tInit Duration: {environment.init_seconds * 1000:.2f} ms"
        if result.outcome in (Outcome.TIMED_OUT, Outcome.OUT_OF_MEMORY, Outcome.EXITED):
            report += f"\tStatus: {result.outcome.value}"
        self.log.write(report.encode())
        self.journal.write(
            **record, phase="end", environment=environment.id, coldStart=cold, outcome=result.outcome.value
        )
        return result

    def enqueue(self, payload: bytes, invoked_as: str, request_id: str) -> None:
        """An asynchronous invocation: queued until an environment is free, its function errors
        retried ``EventInvokeConfig.MaximumRetryAttempts`` times, as Lambda's async queue does.
        (The on-failure destination of a direct Event invoke is not delivered locally; the event
        bus, which invokes synchronously, delivers its own.)"""
        self.journal.write(
            function=self.function.logical_id, requestId=request_id, phase="queued", **_subject(payload)
        )
        threading.Thread(
            target=self._run_queued, args=(payload, invoked_as, request_id), name="async-invoke", daemon=True
        ).start()

    def _run_queued(self, payload: bytes, invoked_as: str, request_id: str) -> None:
        attempts = 1 + self.function.async_retry_attempts
        for attempt in range(attempts):
            try:
                result = self.invoke(payload, invoked_as, request_id, wait=True)
            except Closed:
                return
            if result is not None and not result.failed:
                return
            if attempt + 1 < attempts and self._closed.wait(self.async_retry_delay * 2**attempt):
                return
        self.journal.write(
            function=self.function.logical_id,
            requestId=request_id,
            phase="retries-exhausted",
            attempts=attempts,
            **_subject(payload),
        )


def _subject(payload: bytes) -> dict[str, str]:
    """What an invocation is about: the event's id, or the durable execution's ARN (never the
    payload itself, which can hold a callback id)."""
    try:
        body = json.loads(payload) if payload else None
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    if isinstance(body.get("DurableExecutionArn"), str):
        return {"executionArn": body["DurableExecutionArn"]}
    return {"eventId": body["id"]} if isinstance(body.get("id"), str) else {}


class LambdaEndpoint:
    """``ThreadingHTTPServer`` on 127.0.0.1 routing Invoke calls to environments or the durable runner."""

    def __init__(
        self,
        functions: dict[str, Function],
        environments: dict[str, Environments],
        start_execution: Callable[[Function, str, str | None, bytes], str],
        durable_url: str,
    ) -> None:
        self.functions, self.environments, self.start_execution = functions, environments, start_execution
        # IAM for role-signed calls (local/authz.py LambdaGate): a refusal, or None to go on.
        self.authorize: Callable[[str, str, Any, bytes], Reply | None] | None = None
        self.durable = urlsplit(durable_url)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), name="lambda-endpoint", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def resolve(self, name: str, qualifier: str | None) -> tuple[Function, str, str | None] | None:
        """Function name, partial or full ARN, with or without a qualifier -> (function, name, qualifier)."""
        bare = name.rpartition(":function:")[2] if ":function:" in name else name
        bare, _, qual = bare.partition(":")
        function = self.functions.get(bare)
        return (function, bare, qualifier or qual or None) if function else None

    def forward(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        """A durable execution API call, passed to the durable runner as it came."""
        conn = http.client.HTTPConnection(self.durable.netloc, timeout=30)
        try:
            keep = {
                k: v
                for k, v in headers.items()
                if k.lower() in ("content-type", "x-amz-date", "authorization")
            }
            try:
                conn.request(method, path, body=body or None, headers=keep)
                resp = conn.getresponse()
            except OSError as e:
                return lambda_error(502, "ServiceException", f"durable runner unreachable: {e}")
            return Reply(
                resp.status,
                resp.read(),
                {k: v for k, v in resp.getheaders() if k.lower() not in _HOP_HEADERS},
            )
        finally:
            conn.close()

    def route(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        refused = self.authorize(method, path, headers, body) if self.authorize else None
        if refused is not None:
            return refused
        url = urlsplit(path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        if parts[0] == "2025-12-01":
            return self.forward(method, path, headers, body)
        if (
            len(parts) != 4
            or parts[0] != "2015-03-31"
            or parts[1] != "functions"
            or parts[3] != "invocations"
        ):
            return lambda_error(
                404, "UnknownOperationException", f"the local Lambda serves only Invoke, not {path}"
            )
        qualifier = parse_qs(url.query).get("Qualifier", [None])[0]
        found = self.resolve(parts[2], qualifier)
        if found is None:
            return lambda_error(404, "ResourceNotFoundException", f"Function not found: {parts[2]}")
        function, name, qualifier = found
        if function.durable is not None and qualifier is None:
            return lambda_error(400, "InvalidParameterValueException", UNQUALIFIED_DURABLE)
        invoked_as = f"{name}:{qualifier}" if qualifier else name
        invocation_type = headers.get("X-Amz-Invocation-Type", "RequestResponse")
        dex = bool(headers.get(DEX_MARKER_HEADER))
        if function.durable is not None and not dex:
            return self._start_durable(function, invoked_as, invocation_type, headers, body)
        return self._invoke(function, invoked_as, invocation_type, dex, body)

    def _start_durable(
        self, function: Function, invoked_as: str, invocation_type: str, headers: Any, body: bytes
    ) -> Reply:
        """Invoking a durable function (not by the durable runner) starts an execution."""
        if invocation_type != "Event":
            return lambda_error(
                400,
                "InvalidParameterValueException",
                "the local cloud starts durable executions with InvocationType=Event only",
            )
        try:
            arn = self.start_execution(
                function, invoked_as, headers.get("X-Amz-Durable-Execution-Name"), body
            )
        except ExecutionNameRefused as e:
            return lambda_error(e.status, e.code, str(e))
        except Exception as e:  # noqa: BLE001 - reported to the caller as Lambda would
            return lambda_error(502, "ServiceException", f"durable runner refused the execution: {e}")
        return Reply(202, b"", {"X-Amz-Durable-Execution-Arn": arn, "Content-Length": "0"})

    def _invoke(
        self, function: Function, invoked_as: str, invocation_type: str, dex: bool, body: bytes
    ) -> Reply:
        """An invocation in one of the function's execution environments."""
        environments = self.environments[function.logical_id]
        request_id = str(uuid.uuid4())
        if invocation_type == "Event":
            environments.enqueue(body, invoked_as, request_id)
            return Reply(202, b"", {"x-amzn-RequestId": request_id})
        # The durable runner's invocation at the cap waits for an environment rather than taking a
        # 429: in Lambda the durable service invokes the function itself and retries a throttled
        # invocation; the local runner would count each 429 as a failed attempt and fail the
        # execution after 5 (MAX_CONSECUTIVE_FAILED_ATTEMPTS), which Lambda does not do.
        try:
            result = environments.invoke(body, invoked_as, request_id, wait=dex)
        except Closed:
            return lambda_error(503, "ServiceException", "the local cloud is stopping")
        if result is None:
            # botocore Lambda model, Invoke: TooManyRequestsException (429) "if running the function
            # would cause you to exceed a concurrency limit", with its ThrottleReason.
            return lambda_error(
                429, "TooManyRequestsException", "Rate Exceeded.", Reason=environments.throttle_reason
            )
        reply_headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
        if result.failed:
            reply_headers["X-Amz-Function-Error"] = "Unhandled"
        return Reply(200, result.payload, reply_headers)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    reply = endpoint.route(self.command, self.path, self.headers, body)
                except OSError as e:  # an environment could not be started
                    reply = lambda_error(502, "ServiceException", f"function runtime unavailable: {e}")
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in reply.headers:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_PUT = do_DELETE = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
