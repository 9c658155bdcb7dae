"""template.yaml and worker/Dockerfile as infrastructure scanners see them (README, "Security checks").

checkov (in .venv-scan, run offline as `make lint` runs it) must report no failed check: each of its
findings is fixed in the template or skipped next to its resource with a reason a reviewer can read
(`# checkov:skip=CKV_...: reason`). SAM expands template.yaml into more resources than checkov sees
in it (roles, rules, permissions, versions): that expansion is scanned too, and may fail only the
checks the template skips, on the same resources. hadolint must pass on the worker's Dockerfile.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local.template import Template, load
from testkit.paths import ROOT
from testkit.sam import sam_translate
from testkit.template import NAMES, template

SCAN_BIN = ROOT / ".venv-scan" / "bin"
MAKEFILE = (ROOT / "Makefile").read_text()
# A reason shorter than this says nothing a reviewer could accept ("ok", "n/a", "false positive").
MIN_REASON = 30


def make_variable(name: str) -> list[str]:
    """A `NAME := value` of the Makefile, as words: the test runs checkov exactly as `make lint` does."""
    [value] = re.findall(rf"^{name} := (.*)$", MAKEFILE, flags=re.M)
    return shlex.split(value)


def checkov(path: Path) -> dict[str, Any]:
    """checkov's JSON report on one CloudFormation file, with the flags and environment of `make lint`."""
    assert (SCAN_BIN / "checkov").exists(), "run `make lint`: it installs checkov into .venv-scan"
    env = dict(os.environ)
    env.update(dict(word.split("=", 1) for word in make_variable("CHECKOV_ENV")))
    done = subprocess.run(
        [str(SCAN_BIN / "checkov"), *make_variable("CHECKOV_FLAGS"), "--output", "json", "--file", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: failed checks; else it broke
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["check_type"] == "cloudformation", report
    assert report["summary"]["parsing_errors"] == 0, report["results"]["parsing_errors"]
    return report


def problems(report: dict[str, Any]) -> list[str]:
    """Findings that are neither fixed nor justified: failed checks, and skips without a reason."""
    out = [
        f"{c['check_id']} failed on {c['resource']} (lines {c['file_line_range']}): {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    for c in report["results"]["skipped_checks"]:
        reason = (c["check_result"].get("suppress_comment") or "").strip()
        if reason == "No comment provided" or len(reason) < MIN_REASON:  # checkov's text for none
            out.append(f"{c['check_id']} skipped on {c['resource']} without a reason: {reason!r}")
    return out


def findings(report: dict[str, Any], kind: str) -> set[tuple[str, str]]:
    """(check id, logical id) of the report's failed or skipped checks."""
    return {(c["check_id"], c["resource"].split(".", 1)[1]) for c in report["results"][kind]}


@pytest.fixture(scope="module")
def scanned() -> dict[str, Any]:
    return checkov(ROOT / "template.yaml")


def test_checkov_finds_nothing_in_the_template_that_is_neither_fixed_nor_justified(scanned):
    assert scanned["summary"]["passed"] > 0  # it did scan the template's resources
    assert problems(scanned) == []


def test_the_gate_fails_on_a_new_resource_s_finding_and_on_a_skip_without_a_reason(tmp_path):
    """What a new resource would bring: an unencrypted log group fails CKV_AWS_158, and a skip that
    gives no reason counts as no skip."""
    text = (ROOT / "template.yaml").read_text()
    added = (
        "Resources:\n"
        "  NewLogGroup:\n"
        "    Type: AWS::Logs::LogGroup\n"
        "    Properties:\n"
        "      RetentionInDays: 7\n"
        "  NewQueue:\n"
        "    Type: AWS::SQS::Queue\n"
        "    # checkov:skip=CKV_AWS_27\n"  # inside the resource's lines, as checkov requires
        "    Properties:\n"
        "      MessageRetentionPeriod: 60\n"
    )
    assert text.count("\nResources:\n") == 1
    path = tmp_path / "template.yaml"
    path.write_text(text.replace("\nResources:\n", "\n" + added, 1))
    found = problems(checkov(path))
    assert [p.split(" (")[0] for p in found if "failed" in p] == [
        "CKV_AWS_158 failed on AWS::Logs::LogGroup.NewLogGroup"
    ]
    assert [p for p in found if "skipped" in p] == [
        "CKV_AWS_27 skipped on AWS::SQS::Queue.NewQueue without a reason: 'No comment provided'"
    ]


def test_what_sam_expands_the_template_to_fails_only_what_the_template_skips(scanned, tmp_path):
    """The skips are comments in template.yaml, so they do not reach SAM's output: there, each failed
    check must be one the template skips on the same logical id (SAM keeps a function's id)."""
    path = tmp_path / "translated.json"
    path.write_text(json.dumps(sam_translate(ROOT / "template.yaml")))
    expanded = checkov(path)
    assert expanded["summary"]["resource_count"] > scanned["summary"]["resource_count"]
    assert findings(expanded, "failed_checks") - findings(scanned, "skipped_checks") == set()


def test_hadolint_passes_on_the_worker_dockerfile():
    assert (SCAN_BIN / "hadolint").exists(), "run `make lint`: it installs hadolint into .venv-scan"
    done = subprocess.run(
        [str(SCAN_BIN / "hadolint"), str(ROOT / "worker" / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# ------------------------------------------------------------------ the fixes the findings asked for


def test_the_worker_image_is_named_by_an_immutable_tag_or_by_a_digest():
    """A retried attempt starts a new task: it must pull the code the first attempt ran."""
    params = template()["Parameters"]
    [repository] = [r for r in template()["Resources"].values() if r["Type"] == "AWS::ECR::Repository"]
    assert repository["Properties"]["ImageTagMutability"] == "IMMUTABLE"
    assert "Default" not in params["WorkerImageTag"]  # no `latest`: each deploy names its build
    tag, uri = params["WorkerImageTag"]["AllowedPattern"], params["WorkerImageUri"]["AllowedPattern"]
    assert re.fullmatch(tag, "3f9c2e1") and not re.fullmatch(tag, "") and not re.fullmatch(tag, "a:b")
    digest = "123456789012.dkr.ecr.us-east-1.amazonaws.com/worker@sha256:" + "a" * 64
    assert re.fullmatch(uri, "") and re.fullmatch(uri, digest)
    assert not re.fullmatch(uri, "123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:latest")


def test_the_relay_s_concurrency_is_bounded_and_an_event_above_it_ends_in_the_dead_letter_queue():
    relay = template()["Resources"]["CompletionRelay"]["Properties"]
    bound = relay["ReservedConcurrentExecutions"]
    assert bound == {"Ref": "RelayReservedConcurrency"}
    default = template()["Parameters"]["RelayReservedConcurrency"]["Default"]
    # Throttled events wait in Lambda's queue up to MaximumEventAgeInSeconds, then take the
    # on-failure destination (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
    invoke_config = relay["EventInvokeConfig"]
    assert invoke_config["MaximumEventAgeInSeconds"] == 21600  # Lambda's maximum: 6 hours
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    # The local cloud runs the relay with the same bound (local/functions.py caps its environments).
    functions = Template(NAMES, load()).functions()
    assert functions["CompletionRelay"].reserved_concurrency == int(default)
