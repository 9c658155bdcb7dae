"""Measurement 6: the built package of each function (what ``sam build`` hands to Lambda).

``sam build`` runs from ``.venv-sam`` with a python3.13 on PATH (Lambda's durable runtime; no
Docker needed for zip functions), into a temporary folder. Sizes are unzipped bytes on disk and
the zip Lambda would receive (deflate, level 6); "what dominates" lists the top-level entries of
each package by size.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from local.template import ROOT

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


def _bytes(path: Path) -> int:
    return (
        path.stat().st_size
        if path.is_file()
        else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    )


def _zipped(path: Path) -> int:
    with tempfile.TemporaryFile() as f:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                z.write(file, file.relative_to(path))
        return f.tell()


def package(path: Path, top: int = 6) -> dict[str, Any]:
    entries = sorted(((_bytes(p), p.name) for p in path.iterdir()), reverse=True)
    total = sum(size for size, _ in entries)
    return {
        "unzipped_mb": round(total / 1e6, 2),
        "zipped_mb": round(_zipped(path) / 1e6, 2),
        "largest": [
            {"name": name, "mb": round(size / 1e6, 2), "share": round(size / total, 3)}
            for size, name in entries[:top]
        ],
    }


def measure() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-sam-") as tmp:
        build_dir = Path(tmp) / "build"
        try:
            done = sam_build(build_dir)
        except FileNotFoundError as e:
            return {"skipped": str(e)}
        if done.returncode != 0:
            return {"failed": (done.stdout + done.stderr)[-2000:]}
        return {p.name: package(p) for p in sorted(build_dir.iterdir()) if p.is_dir()}
