"""How `up --max-durable-operations N` reaches the durable runner's process (local/dex_runner.py
reads it there); without it the runner holds executions to AWS's quota."""

from __future__ import annotations

from pathlib import Path

import pytest

from local import cli
from local.durable import MAX_OPERATIONS_ENV, DurableRunner, DurableStore


def test_up_passes_its_limit_to_the_cloud_it_starts(tmp_path: Path) -> None:
    args = cli.parser().parse_args(["--state-dir", str(tmp_path), "up", "--max-durable-operations", "20"])
    served = cli.parser().parse_args(cli._serve_command(args)[3:])

    assert served.max_durable_operations == 20
    assert cli.parser().parse_args(["up"]).max_durable_operations is None  # AWS's 3,000


@pytest.mark.parametrize("value", ["0", "-1", "many", "2.5"])
def test_a_limit_that_holds_no_execution_is_refused(value: str) -> None:
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["up", "--max-durable-operations", value])


def test_the_runner_process_gets_the_limit_only_when_one_is_set(tmp_path: Path) -> None:
    def runner(limit: int | None) -> DurableRunner:
        return DurableRunner(
            0, "http://127.0.0.1:1", tmp_path, "us-east-1", "123456789012", max_operations=limit
        )

    assert runner(20)._limits() == {MAX_OPERATIONS_ENV: "20"}
    assert runner(None)._limits() == {}


def test_up_passes_its_durable_store_to_the_runner_it_starts(tmp_path: Path) -> None:
    args = cli.parser().parse_args(["--state-dir", str(tmp_path), "up", "--durable-store", "memory"])
    served = cli.parser().parse_args(cli._serve_command(args)[3:])
    assert served.durable_store is DurableStore.MEMORY
    assert cli.parser().parse_args(["up"]).durable_store is DurableStore.SQLITE

    def runner(store: DurableStore) -> DurableRunner:
        return DurableRunner(0, "http://127.0.0.1:1", tmp_path, "us-east-1", "123456789012", store=store)

    assert runner(DurableStore.MEMORY)._store_args() == ["--store-type", "memory"]
    sqlite = runner(DurableStore.SQLITE)._store_args()
    assert sqlite[:2] == ["--store-type", "sqlite"] and sqlite[3].endswith("durable-executions.sqlite")
