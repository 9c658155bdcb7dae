"""Function configuration: a deployment mistake fails at handler entry with a message naming it."""

from __future__ import annotations

import pytest

from completion_relay.config import ConfigError as RelayConfigError
from completion_relay.config import RelayConfig
from ecs_contract.names import RESULTS_PREFIX
from ecs_contract.overrides import TaskDefinitionAllowList
from orchestrator.config import ConfigError, OrchestratorConfig
from testkit.template import parameter_default, template_environment

# Read by Powertools, not by our configuration.
POWERTOOLS = {"POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}

ORCHESTRATOR_ENV = template_environment("Orchestrator", SUBNETS="subnet-a, subnet-b,", SECURITY_GROUPS="")


def test_orchestrator_config_reads_lists_and_the_template_s_defaults():
    config = OrchestratorConfig.from_env(ORCHESTRATOR_ENV)
    assert config.subnets == ("subnet-a", "subnet-b")
    assert config.security_groups == ()
    # The template's parameter defaults, read through the environment it sets: the only source.
    assert (config.task_timeout_seconds, config.assign_public_ip) == (
        parameter_default("TaskTimeoutSeconds"),
        parameter_default("AssignPublicIp"),
    )
    assert (config.max_attempts, config.retry_delay_seconds, config.retry_max_delay_seconds) == (
        parameter_default("MaxAttempts"),
        parameter_default("RetryDelaySeconds"),
        parameter_default("RetryMaxDelaySeconds"),
    )
    assert config.started_by_marker == parameter_default("StartedByMarker")
    # The task definitions a job may choose: the stack's own worker family ("t" is the test stack).
    assert config.allowed_task_definitions == TaskDefinitionAllowList(("t-worker",))
    assert config.allowed_task_definitions.allows("t-worker:7")
    assert not config.allowed_task_definitions.allows("other-worker")


@pytest.mark.parametrize("name", sorted(ORCHESTRATOR_ENV.keys() - {"SECURITY_GROUPS"} - POWERTOOLS))
def test_orchestrator_config_has_no_default_of_its_own(name):
    """A variable the template sets and the code needs is never filled in by the code: a deployment
    that lost it fails at handler entry, naming it."""
    env = {k: v for k, v in ORCHESTRATOR_ENV.items() if k != name}
    with pytest.raises(ConfigError, match=f"missing environment variables: {name}"):
        OrchestratorConfig.from_env(env)


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
    pipeline = "arn:aws:lambda:us-east-1:1:function:pipe"
    env = template_environment(
        "CompletionRelay",
        CLUSTER_ARN="c",
        RESULTS_BUCKET="b",
        DURABLE_FUNCTION_ARNS=f"{orchestrator}, {pipeline}",
    )
    config = RelayConfig.from_env(env)
    assert config.is_durable_function(orchestrator) and config.is_durable_function(f"{orchestrator}:7")
    assert config.is_durable_function(pipeline) and config.is_durable_function(f"{pipeline}:live")
    assert not config.is_durable_function(f"{orchestrator}-other") and not config.is_durable_function("x")
    assert not config.is_durable_function(f"{pipeline}-other:1")
    assert config.started_by_marker == parameter_default("StartedByMarker")
    assert config.owns_result(f"s3://b/{RESULTS_PREFIX}x.json")
    assert not config.owns_result("s3://b/other/x.json")
    assert not config.owns_result(f"s3://b/{RESULTS_PREFIX}../secret.json")
    assert not config.owns_result(f"s3://bb/{RESULTS_PREFIX}x.json")


def test_relay_config_requires_every_variable_the_template_sets():
    with pytest.raises(
        RelayConfigError, match="CLUSTER_ARN, RESULTS_BUCKET, DURABLE_FUNCTION_ARNS, STARTED_BY_MARKER"
    ):
        RelayConfig.from_env({})
