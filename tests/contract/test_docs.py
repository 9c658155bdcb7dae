"""The repository explains itself: comments and docs point at files in it, never at documents outside."""

from __future__ import annotations

import re
import subprocess

from testkit.paths import ROOT

# A design page, an issue tracker or a sibling folder a newcomer cloning the repository does not have.
OUTSIDE = re.compile(r"\bDESIGN\.md\b|\bDESIGN section\b|\.\./shared\b|\bissue #?\d+\b", re.IGNORECASE)


def test_no_comment_or_doc_points_at_a_document_outside_the_repository():
    files = subprocess.run(
        ["git", "ls-files", "*.py", "*.md", "*.yaml", "*.toml", "Makefile", ".ci/*"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    pointers = [
        f"{name}:{number}: {line.strip()}"
        for name in files
        if name != "tests/contract/test_docs.py"
        for number, line in enumerate((ROOT / name).read_text().splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert pointers == []


def test_contributing_names_only_paths_that_exist():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    paths = set(
        re.findall(
            r"`((?:contract|orchestrator|completion_relay|worker|local|testkit|tests|bench)/[\w./-]*)`", text
        )
    )
    missing = sorted(p for p in paths if not (ROOT / p.rstrip("/")).exists())
    assert paths and missing == []
