"""The user's job is not load-bearing: the job slot (worker/worker/job.py with
orchestrator/orchestrator/job_rules.py) is what a deployment runs; the harness (the local cloud,
`make demo`, the tests) runs the seeds' demo job whatever the slot holds (JOB_CHOICE=demo)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from ecs_contract.demo_job import JOB_CHOICE_ENV, JobChoice
from local.agent import worker_base_env
from local.cli import parser
from local.cloud import LocalCloud
from local.template import load
from orchestrator import job_rules
from orchestrator.config import ConfigError, OrchestratorConfig
from orchestrator.errors import InvalidInput
from orchestrator.job import parse_job, rules_for
from testkit.template import template_environment
from worker import entrypoint
from worker import job as slot_job

ORCHESTRATOR_ENV = template_environment("Orchestrator")  # the template sets JOB_CHOICE=slot
DEMO_INPUT = {"message": "hi", "processingTime": 0}
ENV = {"JOB_INPUT": '{"message": "hi", "processingTime": 0}', "RESULT_S3_URI": "s3://bucket/results/r.json"}


def another_job(job: dict[str, Any], progress: Any) -> dict[str, Any]:
    """A user's job in the slot, which the demo's input does not suit."""
    return {"words": len(job["text"].split())}


def another_jobs_rules(job: dict[str, Any], task_timeout_seconds: int) -> None:
    if not isinstance(job.get("text"), str):
        raise ValueError("'text' must be a string")


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the worker would write to S3, and another job in the slot."""
    results: list[Any] = []
    monkeypatch.setattr(entrypoint, "write_result", lambda uri, result: results.append(result))
    monkeypatch.setattr(slot_job, "run", another_job)
    monkeypatch.setattr(job_rules, "validate", another_jobs_rules)
    return results


def test_the_worker_runs_the_demo_job_when_chosen_whatever_the_slot_holds(written, capsys):
    assert entrypoint.main({**ENV, JOB_CHOICE_ENV: "demo"}) == 0
    ((result,),) = [written]
    assert (result["message"], result["processedMessage"], result["processingTime"]) == ("hi", "HI", 0)


def test_the_worker_runs_the_slot_by_default_as_a_deployment_does(written, capsys):
    assert entrypoint.main({**ENV, "JOB_INPUT": '{"text": "three little words"}'}) == 0
    assert entrypoint.main({**ENV, JOB_CHOICE_ENV: "slot", "JOB_INPUT": '{"text": "two words"}'}) == 0
    assert written == [{"words": 3}, {"words": 2}]
    assert entrypoint.main(ENV) == 1  # the demo's input does not suit the slot's job
    assert "job failed: KeyError: 'text'" in capsys.readouterr().err


def test_the_demo_job_never_imports_the_slot(monkeypatch, written, capsys):
    # A slot whose job needs a package this machine lacks (None in sys.modules: import fails).
    monkeypatch.delattr(sys.modules["worker"], "job")
    monkeypatch.setitem(sys.modules, "worker.job", None)
    assert entrypoint.main({**ENV, JOB_CHOICE_ENV: "demo"}) == 0
    assert entrypoint.main(ENV) == 1  # the slot itself fails as a failed job does, exit 1
    assert "job failed: ModuleNotFoundError" in capsys.readouterr().err


def test_a_job_choice_the_worker_does_not_know_is_a_bad_environment(capsys):
    assert entrypoint.main({**ENV, JOB_CHOICE_ENV: "mine"}) == entrypoint.EXIT_BAD_ENVIRONMENT
    assert "JOB_CHOICE must be one of slot, demo, got 'mine'" in capsys.readouterr().err


def test_the_orchestrator_checks_the_chosen_jobs_rules(written):
    demo, slot = rules_for(JobChoice.DEMO), rules_for(JobChoice.SLOT)
    assert parse_job(DEMO_INPUT, 60, demo).payload == DEMO_INPUT
    with pytest.raises(InvalidInput, match="'message' must be a string"):
        parse_job({"message": 42}, 60, demo)
    assert parse_job({"text": "a b"}, 60, slot).payload == {"text": "a b"}
    with pytest.raises(InvalidInput, match="'text' must be a string"):  # the hook's ValueError
        parse_job(DEMO_INPUT, 60, slot)


def test_out_of_the_box_the_slot_is_the_demo_job():
    assert rules_for(JobChoice.SLOT) is job_rules.validate
    with pytest.raises(ValueError, match="shorter than the task timeout"):
        job_rules.validate({"processingTime": 60}, 60)
    assert slot_job.run(DEMO_INPUT, lambda line: None)["processedMessage"] == "HI"


def test_the_orchestrator_reads_the_job_choice_from_its_environment():
    assert OrchestratorConfig.from_env(ORCHESTRATOR_ENV).job_choice is JobChoice.SLOT
    config = OrchestratorConfig.from_env({**ORCHESTRATOR_ENV, JOB_CHOICE_ENV: "demo"})
    assert config.job_choice is JobChoice.DEMO
    with pytest.raises(ConfigError, match="JOB_CHOICE must be one of slot, demo, got 'mine'"):
        OrchestratorConfig.from_env({**ORCHESTRATOR_ENV, JOB_CHOICE_ENV: "mine"})


def test_a_deployment_runs_the_slot_and_the_local_cloud_the_demo_job(tmp_path):
    resources = load()["Resources"]
    (definition,) = [r for r in resources.values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    for container in definition["Properties"]["ContainerDefinitions"]:  # the image's default: the slot
        assert JOB_CHOICE_ENV not in [e["Name"] for e in container.get("Environment", [])]
    orchestrator = resources["Orchestrator"]["Properties"]["Environment"]["Variables"]
    assert JobChoice.parse(orchestrator.get(JOB_CHOICE_ENV)) is JobChoice.SLOT
    # The local cloud chooses for both halves, unless told otherwise (`up --job slot`).
    assert worker_base_env("http://127.0.0.1:1", "us-east-1")[JOB_CHOICE_ENV] == JobChoice.DEMO
    assert LocalCloud(tmp_path).job is JobChoice.DEMO
    assert parser().parse_args(["up"]).job is JobChoice.DEMO
    assert parser().parse_args(["up", "--job", "slot"]).job is JobChoice.SLOT
