"""What a daily linkage run costs, at several registry sizes: history first, then one day.

    .venv/bin/python bench/incremental_linkage.py --persons 20000 100000 --work /tmp/inc-bench

For each size: generate a world (2024-01-01 .. 2025-12-31), stage all history before the last
day, link it in full (the first run), stage the last day, and link again (the daily run,
incremental), then once more in full for comparison. Prints, per size, the records and spine
entries, what the daily run linked again and why (``linkage.runs``), and wall times; the
point is that the daily run's time follows the day's records, not the registries' size.
Staging goes through the ingest's own code (:func:`etl.ingest.run.ingest_table`), linking
through :func:`linkage.stage.run_linkage`, the function the DAG calls.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from credlink.etl.conform.apply import conform_partition
from credlink.etl.contracts import source_contracts
from credlink.etl.ingest.extract import connect, source_url
from credlink.etl.ingest.interval import Interval
from credlink.etl.ingest.run import RunContext, ingest_table
from credlink.etl.lake import Lake
from credlink.linkage.runs import read_runs
from credlink.linkage.stage import run_linkage
from credlink.world.config import WorldConfig
from credlink.world.generate import generate_world

START, END = date(2024, 1, 1), date(2025, 12, 31)
DAY_START = datetime(2025, 12, 31, tzinfo=UTC)
DAY_END = datetime(2026, 1, 1, tzinfo=UTC)


def stage(world: Path, lake: Lake, interval: Interval) -> int:
    ctx = RunContext(run_id=f"bench-{interval.key}", logical_date=interval.end,
                     docs_root=lake.root / "docs", quarantine_limit=1.0)  # fmt: skip
    rows = 0
    for source, contract in sorted(source_contracts().items()):
        engine = connect(source_url(None, world / contract.default_database), source)
        for table in contract.tables:
            result = ingest_table(contract, table, engine, interval, lake, ctx)
            conform_partition(lake, source, table.name, interval.key)
            rows += result.extracted
    return rows


def timed_link(lake: Lake, run_id: str, full: bool = False) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    counts = run_linkage(lake, run_id=run_id, logical_date=DAY_END, full=full)
    return time.perf_counter() - started, counts


def one_size(persons: int, work: Path, seed: int) -> dict[str, object]:
    out = work / f"w{persons}"
    shutil.rmtree(out, ignore_errors=True)
    world = generate_world(
        WorldConfig(persons=persons, seed=seed, start=START, end=END, out=out / "world")
    )
    lake = Lake(out / "lake")
    stage(world.out, lake, Interval(None, DAY_START))
    history_s, _ = timed_link(lake, "history")
    day_rows = stage(world.out, lake, Interval(DAY_START, DAY_END))
    daily_s, daily = timed_link(lake, "daily")
    full_s, full = timed_link(lake, "full", full=True)
    runs = read_runs(lake).filter(pl.col("run_id") == "daily")
    spine = runs.filter(pl.col("subject_type") != "legal_representative")["spine_entries"].sum()
    return {
        "persons": persons,
        "records": daily["records"],
        "spine": int(spine),
        "day_rows": day_rows,
        "history_s": history_s,
        "daily_relinked": daily["relinked"],
        "daily_s": daily_s,
        "full_s": full_s,
        "why": "; ".join(
            f"{r['subject_type']}: {r['mode']} new {r['relinked_new']} changed "
            f"{r['relinked_changed']} spine {r['relinked_spine_changed']} "
            f"not-accepted {r['relinked_not_accepted']} ({r['seconds']:.2f} s)"
            for r in runs.iter_rows(named=True)
        ),
        "full_relinked": full["relinked"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/credlink-incremental-bench"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    console = Console(width=120)
    rows = []
    for persons in args.persons:
        with console.status(f"{persons:,} persons"):
            rows.append(one_size(persons, args.work, args.seed))
    table = Table(title="Incremental linkage: one day after the history")
    for col in ("persons", "records", "spine", "day rows", "relinked", "daily s", "full s",
                "daily/full"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in rows:
        daily_s, full_s = float(str(r["daily_s"])), float(str(r["full_s"]))
        table.add_row(
            f"{r['persons']:,}", f"{r['records']:,}", f"{r['spine']:,}", f"{r['day_rows']:,}",
            f"{r['daily_relinked']:,}", f"{daily_s:.2f}", f"{full_s:.2f}",
            f"{daily_s / full_s:.2f}",
        )  # fmt: skip
    console.print(table)
    for r in rows:
        console.print(f"{r['persons']:,} persons, daily run: {r['why']}")
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        ratio = float(str(b["daily_s"])) / float(str(a["daily_s"]))
        console.print(
            f"daily run {b['persons']:,} vs {a['persons']:,} persons: {ratio:.2f}x the time "
            f"for {int(str(b['spine'])) / int(str(a['spine'])):.1f}x the spine"
        )


if __name__ == "__main__":
    main()
