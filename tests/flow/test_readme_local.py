"""The README's "Run it on your machine" section, run as written: its commands and the demo."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from ecs_contract.documents import Operation
from local.scenarios import SCENARIOS
from testkit.local_cloud import group_members
from testkit.paths import ROOT

pytestmark = pytest.mark.flow
README = (ROOT / "README.md").read_text()
SECTION = README.split("## Run it on your machine", 1)[1].split("\n## ", 1)[0]
BASH, CLI_BLOCK, FAULT_BLOCK = re.findall(r"```bash\n(.*?)```", SECTION, flags=re.S)[:3]
(DEMO_OUTPUT,) = re.findall(r"```text\n(.*?)```", SECTION, flags=re.S)


def normalized(text: str) -> set[str]:
    """Lines with what changes run to run (times, ids, ports, hashes, pids, paths) blanked."""
    out = set()
    for line in text.splitlines():
        line = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", line)
        line = re.sub(r"[0-9a-f]{64}|#[0-9a-f]{8}", "<hash>", line)
        line = re.sub(r"\d+\.\d+", "<n>", line)
        line = re.sub(r"pid \d+, state in \S+\)", "pid, state)", line)
        line = re.sub(r"127\.0\.0\.1:\d+|<n>:\d+", "<addr>", line)
        line = re.sub(r"\{.*", "{...}", line)  # result JSON: shortened in the README
        out.add(line.strip())
    return out - {""}


def env(tmp_path: os.PathLike[str]) -> dict[str, str]:
    return {**os.environ, "LOCAL_CLOUD_DIR": str(tmp_path)}


def test_make_demo_prints_what_the_readme_shows_and_leaves_nothing_running(tmp_path):
    assert BASH.strip() == "make demo"
    done = subprocess.run(
        ["make", "--no-print-directory", "demo"], cwd=ROOT, env=env(tmp_path), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    missing = normalized(DEMO_OUTPUT) - normalized(done.stdout)
    assert not missing, f"README demo lines the demo no longer prints: {sorted(missing)}"
    assert not (tmp_path / "state.json").exists()
    started = re.search(r"\(pid (\d+),", done.stdout)
    assert started, done.stdout
    pid = int(started.group(1))
    assert group_members(pid) == []


def run_block(block: str, tmp_path: os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + block], cwd=ROOT, env=env(tmp_path), capture_output=True,
        text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_the_readme_cli_commands_run_as_written(tmp_path):
    done = run_block(CLI_BLOCK, tmp_path)
    assert "durable runner running" in done.stdout  # status
    assert "execution SUCCEEDED" in done.stdout  # follow, then execution
    assert "durable runner: start -> {'durableRunner': True}" in done.stdout
    assert f"{len(SCENARIOS)} scenario(s) on local" in done.stdout  # every payload of events/invoke
    assert done.stdout.rstrip().endswith("local cloud stopped")


def test_the_readme_fault_commands_run_as_written(tmp_path):
    done = run_block(FAULT_BLOCK, tmp_path)
    assert "armed: spot-interruption x1 for the tasks of execution 'spot-demo'" in done.stdout
    assert '"attempts": 2' in done.stdout  # follow: the interrupted task was retried, and succeeded
    assert f"callback '{Operation.TASK_COMPLETION.named(2)}' created" in done.stdout
    assert "stopped " in done.stdout
    assert "0 redriven, 0 still failing" in done.stdout
    assert done.stdout.rstrip().endswith("local cloud stopped")
