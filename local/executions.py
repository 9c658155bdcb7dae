"""Lambda's "Durable Execution Status Change" events, which the durable runner does not emit.

Lambda publishes one to EventBridge each time a durable execution changes status (RUNNING,
SUCCEEDED, FAILED, TIMED_OUT, STOPPED). The local cloud watches the runner's executions of each
durable function and publishes the same event on the bus for every change it sees, so the
relay's cancellation rule works locally (e.g. after ``python -m local stop ARN``).
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ecs_contract.names import EXECUTION_STATUS_CHANGE
from local.journal import iso
from local.seed import lambda_arn
from local.template import Function


class ExecutionWatcher:
    def __init__(
        self,
        functions: list[Function],
        lambda_client: Any,
        publish: Callable[[dict[str, Any]], int],
        account: str,
        region: str,
        interval: float = 0.2,
    ) -> None:
        self.functions, self.lambda_client, self.publish = functions, lambda_client, publish
        self.account, self.region, self.interval = account, region, interval
        self.seen: dict[str, str] = {}  # execution ARN -> last status published
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="execution-watcher", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            for function in self.functions:
                try:
                    self.scan(function)
                except (ClientError, BotoCoreError):
                    pass  # the runner is down or restarting: look again next time
                except Exception as e:  # noqa: BLE001 - keep watching; the error goes to the log
                    print(f"execution watcher: {type(e).__name__}: {e}", file=sys.stderr, flush=True)

    def scan(self, function: Function) -> None:
        kwargs: dict[str, Any] = {"FunctionName": function.logical_id, "MaxItems": 1000}
        while True:
            page = self.lambda_client.list_durable_executions_by_function(**kwargs)
            for execution in page.get("DurableExecutions", []):
                arn, status = execution["DurableExecutionArn"], execution["Status"]
                if self.seen.get(arn) != status:
                    self.seen[arn] = status
                    self.publish(self.event(function, execution))
            if not page.get("NextMarker"):
                return
            kwargs["Marker"] = page["NextMarker"]

    def event(self, function: Function, execution: dict[str, Any]) -> dict[str, Any]:
        ours = lambda_arn(function.logical_id)
        reported = str(execution.get("FunctionArn", ""))
        detail = {
            "durableExecutionArn": execution["DurableExecutionArn"],
            "durableExecutionName": execution.get("DurableExecutionName"),
            "functionArn": reported if reported.startswith(f"{ours}:") else ours,
            "status": execution["Status"],
            "startTimestamp": _iso(execution.get("StartTimestamp")),
        }
        if execution.get("EndTimestamp"):
            detail["endTimestamp"] = _iso(execution["EndTimestamp"])
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": EXECUTION_STATUS_CHANGE.detail_type,
            "source": EXECUTION_STATUS_CHANGE.source,
            "account": self.account,
            "time": iso(),
            "region": self.region,
            "resources": [],
            "detail": detail,
        }


def _iso(value: Any) -> str | None:
    return iso(value) if isinstance(value, datetime) else (str(value) if value else None)
