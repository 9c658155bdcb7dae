"""The durable control plane: the official local runner (``dex-local-runner``) with its sqlite store.

It keeps executions, checkpoints and callbacks, and drives each execution by invoking the
function at the local Lambda endpoint. It runs as its own process so it can be stopped and
started again while tasks run: the sqlite file keeps every execution across the restart.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
import urllib.request
import uuid
from enum import Enum
from pathlib import Path
from subprocess import Popen
from typing import IO

from ecs_contract.names import redact
from local import proc
from local.template import ROOT, Function

# The runner logs callback ids whole (e.g. "Callback <id> timed out"); they are bearer tokens.
CALLBACK_ID = re.compile(r"eyJhcm4iOi[A-Za-z0-9+/=%]{40,}")

# The runner's CLI, with execution ARNs shaped as Lambda's (local/dex_runner.py).
RUNNER = [sys.executable, "-m", "local.dex_runner"]
# Durable operations allowed per execution, for the runner's process (local/dex_runner.py): unset,
# AWS's quota (ecs_contract.limits.DURABLE_OPERATIONS_MAX); `up --max-durable-operations N` sets it.
MAX_OPERATIONS_ENV = "LOCAL_MAX_DURABLE_OPERATIONS"
# botocore Lambda model, InvocationRequest.DurableExecutionName: min 1, max 64, pattern [a-zA-Z0-9-_]+.
EXECUTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


# The local cloud "publishes" one version of each function, which its alias (AutoPublishAlias) names.
LOCAL_VERSION = "1"


def executed_version(qualifier: str) -> str:
    """The version an invocation runs: a version or $LATEST as given; an alias, the version it names.
    An execution runs on, and its ARN names, that version, never the alias (IAM for the durable
    APIs authorizes on function:NAME:VERSION/durable-execution/...; aliases do not apply)."""
    return qualifier if not qualifier or qualifier.isdigit() or qualifier == "$LATEST" else LOCAL_VERSION


class ExecutionNameRefused(ValueError):
    """Invoke refused for its DurableExecutionName; ``code`` and ``status`` are Lambda's answer."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status = code, status


class DurableStore(Enum):
    """Where the runner keeps its executions. SQLITE (the default) survives a restart of the runner;
    it writes the whole execution at every checkpoint, so an execution of thousands of operations
    costs it seconds of CPU a second. MEMORY keeps them in the runner's process only: for
    benchmarks of large executions, whose figures should be ours, not the store's."""

    SQLITE = "sqlite"
    MEMORY = "memory"


class DurableRunner:
    def __init__(
        self,
        port: int,
        lambda_url: str,
        state_dir: Path,
        region: str,
        account: str,
        skip_time: bool = False,
        max_operations: int | None = None,
        store: DurableStore = DurableStore.SQLITE,
    ) -> None:
        self.port, self.lambda_url, self.state_dir = port, lambda_url, state_dir
        self.store_type = store
        self.region, self.account, self.skip_time = region, account, skip_time
        # Durable operations per execution (local/dex_runner.py); None: AWS's quota.
        self.max_operations = max_operations
        self.url = f"http://127.0.0.1:{port}"
        self.store = state_dir / "durable-executions.sqlite"
        self.process: Popen[bytes] | None = None
        # Execution names per function: (function, name) -> (payload digest, execution ARN).
        self._names: dict[tuple[str, str], tuple[str, str]] = {}
        self._names_lock = threading.Lock()

    def _store_args(self) -> list[str]:
        if self.store_type is DurableStore.MEMORY:
            return ["--store-type", "memory"]
        return ["--store-type", "sqlite", "--store-path", str(self.store)]

    def start(self, env: dict[str, str], timeout: float = 30) -> None:
        args = [
            *RUNNER, "start-server",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--log-level", "WARNING",  # at INFO it logs whole callback ids
            "--lambda-endpoint", self.lambda_url,
            "--local-runner-endpoint", self.url,
            "--local-runner-region", self.region,
            *self._store_args(),
            "--skip-time" if self.skip_time else "--no-skip-time",
        ]  # fmt: skip
        log = self.state_dir / "logs" / "durable-runner.log"
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # The contract on its path: the runner meters operations against its quota (dex_runner).
            env={**env, "PYTHONPATH": str(ROOT / "contract"), "AWS_REGION": self.region, **self._limits()},
            cwd=ROOT,  # `-m local.dex_runner`
        )
        assert self.process.stdout is not None
        threading.Thread(target=_copy_redacted, args=(self.process.stdout, log), daemon=True).start()
        proc.wait_for("durable runner", self._healthy, timeout)

    def _limits(self) -> dict[str, str]:
        if self.max_operations is None:
            return {}
        return {MAX_OPERATIONS_ENV: str(self.max_operations)}

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise proc.NotReady(
                f"durable runner exited with {self.process.returncode}; see logs/durable-runner.log"
            )
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self, kill: bool = False) -> None:
        """Stop the runner (SIGTERM, then SIGKILL); ``kill``: SIGKILL at once, as a crash would."""
        if self.process is not None:
            if kill:
                self.process.kill()
                self.process.wait()
            else:
                proc.stop(self.process)
            self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start_execution(self, function: Function, invoked_as: str, name: str | None, payload: bytes) -> str:
        """What Lambda does on an Invoke of a durable function: start an execution, return its ARN."""
        assert function.durable is not None
        bare, _, invoked = invoked_as.partition(":")
        qualifier = executed_version(invoked)
        if name is None:
            return self._start(function, bare, qualifier, str(uuid.uuid4()), payload)
        if not EXECUTION_NAME.fullmatch(name):
            raise ExecutionNameRefused(
                "InvalidParameterValueException",
                400,
                f"DurableExecutionName {name!r} must be 1 to 64 letters, digits, '-' or '_'",
            )
        # The local runner takes any name any number of times; Lambda (Invoke, DurableExecutionName):
        # "using a name that already exists with the same payload, Lambda returns the existing
        # execution instead of creating a duplicate. If the payload differs, Lambda returns a
        # DurableExecutionAlreadyStartedException" (409).
        digest = hashlib.sha256(payload).hexdigest()
        with self._names_lock:
            known = self._names.get((bare, name))
            if known is not None:
                if known[0] != digest:
                    raise ExecutionNameRefused(
                        "DurableExecutionAlreadyStartedException",
                        409,
                        f"durable execution {name!r} of {bare} was already started with another payload",
                    )
                return known[1]
            arn = self._start(function, bare, qualifier, name, payload)
            self._names[(bare, name)] = (digest, arn)
            return arn

    def executions_named(self, name: str) -> list[str]:
        """The ARNs of the executions started with this DurableExecutionName (one per function)."""
        with self._names_lock:
            return [arn for (_, known), (_, arn) in self._names.items() if known == name]

    def _start(self, function: Function, bare: str, qualifier: str, name: str, payload: bytes) -> str:
        assert function.durable is not None
        body = {
            "AccountId": self.account,
            "FunctionName": bare,
            "FunctionQualifier": qualifier or "$LATEST",
            "ExecutionName": name,
            "ExecutionTimeoutSeconds": function.durable["ExecutionTimeout"],
            "ExecutionRetentionPeriodDays": function.durable["RetentionPeriodInDays"],
            "Input": payload.decode() if payload else "{}",
        }
        request = urllib.request.Request(
            f"{self.url}/start-durable-execution",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            return str(json.loads(r.read())["ExecutionArn"])


def _copy_redacted(source: IO[bytes], log: Path) -> None:
    """Append the runner's output to its log with every callback id shortened."""
    with log.open("a") as out:
        for raw in source:
            line = raw.decode("utf-8", "replace")
            out.write(CALLBACK_ID.sub(lambda m: redact(m.group(0)), line))
            out.flush()
