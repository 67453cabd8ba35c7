"""How the benchmarks report: a table of figures against targets, the results JSON file; and
the ingestion benchmark's verdict."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 120)

# figure, value, target, whether it was met (None: the figure has no target)
Row = tuple[str, str, str, bool | None]


def print_figures(title: str, rows: Iterable[Row]) -> None:
    """A run's figures as a table: value, target and a met/missed verdict."""
    table = Table(title=title)
    for column in ("figure", "value", "target", ""):
        table.add_column(column)
    for figure, value, target, ok in rows:
        verdict = "" if ok is None else ("[green]met[/]" if ok else "[red]missed[/]")
        table.add_row(figure, value, target, verdict)
    console.print(table)


def ceiling_rows(results: dict[str, Any], targets: dict[str, Any]) -> list[Row]:
    """A row for each figure whose target is a ceiling (met when the value is at most it)."""
    return [
        (key, f"{results[key]:,}", f"<= {target:,}", results[key] <= target)
        for key, target in targets.items()
    ]


def run_info(started: float) -> dict[str, Any]:
    """When and where a run ran, and how long it took (`started`: its `perf_counter()`)."""
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "seconds": round(time.perf_counter() - started, 1),
        "python": platform.python_version(),
    }


def write_results(path: Path, results: dict[str, Any]) -> None:
    """Write a run's results as indented JSON (a value JSON has no type for, as its text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")


# --------------------------------------------------------------------------- ingestion

TARGETS = {
    "ratio_vs_raw": 0.9,
    "ratio_vs_naive": 10.0,
    "p99_ms": 250.0,  # at half the measured rate
    "p99_tenth_ms": 100.0,  # at a tenth of it
    "rss_mb": 300.0,
}


def _latency_met(phase: dict[str, Any], target: float) -> bool:
    p99 = phase.get("p99_ms")
    return bool(
        p99 is not None and phase.get("p99_exact", False) and phase["all_stored"] and p99 <= target
    )


def summarize(r: dict[str, Any]) -> dict[str, Any]:
    pipe, raw, naive, half = r["pipeline"], r["raw_floor"], r["naive"], r["half_load"]
    tenth = r.get("tenth_load", {})
    ratio_raw = pipe["eps"] / raw["eps"] if raw["eps"] else None
    ratio_naive = pipe["eps"] / naive["eps"] if naive["eps"] else None
    p99 = half.get("p99_ms")
    rss = r["service"]["peak_rss_mb"]
    passed = {
        "ratio_vs_raw": ratio_raw is not None and ratio_raw >= TARGETS["ratio_vs_raw"],
        "ratio_vs_naive": ratio_naive is not None and ratio_naive >= TARGETS["ratio_vs_naive"],
        "p99_latency_ms_at_half_load": _latency_met(half, TARGETS["p99_ms"]),
        "p99_latency_ms_at_tenth_load": bool(tenth)
        and _latency_met(tenth, TARGETS["p99_tenth_ms"]),
        "peak_rss_mb": rss < TARGETS["rss_mb"],
        "pipeline_complete": pipe["complete"],
    }
    return {
        "pipeline_eps": pipe["eps"],
        "raw_floor_eps": raw["eps"],
        "naive_eps": naive["eps"],
        "naive_measured_on": naive["stored"],
        "ratio_vs_raw": None if ratio_raw is None else round(ratio_raw, 3),
        "ratio_vs_naive": None if ratio_naive is None else round(ratio_naive, 2),
        "p99_latency_ms_at_half_load": p99,
        "p99_latency_ms_at_tenth_load": tenth.get("p99_ms"),
        "peak_rss_mb": rss,
        "producer_eps": pipe["producer_eps"],
        "targets": TARGETS,
        "passed": passed,
    }


def print_table(s: dict[str, Any], r: dict[str, Any]) -> None:
    def verdict(key: str) -> str:
        return "[green]PASS[/]" if s["passed"][key] else "[bold red]MISSED[/]"

    half = r["half_load"]
    t = Table(title=f"Ingestion benchmark: {r['payload']['observations']:,} observations, "
                    f"{r['payload']['clients']:,} clients")  # fmt: skip
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("target", justify="right")
    t.add_column("result")
    complete = r["pipeline"]["complete"]
    t.add_row("pipeline, published -> stored (metrics service)",
              f"{s['pipeline_eps']:,.0f} obs/s" + ("" if complete else " (INCOMPLETE)"),
              "all stored", verdict("pipeline_complete"))  # fmt: skip
    t.add_row(
        "raw floor: getmany + insert_many", f"{s['raw_floor_eps']:,.0f} obs/s", "baseline", ""
    )
    t.add_row(f"naive: FastStream + insert_one (on {s['naive_measured_on']:,} msgs)",
              f"{s['naive_eps']:,.0f} obs/s", "baseline", "")  # fmt: skip
    t.add_row("pipeline / raw floor", f"{s['ratio_vs_raw']:.2f}",
              f">= {TARGETS['ratio_vs_raw']}", verdict("ratio_vs_raw"))  # fmt: skip
    t.add_row("pipeline / naive", f"{s['ratio_vs_naive']:.1f}",
              f">= {TARGETS['ratio_vs_naive']:.0f}", verdict("ratio_vs_naive"))  # fmt: skip
    p99 = s["p99_latency_ms_at_half_load"]
    bound = "" if half.get("p99_exact", True) else " (> last bucket)"
    t.add_row(f"p99 publish -> stored at {half['achieved_rate_eps']:,.0f} obs/s"
              f" ({half['latency_source']})",
              "n/a" if p99 is None else f"{p99:,.0f} ms{bound}",
              f"<= {TARGETS['p99_ms']:.0f} ms", verdict("p99_latency_ms_at_half_load"))  # fmt: skip
    tenth = r.get("tenth_load")
    if tenth:
        p99 = s["p99_latency_ms_at_tenth_load"]
        bound = "" if tenth.get("p99_exact", True) else " (> last bucket)"
        t.add_row(f"p99 publish -> stored at {tenth['achieved_rate_eps']:,.0f} obs/s"
                  f" ({tenth['latency_source']})",
                  "n/a" if p99 is None else f"{p99:,.0f} ms{bound}",
                  f"<= {TARGETS['p99_tenth_ms']:.0f} ms",
                  verdict("p99_latency_ms_at_tenth_load"))  # fmt: skip
    t.add_row("metrics-service peak RSS (VmHWM)", f"{s['peak_rss_mb']:,.0f} MB",
              f"< {TARGETS['rss_mb']:.0f} MB", verdict("peak_rss_mb"))  # fmt: skip
    t.add_row("producer (pipelined send, acks=all)", f"{s['producer_eps']:,.0f} msg/s", "info", "")
    console.print(t)
    print_cpu(r)
    missed = [k for k, ok in s["passed"].items() if not ok]
    if missed:
        console.print(f"[bold red]MISSED:[/] {', '.join(missed)}")
    else:
        console.print("[bold green]all targets met[/]")


PHASES = {
    "raw_floor": "raw floor",
    "naive": "naive",
    "pipeline": "pipeline",
    "half_load": "half load",
    "tenth_load": "tenth load",
}
BUSY_MACHINE = 0.15  # cores used by other jobs above which a phase's figures are skewed


def print_cpu(r: dict[str, Any]) -> None:
    """Where the CPU went in each timed phase (average cores), and warnings if other jobs on
    the machine took a noticeable share of it."""
    t = Table(title="CPU during each timed phase (average cores; database ms per observation)")
    for col in ("phase", "database", "kafka", "consumer", "bench", "other jobs", "db ms/obs"):
        t.add_column(col, justify="left" if col == "phase" else "right")
    busy = []
    for key, label in PHASES.items():
        cpu = r.get(key, {}).get("cpu_cores")
        if not cpu:
            continue
        per_obs = r[key].get("cpu_ms_per_observation", {}).get("database")
        cores = [f"{cpu.get(k, 0):.2f}" for k in ("database", "kafka", "consumer", "bench")]
        ms = "" if per_obs is None else f"{per_obs:.2f}"
        t.add_row(label, *cores, f"{cpu['other']:.2f}", ms)
        if cpu["other"] > BUSY_MACHINE:
            busy.append(f"{label} ({cpu['other']:.2f} cores)")
    console.print(t)
    if busy:
        console.print(f"[bold yellow]WARNING:[/] other jobs used the CPUs during {', '.join(busy)}"
                      ": those figures are skewed; rerun on a quiet machine")  # fmt: skip
