"""One function's runtime: imports the handler from its CodeUri and layers only, and serves invocations.

Started by ``local.functions`` as ``python -I local/runtime.py ...`` with the function's environment,
so the handler sees what Lambda would give it: its own package, the layer, the installed
libraries and environment variables from the template, nothing from the repository root.
Standard library only (it must not import anything the function would not have).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REGION = os.environ.get("AWS_REGION", "us-east-1")


class LambdaContext:
    """The attributes of Lambda's Python context object that handlers and Powertools read."""

    def __init__(self, invoked_as: str, request_id: str, memory_mb: int, timeout_s: int) -> None:
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
        self.log_stream_name = f"local/{os.getpid()}"
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(dotted: str) -> Any:
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def make_server(handler: Any, memory_mb: int, timeout_s: int) -> ThreadingHTTPServer:
    class Invocation(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request_id = self.headers.get("X-Request-Id") or str(uuid.uuid4())
            context = LambdaContext(
                self.headers.get("X-Invoked-As", "function"), request_id, memory_mb, timeout_s
            )
            error = False
            try:
                event = json.loads(body) if body else {}
                out = json.dumps(handler(event, context)).encode()
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
            self.send_response(200)
            if error:
                self.send_header("X-Function-Error", "Unhandled")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Invocation)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--code", required=True, help="the function's CodeUri")
    parser.add_argument("--layer", action="append", default=[], help="a layer's ContentUri")
    parser.add_argument("--memory", type=int, default=128)
    parser.add_argument("--timeout", type=int, default=3)
    parser.add_argument("--port-file", required=True, help="where to write the port once serving")
    args = parser.parse_args()
    del sys.path[0]  # this file's folder: not part of any function
    sys.path[:0] = [args.code, *args.layer]
    server = make_server(load_handler(args.handler), args.memory, args.timeout)
    tmp = f"{args.port_file}.tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
