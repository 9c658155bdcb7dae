"""Measurement 4: the relay's warm cost per event, without the network: parse + decide + log + metric.

The real ``relay_event`` and the handler's ``record`` (one JSON log line, the metrics) run on the
sample STOPPED event with gateways that answer at once (the result object and the callback
completion are the network calls left out); the EMF blob is flushed each event as the handler's
``log_metrics`` does. Log and metric output go to /dev/null: formatting counts, the terminal not.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any

from bench.stats import tail
from completion_relay import handler as relay_handler
from completion_relay.gateways import Delivery
from completion_relay.observability import logger, metrics
from completion_relay.relay import Gateways, RelayAction, relay_event
from ecs_contract.completion import StoredResult
from local.template import ROOT
from testkit.template import relay_config

EVENT = json.loads((ROOT / "events" / "ecs" / "stopped-success.json").read_text())


class Instant:
    """Every gateway at once: callbacks sent, the result object read, no DescribeTasks needed."""

    def succeed(self, callback_id: str, result: bytes) -> Delivery:
        return Delivery.SENT

    def fail(self, callback_id: str, error: dict[str, str]) -> Delivery:
        return Delivery.SENT

    def read(self, uri: str, max_bytes: int) -> StoredResult:
        return StoredResult(body={"processedMessage": "HELLO"}, size=29)

    def describe(self, cluster_arn: str, task_arn: str) -> dict[str, Any] | None:
        raise AssertionError("the sample event carries its overrides")


def measure(events: int, warmup: int = 200) -> dict[str, Any]:
    detail = EVENT["detail"]
    config = relay_config(cluster_arn=detail["clusterArn"], results_bucket="example-results-bucket")
    instant = Instant()
    gateways = Gateways(instant, instant, instant)  # type: ignore[arg-type]
    samples: list[float] = []
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        streams = [(h, h.setStream(sink)) for h in logger.handlers if hasattr(h, "setStream")]
        try:
            for i in range(warmup + events):
                started = time.perf_counter_ns()
                outcome = relay_event(EVENT, config, gateways)
                relay_handler.record(outcome)
                metrics.flush_metrics()
                took = time.perf_counter_ns() - started
                assert outcome.action is RelayAction.SUCCEEDED, outcome
                if i >= warmup:
                    samples.append(took / 1e6)
        finally:
            for handler, stream in streams:
                handler.setStream(stream)
    return {"ms": tail(samples, digits=4)}
