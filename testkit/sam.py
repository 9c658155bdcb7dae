"""The SAM CLI of .venv-sam (`make test` installs it), and `sam build` of template.yaml as Lambda's
python3.13 runtime needs it: used by the contract tests and by the package-size benchmark."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from testkit.paths import ROOT

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
SAM = ROOT / ".venv-sam" / "bin" / "sam"


def python313_dir() -> Path | None:
    """A directory holding a working `python3.13`: on PATH, or a pyenv-installed 3.13."""
    candidates = [shutil.which("python3.13")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(p) for p in sorted(pyenv_root.glob("versions/3.13*/bin/python3.13"))]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False).returncode == 0:
            return Path(candidate).parent
    return None


def sam_build(build_dir: Path) -> subprocess.CompletedProcess[str]:
    python313 = python313_dir()
    if python313 is None:
        raise FileNotFoundError("no python3.13 on this machine: `sam build` needs Lambda's runtime version")
    if not SAM.exists():
        raise FileNotFoundError("no .venv-sam/bin/sam: run `make test` (it installs the SAM CLI)")
    return subprocess.run(
        [str(SAM), "build", "--template-file", str(ROOT / "template.yaml"), "--build-dir", str(build_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{python313}{os.pathsep}{os.environ['PATH']}"},
        timeout=900,
    )


def sam_translate(path: Path) -> dict[str, Any]:
    """The CloudFormation the SAM translator makes of the template at `path` (run in .venv-sam)."""
    assert SAM_PYTHON.exists(), "run `make test`: it installs the SAM CLI into .venv-sam"
    done = subprocess.run(
        [str(SAM_PYTHON), str(ROOT / "tests" / "contract" / "sam_translate.py"), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result
