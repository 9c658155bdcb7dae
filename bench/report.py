"""Figures from results.json: ``chart.png`` and the tables between the markers of BENCHMARKS.md.

matplotlib is a dev dependency (requirements/dev.txt), imported here only: never in a function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BEGIN, END = "<!-- figures:begin (python -m bench report) -->", "<!-- figures:end -->"
# USD per million durable operations, us-east-1 (see BENCHMARKS.md "Cost" for the source).
PRICE_PER_MILLION_OPS = 8.00
HOPS = ("event emitted", "relay invoked", "callback sent", "handler resumed", "execution succeeded")


def _m(cell: dict[str, Any] | None, key: str = "median") -> Any:
    return None if not cell else cell.get(key)


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and digits == 0 and abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}" if isinstance(value, float | int) else str(value)


def _header(*names: str) -> str:
    return "| " + " | ".join(names) + " |\n" + "|---" * len(names) + "|"


def cost_per_1000(ops: float, price: float) -> float:
    return ops * 1000 * price / 1e6


def targets(r: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for every target of BENCHMARKS.md the results speak to."""
    out: list[tuple[str, str, bool | None]] = []
    if "ops" in r:
        out += _ops_targets(r)
    if "local" in r:
        out += _local_targets(r)
    if "coldstart" in r:
        out += _coldstart_targets(r)
    if "relay" in r:
        out += _relay_targets(r)
    if "fanout" in r:
        out += _fan_out_targets(r["fanout"])
    return out


def _rate(row: dict[str, Any]) -> tuple[int, float]:
    burst, per_second = row["run_task_rate"].split("/")
    return int(burst), float(per_second)


def _fan_out_targets(row: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    parts = row["parts"]
    _, per_second = _rate(row)
    floor = parts / per_second
    whole = row["status"] == "SUCCEEDED" and parts == row["parts_succeeded"] == row["part_tasks_stopped"]
    once = row["callbacks_completed"] == parts + 2 and row["part_tasks_started"] == parts
    return [
        (
            f"fan-out of {parts}: all complete, none lost or doubled (callbacks = tasks)",
            f"{row['parts_succeeded']}/{parts} parts, {row['part_tasks_started']} part tasks, "
            f"{row['callbacks_completed']} callbacks (with prepare and combine)",
            whole and once,
        ),
        (
            f"fan-out of {parts}: every RunTask accepted within 1.3x the rate's floor ({floor:.0f} s)",
            f"{row['start_span_seconds']} s ({row['start_span_seconds'] / floor:.2f}x)",
            row["start_span_seconds"] <= 1.3 * floor,
        ),
        (
            f"fan-out of {parts}: under Lambda's 3,000 operations an execution",
            f"{row['operations'] + row['step_retries']} ({row['operations_share_of_quota']:.0%})",
            row["operations_share_of_quota"] < 1,
        ),
    ]


def _ops_targets(r: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    out: list[tuple[str, str, bool | None]] = []
    rows = r["ops"]["durations"]
    ours = [_m(row["ours"]["operations"]) for row in rows.values()]
    out.append(
        (
            "ours: constant, <= 4 operations (first-try success)",
            f"{sorted(set(ours))}",
            len(set(ours)) == 1 and max(ours) <= 4,
        )
    )
    if "1 h" in rows:
        ratio = _m(rows["1 h"]["ratio"])
        out.append(("1 h task: polling / ours >= 300x", f"{ratio:.0f}x", ratio >= 300))
    return out


def _local_targets(r: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    out: list[tuple[str, str, bool | None]] = []
    lat = r["local"]["latency"]
    for key, how in (("ours_alone", "alone"), ("ours", "with polling")):
        if key in lat:
            total = lat[key]["total"]
            out.append(
                (
                    f"local completion-to-resume p50 <= 100 ms ({how})",
                    f"{total['p50']:.0f} ms",
                    total["p50"] <= 100,
                )
            )
            out.append(
                (
                    f"local completion-to-resume p99 <= 500 ms ({how})",
                    f"{total['p99']:.0f} ms",
                    total["p99"] <= 500,
                )
            )
    for n, row in r["local"]["scale"].items():
        ok = row["succeeded"] == row["started"] == row["tasks_run"] == row["callbacks_sent"]
        ok = ok and not row.get("aborted_low_memory")
        out.append(
            (
                f"scale {n}: all complete, callbacks sent = tasks run",
                f"{row['succeeded']}/{row['started']} succeeded, {row['callbacks_sent']} callbacks, {row['tasks_run']} tasks",
                ok,
            )
        )
    return out


def _coldstart_targets(r: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    out: list[tuple[str, str, bool | None]] = []
    c = r["coldstart"]
    for name, limit in (
        ("relay", 1.5),
        ("relay+tracing", 1.5),
        ("orchestrator", 2.0),
        ("orchestrator+tracing", 2.0),
    ):
        if name in c:
            ratio = _m(c[name]["ratio_total"])
            out.append((f"cold start {name} <= {limit}x baseline", f"{ratio:.2f}x", ratio <= limit))
    return out


def _relay_targets(r: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    out: list[tuple[str, str, bool | None]] = []
    p50 = r["relay"]["ms"]["p50"]
    out.append(("relay warm cost per event p50 < 1 ms", f"{p50:.3f} ms", p50 < 1))
    return out


def ordered(r: dict[str, Any]) -> dict[str, Any]:
    """results.json keeps its keys sorted: put durations, variants and sizes back in reading order."""
    r = dict(r)
    if "ops" in r:
        rows = r["ops"]["durations"]
        r["ops"] = {**r["ops"], "durations": dict(sorted(rows.items(), key=lambda kv: kv[1]["seconds"]))}
    if "coldstart" in r:
        order = ["baseline", "relay", "relay+tracing", "orchestrator", "orchestrator+tracing"]
        r["coldstart"] = {
            k: r["coldstart"][k]
            for k in sorted(
                r["coldstart"], key=lambda k: (k not in order, order.index(k) if k in order else 0, k)
            )
        }
    if "local" in r:
        r["local"] = {
            **r["local"],
            "scale": dict(sorted(r["local"]["scale"].items(), key=lambda kv: int(kv[0]))),
        }
    return r


def markdown(r: dict[str, Any], price: float) -> str:
    lines = [BEGIN, ""]
    meta = r.get("meta", {})
    runs = "; ".join(
        f"{part} {m['date']} at `{m['commit']}`" for part, m in sorted(r.get("runs", {}).items())
    )
    lines += [
        f"Python {meta.get('python', '?')}, {meta.get('machine', '?')}. Runs: {runs or meta.get('date', '?')}.",
        "",
    ]
    lines += ["### Targets", "", "| target | measured | met |", "|---|---|---|"]
    for target, measured, met in targets(r):
        lines.append(f"| {target} | {measured} | {'yes' if met else 'NO'} |")
    lines.append("")
    if "ops" in r:
        lines += _ops_section(r, price)
    if "local" in r:
        lines += _latency_section(r)
    if "coldstart" in r:
        lines += _coldstart_section(r)
    if "relay" in r:
        lines += _relay_section(r)
    if "local" in r:
        lines += _scale_section(r)
    if "fanout" in r:
        lines += _fan_out_section(r["fanout"])
    if "size" in r:
        lines += _size_section(r)
    if "cost" in r:
        lines += _cost_section(r["cost"])
    lines.append(END)
    return "\n".join(lines)


def _ops_section(r: dict[str, Any], price: float) -> list[str]:
    lines: list[str] = []
    lines += [
        "### 1. Durable operations, checkpoint bytes and cost per orchestration",
        "",
        f"Median of the runs (n in `results.json`); cost at ${price:.2f} per million operations. "
        "*e* = extrapolated from the measured per-poll cost "
        f"({r['ops']['per_poll_model'].get('ops_per_poll', '?')} operations and "
        f"{r['ops']['per_poll_model'].get('bytes_per_poll', '?')} checkpoint bytes per poll).",
        "",
        "| task duration | polls | ops ours | ops polling | polling / ours | checkpoint bytes ours | checkpoint bytes polling | USD per 1,000 ours | USD per 1,000 polling |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, row in r["ops"]["durations"].items():
        ours, polling = row["ours"], row["polling"]
        e = " *e*" if polling.get("extrapolated") else ""
        o_ops, p_ops = _m(ours["operations"]), _m(polling["operations"])
        lines.append(
            f"| {label} | {row['polls']:,} | {_fmt(o_ops)} | {_fmt(p_ops)}{e} | {_m(row['ratio']):,.0f}x{e} "
            f"| {_fmt(_m(ours['checkpoint_bytes']))} | {_fmt(_m(polling['checkpoint_bytes']))}{e} "
            f"| {cost_per_1000(o_ops, price):.3f} | {cost_per_1000(p_ops, price):.2f}{e} |"
        )
    lines.append("")
    return lines


def _latency_section(r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    lat = r["local"]["latency"]
    lines += [
        "### 2. Completion-to-resume latency on the local cloud (worker exit to execution SUCCEEDED)",
        "",
        f"{lat['orchestrations']} orchestrations of each, {lat['concurrency']} of each in flight, after one "
        f"unrecorded warm-up of each (its cold first run: ours {lat['cold_first']['ours_ms']:.0f} ms, "
        f"polling {lat['cold_first']['polling_ms']:.0f} ms).",
        "",
        "| ms | p50 | p95 | p99 | max |",
        "|---|---|---|---|---|",
    ]
    labels = {
        "ours": f"ours ({lat['concurrency']} in flight, with polling's)",
        "polling": f"polling ({lat['concurrency']} in flight, with ours)",
        "ours_alone": "ours alone (1 in flight)",
    }
    for name, label in labels.items():
        if name in lat:
            t = lat[name]["total"]
            lines.append(f"| {label} | {t['p50']:.0f} | {t['p95']:.0f} | {t['p99']:.0f} | {t['max']:.0f} |")
    lines += [
        "",
        "Ours, by hop (each hop's own percentiles; they do not add up to the total's):",
        "",
        _header("hop (ms)", "p50", "p95", "p99", "alone p50", "alone p95", "alone p99"),
    ]
    alone = lat.get("ours_alone", {})
    for hop in HOPS:
        h, a = lat["ours"][hop], alone.get(hop, {})
        lines.append(
            f"| {hop} | {h['p50']:.0f} | {h['p95']:.0f} | {h['p99']:.0f} "
            f"| {_fmt(a.get('p50'))} | {_fmt(a.get('p95'))} | {_fmt(a.get('p99'))} |"
        )
    lines += ["", "Polling, by hop:", "", "| hop (ms) | p50 | p95 | p99 |", "|---|---|---|---|"]
    for hop in ("next poll due", "poll and return"):
        h = lat["polling"][hop]
        lines.append(f"| {hop} | {h['p50']:.0f} | {h['p95']:.0f} | {h['p99']:.0f} |")
    lines.append("")
    return lines


def _coldstart_section(r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    lines += [
        "### 3. Cold start (fresh interpreter: import, clients, one event against local endpoints)",
        "",
        "| variant | import s | clients s | event s | in-process total s | process wall s | peak RSS MB | total / baseline (pairwise) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, c in r["coldstart"].items():
        spread = c["ratio_total"]
        lines.append(
            f"| {name} | {_m(c['import']):.3f} | {_m(c['clients']):.3f} | {_m(c['event']):.3f} | {_m(c['total']):.3f} "
            f"| {_m(c['process']):.3f} | {_m(c['peak_rss_mb']):.0f} | {spread['median']:.2f}x ({spread['min']:.2f}-{spread['max']:.2f}) |"
        )
    lines.append("")
    return lines


def _relay_section(r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    m = r["relay"]["ms"]
    lines += [
        "### 4. Relay warm cost per event (parse + decide + log + metric, no network)",
        "",
        f"{m['n']:,} events: p50 {m['p50']:.3f} ms, p95 {m['p95']:.3f} ms, p99 {m['p99']:.3f} ms, max {m['max']:.3f} ms.",
        "",
    ]
    return lines


def _scale_section(r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    lines += [
        "### 5. Scale on the local cloud (started together)",
        "",
        "| started | succeeded | tasks run | callbacks sent | wall s | orchestrations/s | peak workers running | CPU s by process | ours' share of CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, row in r["local"]["scale"].items():
        cpu = ", ".join(
            f"{k} {v:.0f}"
            for k, v in sorted(row["cpu_seconds_by_process"].items(), key=lambda kv: -kv[1])
            if v >= 0.5
        )
        lines.append(
            f"| {n} | {row['succeeded']} | {row['tasks_run']} | {row['callbacks_sent']} | {row['wall_seconds']:.1f} "
            f"| {row['throughput_per_s']:.1f} | {row.get('peak_running_workers', '-')} | {cpu} | {row['cpu_share_ours']:.1%} |"
        )
    lines.append("")
    return lines


def _fan_out_section(row: dict[str, Any]) -> list[str]:
    parts = row["parts"]
    burst, per_second = _rate(row)
    cpu = ", ".join(
        f"{k} {v:.0f}"
        for k, v in sorted(row["cpu_seconds_by_process"].items(), key=lambda kv: -kv[1])
        if v >= 0.5
    )
    figures = [
        ("status", row["status"]),
        ("parts succeeded / failed", f"{row['parts_succeeded']} / {row['parts_failed']}"),
        (
            "part tasks started / stopped; callbacks completed (the relay's log)",
            f"{row['part_tasks_started']} / {row['part_tasks_stopped']}; "
            f"{row['callbacks_completed']} ({row['callbacks_sent']})",
        ),
        ("the durable runner's store", row["durable_store"]),
        (
            "RunTask rate (burst / a second), max_concurrency",
            f"{burst} / {per_second:g}, {row['max_concurrency']}",
        ),
        (
            "every part's RunTask accepted in",
            f"{row['start_span_seconds']} s (floor {parts / per_second:.0f} s; {max(parts - burst, 0) / per_second:.0f} s after the burst)",
        ),
        ("every part's worker launched in", f"{row['launch_span_seconds']} s"),
        ("wall, invoke to SUCCEEDED", f"{row['wall_seconds']} s"),
        (
            "durable operations (+ step retries), per part",
            f"{row['operations']} (+ {row['step_retries']}), {row['operations_per_part']}",
        ),
        ("checkpoint bytes, per part", f"{row['checkpoint_bytes']:,}, {row['checkpoint_bytes_per_part']:,}"),
        (
            "share of Lambda's 3,000 operations / 100 MB",
            f"{row['operations_share_of_quota']:.1%} / {row['checkpoint_share_of_quota']:.2%}",
        ),
        ("history events", f"{row['history_events']:,}"),
        ("Pipeline invocations", str(row["invocations"])),
        ("peak memory of the Pipeline's environment", f"{row['peak_rss_mb_pipeline_process']} MB"),
        ("CPU s by process", cpu),
    ]
    lines = [
        f"### 7. A fan-out of {parts} tasks in one execution (`python -m bench fanout`)",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value} |" for name, value in figures]
    lines.append("")
    return lines


def _size_section(r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    lines += ["### 6. Deployment size (`sam build`)", ""]
    if "skipped" in r["size"] or "failed" in r["size"]:
        lines += [f"Not measured: {r['size'].get('skipped') or 'sam build failed'}", ""]
    else:
        lines += ["| package | unzipped MB | zipped MB | largest entries |", "|---|---|---|---|"]
        for name, pkg in r["size"].items():
            top = ", ".join(f"{e['name']} {e['mb']:.1f} MB ({e['share']:.0%})" for e in pkg["largest"][:4])
            lines.append(f"| {name} | {pkg['unzipped_mb']:.1f} | {pkg['zipped_mb']:.1f} | {top} |")
        lines.append("")
    return lines


def _cost_section(c: dict[str, Any]) -> list[str]:
    jobs, hours = c["jobs"], c["job_seconds"] / 3600
    lines = [
        f"### 8. Cost of {jobs:,} jobs of {hours:g} h (`python -m bench cost`)",
        "",
        f"USD, us-east-1, for {jobs:,} jobs of {c['cpu'] / 1024:g} vCPU and {c['memory'] / 1024:g} GB; "
        "each row's assumptions in its last column, the prices below it.",
        "",
        "| | Fargate | durable operations (USD) | invocations (USD) | state transitions (USD) | total | a job "
        "| assumptions |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in c["rows"]:
        lines.append(
            f"| {row['name']} | {row['fargate_usd']:.2f} "
            f"| {row['durable_operations']:,.0f} ({row['durable_operations_usd']:.3f}) "
            f"| {row['invocations']:,.0f} ({row['invocations_usd']:.3f}) "
            f"| {row['state_transitions']:,.0f} ({row['state_transitions_usd']:.3f}) "
            f"| **{row['total_usd']:.2f}** | {row['usd_per_job']:.5f} | {row['assumptions']} |"
        )
    lines += [
        "",
        f"Spot with fallback costs what on-demand does when {c['break_even_interruption_rate']:.0%} of "
        f"Spot tasks are interrupted (Fargate alone; the table assumes {c['interruption_rate']:.0%}).",
        "",
        "| price | USD | per | read on | on AWS's page |",
        "|---|---|---|---|---|",
    ]
    for name, p in c["prices"].items():
        seen = "yes" if p["verified"] else "no: third-party copies (see `ecs_contract/cost.py`)"
        lines.append(f"| {name} | {p['amountUsd']:g} | {p['per']:,} {p['unit']} | {p['readOn']} | {seen} |")
    lines.append("")
    return lines


def chart(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    fig.suptitle("Callback (ours) vs polling every 5 s: durable operations, latency, cold start", fontsize=13)
    ax = axes[0][0]
    if "ops" in r:
        rows = r["ops"]["durations"]
        xs = [row["seconds"] for row in rows.values()]
        ours = [_m(row["ours"]["operations"]) for row in rows.values()]
        polling = [_m(row["polling"]["operations"]) for row in rows.values()]
        ax.plot(xs, ours, "o-", color="tab:green", label="ours (callback)")
        ax.plot(xs, polling, "s-", color="tab:red", label="polling (5 s)")
        for x, y, row in zip(xs, polling, rows.values(), strict=True):
            if row["polling"].get("extrapolated"):
                ax.plot([x], [y], "s", color="white", markeredgecolor="tab:red")
            ax.annotate(
                f"{_m(row['ratio']):,.0f}x", (x, y), textcoords="offset points", xytext=(-8, 6), fontsize=8
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(xs, list(rows))
        ax.set_xlabel("task duration (hollow: extrapolated)")
        ax.set_ylabel("durable operations per orchestration")
        ax.set_title("1. Billed durable operations")
        ax.legend()
    ax = axes[0][1]
    if "local" in r:
        lat = r["local"]["latency"]
        keys = ("p50", "p95", "p99")
        series = [("ours_alone", "ours alone", "tab:olive"), ("ours", "ours", "tab:green")]
        series += [("polling", "polling", "tab:red")]
        series = [x for x in series if x[0] in lat]
        width = 0.8 / len(series)
        for i, (name, label, color) in enumerate(series):
            values = [lat[name]["total"][k] for k in keys]
            bars = ax.bar([j + i * width for j in range(3)], values, width * 0.95, color=color, label=label)
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        ax.axhline(100, color="grey", linestyle=":", linewidth=1)
        ax.set_xticks([j + width * (len(series) - 1) / 2 for j in range(3)], keys)
        ax.set_yscale("log")
        ax.set_ylabel("ms, worker exit to execution SUCCEEDED")
        ax.set_title(f"2. Completion-to-resume, local ({lat['orchestrations']} each; dotted: 100 ms)")
        ax.legend()
        ax = axes[1][0]
        hops_of = "ours_alone" if "ours_alone" in lat else "ours"
        p50 = [lat[hops_of][h]["p50"] for h in HOPS]
        p95 = [lat[hops_of][h]["p95"] for h in HOPS]
        ax.barh(list(HOPS), p95, color="tab:olive", alpha=0.35, label="p95")
        ax.barh(list(HOPS), p50, color="tab:green", label="p50")
        for y, v in enumerate(p50):
            ax.annotate(f"{v:.0f}", (v, y), xytext=(3, -3), textcoords="offset points", fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("ms")
        how = "alone, 1 in flight" if hops_of == "ours_alone" else f"{lat['concurrency']} in flight"
        ax.set_title(f"2. Ours by hop ({how}): where the time goes")
        ax.legend()
    ax = axes[1][1]
    if "coldstart" in r:
        c = r["coldstart"]
        names = list(c)
        totals = [_m(c[n]["total"]) for n in names]
        bars = ax.bar(range(len(names)), totals, color=["grey"] + ["tab:blue"] * (len(names) - 1))
        ax.bar_label(bars, labels=[f"{_m(c[n]['ratio_total']):.2f}x" for n in names], fontsize=8)
        base = _m(c["baseline"]["total"])
        ax.axhline(1.5 * base, color="tab:orange", linestyle=":", linewidth=1, label="1.5x baseline (relay)")
        ax.axhline(
            2.0 * base, color="tab:red", linestyle=":", linewidth=1, label="2x baseline (orchestrator)"
        )
        ax.set_xticks(range(len(names)), [n.replace("+", "\n+") for n in names], fontsize=8)
        ax.set_ylabel("s, median: import + clients + one event")
        ax.set_title("3. Cold start vs import boto3 + one call")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(r: dict[str, Any], out: Path, page: Path, price: float = PRICE_PER_MILLION_OPS) -> None:
    r = ordered(r)
    chart(r, out / "chart.png")
    text = page.read_text() if page.exists() else f"{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        raise ValueError(f"{page} has no {BEGIN} ... {END} block for the figures")
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    page.write_text(before + markdown(r, price) + after)
