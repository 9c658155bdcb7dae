"""``python -m bench cost``: the 1,000-job cost table, reproducible to the cent (pure arithmetic).

Not a flow test: no local cloud, no timing. Asserts the relations the table must show whatever
the prices, and that the page's section is what the command writes.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench import cost
from testkit.bench import run_bench
from testkit.paths import ROOT


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench-cost")
    results = run_bench(out, "cost", timeout=120)
    return results["cost"], (out / "BENCHMARKS.md").read_text()


def section(page: str) -> str:
    return page.split("### 8. Cost of")[1].split("<!-- figures:end -->")[0]


def test_the_four_ways_of_running_1000_one_hour_jobs_are_priced_each_with_its_assumptions(ran):
    figures, _ = ran
    spot, on_demand, polling, sfn = figures["rows"]
    assert (figures["jobs"], figures["job_seconds"]) == (1000, 3600)
    assert all(row["assumptions"] for row in figures["rows"])
    # Ours: the execution, a callback and a start step a job (table 1's 3), and a second attempt
    # (2 more) for each interrupted job
    assert on_demand["durable_operations"] == 3 * 1000
    assert spot["durable_operations"] == 3 * 1000 + 2 * 1000 * figures["interruption_rate"]
    # Polling: the execution, a start step, and a wait and a DescribeTasks step every 5 s for 1 h
    assert polling["durable_operations"] == 1000 * (2 + 2 * 720)
    assert sfn["state_transitions"] == 2 * 1000 and sfn["durable_operations"] == sfn["invocations"] == 0
    # The same hour of on-demand Fargate for all but Spot, which costs less at the assumed rate
    assert on_demand["fargate_usd"] == polling["fargate_usd"] == sfn["fargate_usd"]
    assert spot["total_usd"] < on_demand["total_usd"] < polling["total_usd"]
    assert 0.05 < figures["break_even_interruption_rate"] < 1


def test_the_page_shows_what_the_command_computes_and_the_same_every_run(ran):
    figures, page = ran
    table = section(page)
    for row in figures["rows"]:
        [line] = [x for x in table.splitlines() if x.startswith(f"| {row['name']} |")]
        assert f"**{row['total_usd']:.2f}**" in line
    assert cost.measure() == figures  # no clock, no machine in it: reproducible
    # The committed page holds the same figures
    committed = section((ROOT / "BENCHMARKS.md").read_text())
    assert committed == table
