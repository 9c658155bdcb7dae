"""The local Lambda: one runtime process per function of template.yaml, behind one Invoke endpoint.

The endpoint speaks Lambda's Invoke API (``POST /2015-03-31/functions/{name}/invocations``):
- a durable function invoked by a caller starts a durable execution at the durable runner, which
  is what Lambda does, and answers with its ARN in ``X-Amz-Durable-Execution-Arn``;
- an invocation the durable runner sends (marked ``X-Dex-Handler-Invoke``), and any invocation of
  a plain function, runs the handler in that function's runtime process;
- the durable execution APIs (``/2025-12-01/...``: callbacks, history, stop) are passed to the
  durable runner, so one endpoint serves all of Lambda, as in the cloud.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from subprocess import Popen
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from local import proc
from local.journal import Journal
from local.template import Function

_HOP_HEADERS = {"transfer-encoding", "content-length", "connection", "server", "date"}
RUNTIME = Path(__file__).with_name("runtime.py")
DEX_MARKER_HEADER = "X-Dex-Handler-Invoke"  # aws_durable_execution_sdk_python_testing.invoker


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


def lambda_error(status: int, code: str, message: str) -> Reply:
    body = json.dumps({"Type": "User", "message": message, "__type": code}).encode()
    return Reply(status, body, {"x-amzn-ErrorType": code, "Content-Type": "application/json"})


class Runtime:
    """A function's runtime process (``local/runtime.py``)."""

    def __init__(self, function: Function, env: dict[str, str], state_dir: Path) -> None:
        self.function = function
        port_file = state_dir / "run" / f"{function.logical_id}.port"
        port_file.parent.mkdir(parents=True, exist_ok=True)
        port_file.unlink(missing_ok=True)
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
        args += ["--memory", str(function.memory_mb), "--timeout", str(function.timeout_seconds)]
        args += ["--port-file", str(port_file)]
        self.process: Popen[bytes] = proc.start(args, state_dir / "logs" / f"{function.logical_id}.log", env)
        self.port_file = port_file
        self.port = 0
        # When each invocation began and ended (the bench's latency hops), keyed by what the payload
        # names: an EventBridge event's id, or the durable execution an invocation drives.
        self.journal = Journal(state_dir / "invocations.jsonl")

    def wait_ready(self, timeout: float) -> None:
        def ready() -> int | None:
            if self.process.poll() is not None:
                raise proc.NotReady(
                    f"{self.function.logical_id} exited with {self.process.returncode}; see its log"
                )
            return int(self.port_file.read_text()) if self.port_file.exists() else None

        self.port = proc.wait_for(f"function {self.function.logical_id}", ready, timeout)

    def invoke(self, payload: bytes, invoked_as: str, request_id: str) -> Reply:
        subject = _subject(payload)
        self.journal.write(function=self.function.logical_id, requestId=request_id, phase="start", **subject)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.function.timeout_seconds + 60)
        try:
            conn.request(
                "POST", "/", body=payload, headers={"X-Invoked-As": invoked_as, "X-Request-Id": request_id}
            )
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
            self.journal.write(
                function=self.function.logical_id, requestId=request_id, phase="end", **subject
            )
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
        if resp.getheader("X-Function-Error"):
            headers["X-Amz-Function-Error"] = "Unhandled"
        return Reply(200, body, headers)


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
    """``ThreadingHTTPServer`` on 127.0.0.1 routing Invoke calls to runtimes or the durable runner."""

    def __init__(
        self,
        functions: dict[str, Function],
        runtimes: dict[str, Runtime],
        start_execution: Callable[[Function, str, str | None, bytes], str],
        durable_url: str,
    ) -> None:
        self.functions, self.runtimes, self.start_execution = functions, runtimes, start_execution
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
        invoked_as = f"{name}:{qualifier}" if qualifier else name
        invocation_type = headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if function.durable is not None and not headers.get(DEX_MARKER_HEADER):
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
            except Exception as e:  # noqa: BLE001 - reported to the caller as Lambda would
                return lambda_error(502, "ServiceException", f"durable runner refused the execution: {e}")
            return Reply(202, b"", {"X-Amz-Durable-Execution-Arn": arn, "Content-Length": "0"})
        runtime = self.runtimes[function.logical_id]
        request_id = str(uuid.uuid4())
        if invocation_type == "Event":
            threading.Thread(target=runtime.invoke, args=(body, invoked_as, request_id), daemon=True).start()
            return Reply(202, b"", {"x-amzn-RequestId": request_id})
        return runtime.invoke(body, invoked_as, request_id)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    reply = endpoint.route(self.command, self.path, self.headers, body)
                except OSError as e:  # the runtime process is gone
                    reply = lambda_error(502, "ServiceException", f"function runtime unreachable: {e}")
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
