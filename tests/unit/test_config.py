"""Function configuration: a deployment mistake fails at handler entry with a message naming it."""

from __future__ import annotations

import pytest

from completion_relay.config import ConfigError as RelayConfigError
from completion_relay.config import RelayConfig
from orchestrator.config import ConfigError, OrchestratorConfig

ORCHESTRATOR_ENV = {
    "CLUSTER_ARN": "arn:aws:ecs:us-east-1:1:cluster/c",
    "TASK_DEFINITION": "worker",
    "SUBNETS": "subnet-a, subnet-b,",
    "RESULTS_BUCKET": "bucket",
}


def test_orchestrator_config_reads_lists_and_defaults():
    config = OrchestratorConfig.from_env(ORCHESTRATOR_ENV)
    assert config.subnets == ("subnet-a", "subnet-b")
    assert config.security_groups == ()
    assert (config.task_timeout_seconds, config.assign_public_ip, config.results_prefix) == (
        3600,
        "ENABLED",
        "results/",
    )
    assert (config.max_attempts, config.retry_delay_seconds, config.retry_max_delay_seconds) == (3, 30, 300)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"CLUSTER_ARN": ""}, "missing environment variables: CLUSTER_ARN"),
        ({"TASK_TIMEOUT_SECONDS": "an hour"}, "TASK_TIMEOUT_SECONDS must be an integer"),
        ({"TASK_TIMEOUT_SECONDS": "0"}, "at least 1"),
        ({"ASSIGN_PUBLIC_IP": "yes"}, "ENABLED or DISABLED"),
        ({"STARTED_BY_MARKER": "bad marker"}, "startedBy marker"),
        ({"MAX_ATTEMPTS": "0"}, "MAX_ATTEMPTS must be at least 1"),
        ({"RETRY_DELAY_SECONDS": "soon"}, "RETRY_DELAY_SECONDS must be an integer"),
        (
            {"RETRY_DELAY_SECONDS": "60", "RETRY_MAX_DELAY_SECONDS": "30"},
            "RETRY_MAX_DELAY_SECONDS must be at least 60",
        ),
    ],
)
def test_orchestrator_config_errors_name_the_variable(changes, message):
    with pytest.raises(ConfigError, match=message):
        OrchestratorConfig.from_env({**ORCHESTRATOR_ENV, **changes})


def test_relay_config_and_result_ownership():
    orchestrator = "arn:aws:lambda:us-east-1:1:function:orch"
    config = RelayConfig.from_env(
        {
            "CLUSTER_ARN": "c",
            "RESULTS_BUCKET": "b",
            "RESULTS_PREFIX": "out",
            "ORCHESTRATOR_FUNCTION_ARN": orchestrator,
        }
    )
    assert config.is_orchestrator(orchestrator) and config.is_orchestrator(f"{orchestrator}:7")
    assert not config.is_orchestrator(f"{orchestrator}-other") and not config.is_orchestrator("x")
    assert config.results_prefix == "out/"
    assert config.owns_result("s3://b/out/x.json")
    assert not config.owns_result("s3://b/other/x.json")
    assert not config.owns_result("s3://b/out/../secret.json")
    assert not config.owns_result("s3://bb/out/x.json")


def test_relay_config_requires_cluster_bucket_and_orchestrator():
    with pytest.raises(RelayConfigError, match="CLUSTER_ARN, RESULTS_BUCKET, ORCHESTRATOR_FUNCTION_ARN"):
        RelayConfig.from_env({})
