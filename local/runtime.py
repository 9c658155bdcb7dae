"""One execution environment's runtime: imports the handler from its CodeUri and layers only, then
runs one invocation at a time, as a Lambda execution environment does.

Started by ``local.functions`` as ``python -I local/runtime.py ...`` with the function's environment,
so the handler sees what Lambda would give it: its own package, the layer, the installed
libraries and environment variables from the template, nothing from the repository root.
Standard library only (it must not import anything the function would not have).

Protocol with ``local.functions``: once the handler is imported (Lambda's Init phase) the runtime
writes one JSON line to ``--ready-fd``: ``{"port": N}``, or the init error Lambda would report
(``{"errorType": ..., "errorMessage": ...}``) and exits. Then each ``POST /`` is one invocation; its
answer carries ``X-Function-Error`` when the handler failed. A handler that runs out of memory ends
the process with ``EXIT_OUT_OF_MEMORY``: Lambda stops such an environment, it never answers.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

REGION = os.environ.get("AWS_REGION", "us-east-1")
EXIT_OUT_OF_MEMORY = 86  # the exit status local.functions reads as Lambda's Runtime.OutOfMemory


class InitError(Exception):
    """The handler cannot be loaded; ``error_type`` is the one Lambda's Python runtime reports
    (awslambdaric bootstrap: Runtime.ImportModuleError, Runtime.HandlerNotFound, ...)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class LambdaContext:
    """The attributes of Lambda's Python context object that handlers and Powertools read."""

    def __init__(
        self, invoked_as: str, request_id: str, memory_mb: int, deadline_ms: int, log_stream: str
    ) -> None:
        name, _, qualifier = invoked_as.rpartition(":function:")[2].partition(":")
        self.function_name = name
        self.function_version = qualifier if qualifier.isdigit() else "$LATEST"
        account = os.environ.get("LOCAL_ACCOUNT_ID", "123456789012")
        self.invoked_function_arn = (
            invoked_as
            if invoked_as.startswith("arn:")
            else f"arn:aws:lambda:{REGION}:{account}:function:{invoked_as}"
        )
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = log_stream
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms  # Lambda's Lambda-Runtime-Deadline-Ms: epoch milliseconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def load_handler(dotted: str) -> Any:
    """The handler, or the InitError Lambda's Python runtime gives for it."""
    module_name, _, attr = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise InitError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {e}") from e
    except SyntaxError as e:
        raise InitError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {e}") from e
    handler = getattr(module, attr, None)
    if handler is None:
        raise InitError("Runtime.HandlerNotFound", f"Handler '{attr}' missing on module '{module_name}'")
    return handler


def make_server(handler: Any, memory_mb: int, log_stream: str) -> HTTPServer:
    class Invocation(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            try:
                self._invoke()
            except MemoryError:
                # Lambda stops an environment over its memory: no answer, no cleanup.
                os._exit(EXIT_OUT_OF_MEMORY)

        def _invoke(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request_id = self.headers.get("X-Request-Id") or str(uuid.uuid4())
            deadline_ms = int(self.headers.get("X-Deadline-Ms") or time.time() * 1000 + 3000)
            context = LambdaContext(
                self.headers.get("X-Invoked-As", "function"), request_id, memory_mb, deadline_ms, log_stream
            )
            error = False
            try:
                event = json.loads(body) if body else {}
                out = json.dumps(handler(event, context)).encode()
            except MemoryError:
                raise
            except Exception as e:  # noqa: BLE001 - Lambda reports any handler error as "Unhandled"
                error = True
                out = json.dumps(
                    {
                        "errorMessage": str(e),
                        "errorType": type(e).__name__,
                        "requestId": request_id,
                        "stackTrace": traceback.format_exception(e),
                    }
                ).encode()
                traceback.print_exception(e)
            sys.stdout.flush()
            if over_memory(memory_mb):
                raise MemoryError(f"peak resident memory over {memory_mb} MB")
            self.send_response(200)
            if error:
                self.send_header("X-Function-Error", "Unhandled")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            return

    # Not a ThreadingHTTPServer: an environment runs one invocation at a time, as in Lambda.
    return HTTPServer(("127.0.0.1", 0), Invocation)


# Lambda allows 1,024 processes or threads an execution environment (Lambda quotas); each thread
# reserves an 8 MB stack of address space (ulimit -s 8192) and uses only the pages it touches.
THREADS_MAX, THREAD_STACK_MB = 1024, 8
MEMORY_CHECK_SECONDS = 0.02


def peak_rss_mb() -> float:
    """VmHWM: the most resident memory this process has had, Lambda's "Max Memory Used"."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def over_memory(memory_mb: int) -> bool:
    return peak_rss_mb() > memory_mb


def limit_memory(memory_mb: int) -> None:
    """MemorySize as Lambda meters it, by the memory used (resident), not reserved: past it the
    environment ends (EXIT_OUT_OF_MEMORY, Runtime.OutOfMemory), checked every
    MEMORY_CHECK_SECONDS and at the end of each invocation (peak_rss_mb, so a spike freed before
    the end counts too). RLIMIT_DATA stays as the backstop that stops a runaway allocation at
    once: MemorySize plus the stacks of Lambda's most threads, which are reserved, not used (a
    limit of MemorySize alone refused the SDK's map its 30th thread at 256 MB). Not RLIMIT_AS:
    glibc reserves 64 MB of address space per thread arena."""
    limit = (memory_mb + THREADS_MAX * THREAD_STACK_MB) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

    def watch() -> None:
        while not over_memory(memory_mb):
            time.sleep(MEMORY_CHECK_SECONDS)
        os._exit(EXIT_OUT_OF_MEMORY)  # Lambda stops an environment over its memory: no answer

    threading.Thread(target=watch, name="memory-size", daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--code", required=True, help="the function's CodeUri")
    parser.add_argument("--layer", action="append", default=[], help="a layer's ContentUri")
    parser.add_argument("--memory", type=int, default=128)
    parser.add_argument("--log-stream", required=True, help="this environment's log stream name")
    parser.add_argument("--ready-fd", type=int, required=True, help="where to say the Init phase ended")
    args = parser.parse_args()
    limit_memory(args.memory)
    del sys.path[0]  # this file's folder: not part of any function
    sys.path[:0] = [args.code, *args.layer]
    with os.fdopen(args.ready_fd, "w") as ready:
        try:
            handler = load_handler(args.handler)
        except InitError as e:
            ready.write(json.dumps({"errorType": e.error_type, "errorMessage": str(e)}) + "\n")
            raise SystemExit(1) from None
        except Exception as e:  # noqa: BLE001 - an error at import is the invocation's error in Lambda
            traceback.print_exception(e)
            ready.write(json.dumps({"errorType": type(e).__name__, "errorMessage": str(e)}) + "\n")
            raise SystemExit(1) from None
        server = make_server(handler, args.memory, args.log_stream)
        ready.write(json.dumps({"port": server.server_address[1]}) + "\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
