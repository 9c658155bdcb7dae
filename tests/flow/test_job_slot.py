"""Replace the job slot, and the demo, the faults and the scenarios still run as before.

A copy of the repository's sources whose slot (worker/worker/job.py, orchestrator/orchestrator/
job_rules.py) holds another job, one the demo's input does not suit: the local cloud runs the demo
job there whatever the slot holds, and `up --job slot` runs the slot's job instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.local_cloud import group_members
from testkit.paths import ROOT

pytestmark = pytest.mark.flow

SOURCES = ("contract", "orchestrator", "completion_relay", "worker", "local", "events", "template.yaml")
# A user's job: counts the words of "text". The demo's input has no "text".
SLOT_JOB = """
def run(job, progress):
    progress("counting words")
    return {"words": len(job["text"].split())}
"""
SLOT_RULES = """
def validate(job, task_timeout_seconds):
    if not isinstance(job.get("text"), str):
        raise ValueError("'text' must be a string")
"""


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("checkout")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    (root / "worker/worker/job.py").write_text(SLOT_JOB)
    (root / "orchestrator/orchestrator/job_rules.py").write_text(SLOT_RULES)
    (root / "words.json").write_text(json.dumps({"text": "three little words"}))
    return root


def run_script(checkout: Path, state_dir: Path, script: str) -> subprocess.CompletedProcess[str]:
    """A bash script in the copy, where `cloud` is the copy's `python -m local`; the cloud always
    stopped, and nothing it started left running."""
    prelude = f"""set -euo pipefail
cloud() {{ {sys.executable} -m local --state-dir {state_dir} "$@"; }}
trap 'cloud down' EXIT
"""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LOCAL_CLOUD_DIR")}
    done = subprocess.run(
        ["bash", "-c", prelude + script], cwd=checkout, env=env, capture_output=True, text=True, timeout=240,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    pid = int(re.search(r"\(pid (\d+),", done.stdout).group(1))  # type: ignore[union-attr]
    assert group_members(pid) == [], "the local cloud left processes behind"
    return done


def test_the_demo_faults_and_scenarios_run_whatever_the_slot_holds(checkout: Path, tmp_path: Path) -> None:
    done = run_script(
        checkout,
        tmp_path,
        """
        cloud up --parameter RetryDelaySeconds=1
        cloud fault spot-interruption --execution spot-in-a-copy
        ARN=$(cloud invoke events/invoke/success.json --name spot-in-a-copy)
        cloud follow "$ARN" --timeout 120
        cloud demo --only success,worker-failure,invalid-input
        """,
    )
    assert "armed: spot-interruption x1 for the tasks of execution 'spot-in-a-copy'" in done.stdout
    assert '"attempts": 2' in done.stdout  # interrupted once, retried, and the demo job succeeded
    for line in ("ok   success: SUCCEEDED", "ok   worker-failure: FAILED", "ok   invalid-input: FAILED"):
        assert line in done.stdout


def test_up_job_slot_runs_the_slots_job_and_its_rules(checkout: Path, tmp_path: Path) -> None:
    done = run_script(
        checkout,
        tmp_path,
        """
        cloud up --job slot
        cloud follow "$(cloud invoke words.json)" --timeout 120
        cloud follow "$(cloud invoke events/invoke/success.json)" --timeout 120
        """,
    )
    assert re.search(r'SUCCEEDED: .*"words": ?3', done.stdout), done.stdout  # the slot's job ran
    assert "InvalidInput: 'text' must be a string" in done.stdout  # its rules refused the demo's input
