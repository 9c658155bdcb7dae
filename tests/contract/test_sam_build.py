"""`sam build` of template.yaml: what Lambda would receive, built for python3.13 / arm64.

Needs a python3.13 interpreter (Lambda's durable runtime) and the package registry; no Docker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.sam import SAM, python313_dir, sam_build
from testkit.template import FUNCTIONS


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if python313_dir() is None:
        pytest.skip("no python3.13 on this machine: `sam build` needs Lambda's runtime version")
    assert SAM.exists(), "run `make test`: it installs the SAM CLI into .venv-sam"
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    done = sam_build(build_dir)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return build_dir


def test_the_contract_layer_holds_only_the_contract_the_aws_adapters_and_durable_ecs_under_python(build):
    [layer] = [p for p in build.iterdir() if p.name.startswith("ContractLayer")]
    packages = sorted(p.name for p in (layer / "python").iterdir() if p.is_dir())
    assert packages == [
        "aws_adapters",
        "durable_ecs",
        "ecs_contract",
    ]  # nothing installed: boto3 is each function's
    assert (layer / "python" / "ecs_contract" / "decide.py").exists()
    assert (layer / "python" / "aws_adapters" / "ecs.py").exists()
    assert (layer / "python" / "durable_ecs" / "task.py").exists()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_each_function_package_has_its_handler_and_no_copy_of_the_contract(build, name):
    package = build / name
    module = FUNCTIONS[name]["Properties"]["Handler"].rpartition(".")[0]
    assert (package / (module.replace(".", "/") + ".py")).exists()
    assert not (package / "ecs_contract").exists(), "the contract must come from the layer only"
    assert not (package / "aws_adapters").exists(), "the adapters must come from the layer only"
    assert not (package / "durable_ecs").exists(), "the library must come from the layer only"
    assert (package / "boto3").exists(), "aws_adapters imports boto3, which the function ships"
    assert (package / "aws_lambda_powertools").exists()
    print(f"{name}: {size_mb(package):.1f} MB unzipped")  # shown with -s; the bench suite tracks size
