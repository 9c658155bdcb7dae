"""The worker's log stream, found from the task alone, and its last lines read in one call."""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from aws_adapters.logs import LogGateway
from ecs_contract.logs import WORKER_LOG_STREAM_PREFIX, LogLocation
from testkit.template import template

TASK = "arn:aws:ecs:us-east-1:123456789012:task/workers/0123456789abcdef0123456789abcdef"


def test_a_task_s_stream_is_the_awslogs_driver_s_prefix_container_and_task_id():
    location = LogLocation.of_task("/stack/worker", TASK, "us-east-1")
    assert location.stream == "worker/worker/0123456789abcdef0123456789abcdef"
    # The template's task definition writes there (awslogs-stream-prefix)
    definition = template()["Resources"]["WorkerTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert definition["LogConfiguration"]["Options"]["awslogs-stream-prefix"] == WORKER_LOG_STREAM_PREFIX
    assert location.console_url() == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/"
        "log-group/$252Fstack$252Fworker/log-events/worker$252Fworker$252F0123456789abcdef0123456789abcdef"
    )


@pytest.fixture
def logs() -> Iterator[object]:
    with mock_aws():
        client = boto3.client("logs", region_name="us-east-1")
        client.create_log_group(logGroupName="/stack/worker")
        yield client


def test_the_tail_is_the_last_lines_oldest_first_and_nothing_for_a_stream_that_is_not_there(logs):
    location = LogLocation.of_task("/stack/worker", TASK, "us-east-1")
    gateway = LogGateway(logs)
    assert gateway.tail(location, 5) == []  # a task that never started has no stream
    logs.create_log_stream(logGroupName=location.group, logStreamName=location.stream)
    logs.put_log_events(
        logGroupName=location.group,
        logStreamName=location.stream,
        # (now: CloudWatch Logs refuses events older than 14 days)
        logEvents=[{"timestamp": int(time.time() * 1000) + i, "message": f"line {i}"} for i in range(10)],
    )
    assert gateway.tail(location, 3) == ["line 7", "line 8", "line 9"]
    with pytest.raises(ValueError, match="lines is 1 to 10000"):
        gateway.tail(location, 0)
