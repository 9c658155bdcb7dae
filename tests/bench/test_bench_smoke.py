"""The benchmark suite at tiny sizes (``python -m bench all --smoke``), so it cannot rot.

Asserts what the suite must show whatever the machine, never a timing: ours uses a constant
handful of durable operations, polling's grow with the task, every orchestration completes and
every task ran gets its callback. Figures come from ``make bench`` (BENCHMARKS.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from testkit.bench import run_bench

pytestmark = pytest.mark.flow  # starts a local cloud


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("bench")
    return run_bench(out, "all", "--smoke"), out


def test_ours_costs_a_constant_handful_of_operations_and_polling_grows_with_the_task(smoke):
    results, _ = smoke
    rows = dict(sorted(results["ops"]["durations"].items(), key=lambda kv: kv[1]["seconds"]))
    ours = [row["ours"]["operations"]["median"] for row in rows.values()]
    assert len(set(ours)) == 1 and ours[0] <= 4
    measured = [row for row in rows.values() if not row["polling"].get("extrapolated")]
    assert len(measured) >= 2
    for row in measured:  # a start step, then a wait and a DescribeTasks step per poll, + the execution
        assert row["polling"]["operations"]["median"] == 2 + 2 * row["polls"]
    polling = [row["polling"]["operations"]["median"] for row in rows.values()]
    assert polling == sorted(polling) and polling[0] < polling[-1]
    assert rows["10 min"]["polling"]["extrapolated"]  # beyond the smoke's measured range
    assert results["ops"]["per_poll_model"]["ops_per_poll"] == pytest.approx(2.0)


def test_every_orchestration_on_the_local_cloud_completes_and_each_task_gets_one_callback(smoke):
    results, _ = smoke
    latency = results["local"]["latency"]
    assert latency["ours"]["total"]["n"] == latency["polling"]["total"]["n"] == 2
    assert set(latency["ours"]) >= {"event emitted", "relay invoked", "callback sent", "handler resumed"}
    [scale] = results["local"]["scale"].values()
    assert scale["started"] == scale["succeeded"] == scale["tasks_run"] == scale["callbacks_sent"] == 3
    assert scale["cpu_seconds_by_process"], "the CPU profile saw the local cloud's processes"
    assert "durable runner" in scale["cpu_seconds_by_process"], "every process of the cloud is named"


def test_a_fan_out_runs_every_part_once_and_costs_two_operations_a_part(smoke):
    results, _ = smoke
    fan = results["fanout"]
    assert fan["status"] == "SUCCEEDED"
    parts = fan["parts"]
    assert parts == fan["parts_succeeded"] == fan["part_tasks_started"] == fan["part_tasks_stopped"]
    assert fan["callbacks_completed"] == fan["callbacks_sent"] == parts + 2  # and "prepare" and "combine"
    # A part: its callback and its start step. Besides: prepare's and combine's, the map, the execution
    assert fan["operations"] == 2 * parts + 2 * 2 + 1 + 1
    assert fan["operations_share_of_quota"] < 1


def test_cold_starts_and_the_relays_warm_cost_are_measured_for_every_variant(smoke):
    results, _ = smoke
    assert set(results["coldstart"]) == {
        "baseline",
        "relay",
        "relay+tracing",
        "orchestrator",
        "orchestrator+tracing",
    }
    for variant in results["coldstart"].values():
        assert variant["total"]["median"] > 0 and variant["peak_rss_mb"]["median"] > 0
    assert results["relay"]["ms"]["n"] == 50


def test_the_report_redraws_the_chart_and_the_figures_of_the_page(smoke):
    _, out = smoke
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "BENCHMARKS.md").read_text()
    block = page.split("<!-- figures:begin")[1].split("<!-- figures:end -->")[0]
    [row] = [line for line in block.splitlines() if line.startswith("| ours: constant, <= 4 operations")]
    assert row.endswith("| yes |")
    assert page.count("<!-- figures:begin") == 1  # redrawn in place, the prose around it kept
