"""Measurement 3: cold start of each function against a bare boto3 baseline, in the same run.

Each sample is a fresh interpreter (``python -I``, nothing preloaded) that imports the handler
module, constructs its clients and handles one event against local endpoints: moto (ECS, S3) and
a stub of the durable execution API (checkpoints and callback completions answered at once, as
the service would, without storing anything). The baseline does ``import boto3``, one client,
one call. Variants run round-robin so machine noise spreads evenly; the child reports its phases
and its peak RSS (``ru_maxrss``).

``+tracing`` variants set ``LAMBDA_TASK_ROOT`` as Lambda does: Powertools' Tracer is on there, so
the X-Ray SDK is imported and wraps the handler (its segments go nowhere locally). Before
``traced`` (observability.py), every environment paid that import.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3

from bench.stats import summary
from ecs_contract.demo_job import JOB_CHOICE_ENV, JobChoice
from local.template import ROOT
from testkit.moto_world import worker_cluster

REGION = "us-west-2"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
RELAY_EVENT = json.loads((ROOT / "events" / "ecs" / "stopped-success.json").read_text())
EXECUTION_ARN = f"arn:aws:lambda:{REGION}:111122223333:function:Orchestrator:live/durable-execution/bench/1"

# Runs in the fresh interpreter: stdlib only until the clock starts.
CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
kind, paths, event = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
sys.path[:0] = paths

class Context:
    function_name, function_version, memory_limit_in_mb = "bench", "$LATEST", 512
    invoked_function_arn = "arn:aws:lambda:us-west-2:111122223333:function:bench:live"
    aws_request_id, log_group_name, log_stream_name = "req-1", "/aws/lambda/bench", "bench"
    def get_remaining_time_in_millis(self): return 60000

if kind == "baseline":
    import boto3
    t1 = time.perf_counter()
    client = boto3.client("s3")
    t2 = time.perf_counter()
    out = client.list_buckets()["Buckets"]
elif kind == "relay":
    import completion_relay.handler as h
    t1 = time.perf_counter()
    h.aws_gateways()
    t2 = time.perf_counter()
    out = h.handler(event, Context())
    assert out["action"] == h.RelayAction.SUCCEEDED, out  # loaded by the handler: costs no import
else:
    import orchestrator.handler as h
    t1 = time.perf_counter()
    from aws_durable_execution_sdk_python.lambda_service import LambdaClient
    h.aws_gateways().tasks.ecs_client.built()  # what its first step would build
    LambdaClient.initialize_client()
    t2 = time.perf_counter()
    out = h.handler(event, Context())
    assert out["Status"] == "PENDING", out
t3 = time.perf_counter()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent across exec.
with open("/proc/self/status") as f:
    hwm_kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print(json.dumps({"import": t1 - t0, "clients": t2 - t1, "event": t3 - t2, "total": t3 - t0,
                  "peak_rss_mb": hwm_kb / 1024}))
"""


class StubDurableApi(BaseHTTPRequestHandler):
    """Answers CheckpointDurableExecution with the operations it was sent (a callback gets an id)
    and callback completions with 200, like the service; keeps nothing."""

    protocol_version = "HTTP/1.1"
    _STATUS = {"START": "STARTED", "SUCCEED": "SUCCEEDED", "FAIL": "FAILED", "RETRY": "PENDING"}

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        answer: dict[str, Any] = {}
        if self.path.endswith("/checkpoint"):
            answer = {"CheckpointToken": f"t-{time.monotonic_ns()}", "NewExecutionState": {"Operations": []}}
            for update in body.get("Updates", []):
                op = {"Id": update["Id"], "Type": update["Type"], "Status": self._STATUS[update["Action"]]}
                op |= {k: update[k] for k in ("Name", "SubType", "ParentId") if k in update}
                if update["Type"] == "CALLBACK":
                    token = json.dumps({"arn": EXECUTION_ARN, "op": update["Id"]}).encode()
                    op["CallbackDetails"] = {"CallbackId": base64.b64encode(token).decode()}
                if update["Type"] == "STEP" and update.get("Payload") is not None:
                    op["StepDetails"] = {"Result": update["Payload"]}
                answer["NewExecutionState"]["Operations"].append(op)
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_PUT = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        return


@dataclass(frozen=True)
class Variant:
    name: str
    kind: str  # baseline | relay | orchestrator
    paths: tuple[Path, ...]
    env: dict[str, str]
    event: Any


@contextmanager
def endpoints() -> Iterator[tuple[str, str]]:
    """(moto URL, stub durable API URL), seeded with what the two functions touch."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    moto_url = f"http://{host}:{port}"
    stub = ThreadingHTTPServer(("127.0.0.1", 0), StubDurableApi)
    stub.daemon_threads = True
    threading.Thread(target=stub.serve_forever, args=(0.05,), daemon=True).start()
    try:
        kw: dict[str, Any] = {"endpoint_url": moto_url, "region_name": REGION}
        kw |= {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
        s3, ecs, ec2 = boto3.client("s3", **kw), boto3.client("ecs", **kw), boto3.client("ec2", **kw)
        env = {
            e["name"]: e["value"]
            for e in RELAY_EVENT["detail"]["overrides"]["containerOverrides"][0]["environment"]
        }
        bucket, _, key = env["RESULT_S3_URI"].removeprefix("s3://").partition("/")
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket=bucket, Key=key, Body=b'{"processedMessage": "HELLO"}')
        cluster = worker_cluster(ecs, ec2)
        os.environ["BENCH_SUBNET"], os.environ["BENCH_GROUP"] = cluster.subnet, cluster.security_group
        yield moto_url, f"http://127.0.0.1:{stub.server_address[1]}"
    finally:
        stub.shutdown()
        moto.stop()


def variants(moto_url: str, durable_url: str) -> list[Variant]:
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ENDPOINT_URL_LAMBDA": durable_url,
        "POWERTOOLS_METRICS_NAMESPACE": "DurableEcsTasksBench",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    }
    # Imported here, in the parent only: the measured child processes import this module without testkit.
    from testkit.template import template_environment

    detail = RELAY_EVENT["detail"]
    relay_env = {
        **template_environment("CompletionRelay"),
        **base,
        "CLUSTER_ARN": detail["clusterArn"],
        "RESULTS_BUCKET": "example-results-bucket",
        "DURABLE_FUNCTION_ARNS": EXECUTION_ARN.split(":live/")[0],
    }
    orchestrator_env = {
        **template_environment("Orchestrator"),
        **base,
        "CLUSTER_ARN": "bench",
        "TASK_DEFINITION": "worker",
        JOB_CHOICE_ENV: JobChoice.DEMO,  # the demo job's input rules, whatever the job slot holds
        "SUBNETS": os.environ["BENCH_SUBNET"],
        "SECURITY_GROUPS": os.environ["BENCH_GROUP"],
        "RESULTS_BUCKET": "example-results-bucket",
    }
    envelope = {
        "DurableExecutionArn": EXECUTION_ARN,
        "CheckpointToken": "t-0",
        "InitialExecutionState": {
            "Operations": [
                {
                    "Id": "execution",
                    "Type": "EXECUTION",
                    "Status": "STARTED",
                    "ExecutionDetails": {"InputPayload": json.dumps({"message": "hi", "processingTime": 2})},
                }
            ]
        },
    }
    relay_paths = (ROOT / "completion_relay", ROOT / "contract")
    orchestrator_paths = (ROOT / "orchestrator", ROOT / "contract")
    in_lambda = {"LAMBDA_TASK_ROOT": "/var/task"}
    return [
        Variant("baseline", "baseline", (), base, None),
        Variant("relay", "relay", relay_paths, relay_env, RELAY_EVENT),
        Variant("relay+tracing", "relay", relay_paths, {**relay_env, **in_lambda}, RELAY_EVENT),
        Variant("orchestrator", "orchestrator", orchestrator_paths, orchestrator_env, envelope),
        Variant(
            "orchestrator+tracing",
            "orchestrator",
            orchestrator_paths,
            {**orchestrator_env, **in_lambda},
            envelope,
        ),
    ]


def sample(variant: Variant) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            CHILD,
            variant.kind,
            json.dumps([str(p) for p in variant.paths]),
            json.dumps(variant.event),
        ],
        env=variant.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold start of {variant.name} failed:\n{done.stderr[-3000:]}")
    phases: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return {**phases, "process": wall}


def measure(repeats: int) -> dict[str, Any]:
    with endpoints() as (moto_url, durable_url):
        all_variants = variants(moto_url, durable_url)
        samples: dict[str, list[dict[str, float]]] = {v.name: [] for v in all_variants}
        for variant in all_variants:  # one unrecorded round: byte-code caches written, files in page cache
            sample(variant)
        for _ in range(repeats):
            for variant in all_variants:
                samples[variant.name].append(sample(variant))
    out: dict[str, Any] = {}
    baseline = samples["baseline"]
    for name, runs in samples.items():
        row = {key: summary([r[key] for r in runs]) for key in runs[0]}
        # Ratios pairwise: the i-th sample of each variant ran in the same round as the baseline's.
        row["ratio_total"] = summary([r["total"] / b["total"] for r, b in zip(runs, baseline, strict=True)])
        row["ratio_process"] = summary(
            [r["process"] / b["process"] for r, b in zip(runs, baseline, strict=True)]
        )
        out[name] = row
    return out
