"""Who may import whom, read from the source: tests and benchmarks share testkit/, never each other;
the deployed code and the local cloud import none of the three."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from testkit.paths import ROOT

PRODUCT = ("orchestrator", "completion_relay", "worker", "contract", "local")


def imported(path: Path) -> set[str]:
    """The top-level packages a module imports (its relative imports are of its own package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def importers(folder: str, of: set[str], skip: str | None = None) -> list[str]:
    modules = sorted((ROOT / folder).rglob("*.py"))
    return [
        str(p.relative_to(ROOT))
        for p in modules
        if not (skip and p.is_relative_to(ROOT / skip)) and imported(p) & of
    ]


def test_test_modules_import_no_other_test_module_and_no_benchmark():
    # tests/bench/ tests the benchmarks themselves, so it alone may import bench/.
    assert importers("tests", {"tests"}) == []
    assert importers("tests", {"bench"}, skip="tests/bench") == []


def test_benchmarks_and_testkit_import_no_test_module():
    assert importers("bench", {"tests"}) == []
    assert importers("testkit", {"tests", "bench"}) == []


@pytest.mark.parametrize("package", PRODUCT)
def test_the_product_imports_no_test_support(package):
    assert importers(package, {"tests", "testkit", "bench"}) == []
