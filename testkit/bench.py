"""Run ``python -m bench`` as `make bench` does, on a copy of BENCHMARKS.md: what the bench tests read."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from testkit.paths import ROOT


def run_bench(out: Path, *args: str, timeout: float = 300) -> dict[str, Any]:
    """`python -m bench <args>` writing into `out` (results.json, chart.png, and BENCHMARKS.md,
    copied from the repository first): the results it wrote."""
    page = out / "BENCHMARKS.md"
    shutil.copy(ROOT / "BENCHMARKS.md", page)
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args, "--out", str(out), "--markdown", str(page)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results: dict[str, Any] = json.loads((out / "results.json").read_text())
    return results
