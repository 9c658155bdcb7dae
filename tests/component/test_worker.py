"""The worker's real entry point, run as a process the way the image runs it, against moto's S3."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from testkit.paths import ROOT, load_event

BUCKET = "results"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def run_worker(endpoint: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m worker.entrypoint` with the image's PYTHONPATH layout (contract + worker)."""
    environment = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join([str(ROOT / "contract"), str(ROOT / "worker")]),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "worker.entrypoint"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def s3(endpoint: str):
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    return client


def test_seed_job_writes_its_result_logs_progress_and_exits_zero(s3_endpoint):
    client = s3(s3_endpoint)
    job = {"message": "hello", "processingTime": 1}

    done = run_worker(s3_endpoint, JOB_INPUT=json.dumps(job), RESULT_S3_URI=f"s3://{BUCKET}/results/a.json")

    assert done.returncode == 0, done.stderr
    assert "processing 'hello': 0/1 s" in done.stdout
    assert "result written to s3://results/results/a.json" in done.stdout
    result = json.loads(client.get_object(Bucket=BUCKET, Key="results/a.json")["Body"].read())
    assert result["processedMessage"] == "HELLO"
    assert result["processingTime"] == 1
    assert result["elapsedSeconds"] >= 1


def test_a_failing_job_exits_non_zero_with_the_reason_on_stderr_and_no_result(s3_endpoint):
    client = s3(s3_endpoint)
    job = load_event("invoke/worker-failure")

    done = run_worker(s3_endpoint, JOB_INPUT=json.dumps(job), RESULT_S3_URI=f"s3://{BUCKET}/results/b.json")

    assert done.returncode == 1
    assert "job failed: RuntimeError: job asked to fail: simulated worker crash" in done.stderr
    assert client.list_objects_v2(Bucket=BUCKET, Prefix="results/b.json").get("KeyCount") == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "JOB_INPUT and RESULT_S3_URI must both be set"),
        ({"JOB_INPUT": "{", "RESULT_S3_URI": "s3://b/k"}, "JOB_INPUT is not JSON"),
        ({"JOB_INPUT": "[1]", "RESULT_S3_URI": "s3://b/k"}, "must be a JSON object"),
        ({"JOB_INPUT": "{}", "RESULT_S3_URI": "/tmp/out.json"}, "must look like s3://bucket/key"),
    ],
)
def test_a_bad_environment_exits_2_with_a_clear_message(s3_endpoint, env, message):
    done = run_worker(s3_endpoint, **env)
    assert done.returncode == 2
    assert message in done.stderr


def test_an_unwritable_result_location_fails_the_task(s3_endpoint):
    done = run_worker(s3_endpoint, JOB_INPUT="{}", RESULT_S3_URI="s3://no-such-bucket/results/c.json")
    assert done.returncode == 1
    assert "NoSuchBucket" in done.stderr


def test_the_demo_job_runs_even_when_the_slot_cannot_be_imported(s3_endpoint, tmp_path):
    """A user's job in the slot that needs a package this machine lacks cannot break the demo job,
    which the local cloud runs (JOB_CHOICE=demo); run as the slot, it fails as a failed job does."""
    client = s3(s3_endpoint)
    shutil.copytree(
        ROOT / "worker" / "worker", tmp_path / "worker", ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / "worker" / "job.py").write_text("import a_package_this_machine_lacks  # noqa: F401\n")
    path = os.pathsep.join([str(ROOT / "contract"), str(tmp_path)])
    job = json.dumps({"message": "demo", "processingTime": 0})

    demo = run_worker(
        s3_endpoint,
        PYTHONPATH=path,
        JOB_CHOICE="demo",
        JOB_INPUT=job,
        RESULT_S3_URI=f"s3://{BUCKET}/results/d.json",
    )
    slot = run_worker(
        s3_endpoint, PYTHONPATH=path, JOB_INPUT=job, RESULT_S3_URI=f"s3://{BUCKET}/results/e.json"
    )

    assert demo.returncode == 0, demo.stderr
    assert (
        json.loads(client.get_object(Bucket=BUCKET, Key="results/d.json")["Body"].read())["processedMessage"]
        == "DEMO"
    )
    assert slot.returncode == 1
    assert "job failed: ModuleNotFoundError: No module named 'a_package_this_machine_lacks'" in slot.stderr
