"""Measurement 6: the built package of each function (what ``sam build`` hands to Lambda).

``sam build`` runs from ``.venv-sam`` with a python3.13 on PATH (Lambda's durable runtime; no
Docker needed for zip functions), into a temporary folder. Sizes are unzipped bytes on disk and
the zip Lambda would receive (deflate, level 6); "what dominates" lists the top-level entries of
each package by size.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Any

from testkit.sam import sam_build


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
