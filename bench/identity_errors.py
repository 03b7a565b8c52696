"""Wrongful restrictions on worlds whose clerks type other people's numbers.

    .venv/bin/python bench/identity_errors.py                               # 20,000 persons
    .venv/bin/python bench/identity_errors.py --persons 20000 --seeds 7 8 --scales 1 10 30

For each seed and identity-error scale (:meth:`world.config.NoiseConfig.with_identity_errors`:
every identity-error rate times the scale: another person's or a relative's valid ID, another
firm's USCC, foreign namesakes, passport-typed records without a number, unregistered
look-alike firms, namesake twins), generate a world (2024-01-01 .. 2025-12-31), stage all of
it, link it (:func:`linkage.stage.run_linkage`, the DAG's function) and publish it as of the
last day (:func:`publish.stage.run_publish`); then print:

- link quality per subject type against the truth (precision, recall, review share);
- restriction quality (:mod:`publish.quality`): imposed, **wrongful**, missed, held in review,
  recall, share of listings in review;
- the identity errors the world made and what became of their records (accepted right,
  accepted wrong, in review, rejected).

The targets of issue 11: zero wrongful restrictions; restriction recall >= 0.99; at most 2% of
listings in review; link precision >= 0.9995 and recall >= 0.995.
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
from credlink.linkage.quality import quality_table, read_truth
from credlink.linkage.stage import run_linkage
from credlink.linkage.tables import read_record_links
from credlink.publish.quality import ALL, read_restriction_quality
from credlink.publish.stage import run_publish
from credlink.world.config import IDENTITY_ERRORS, NoiseConfig, WorldConfig
from credlink.world.generate import generate_world

START, END = date(2024, 1, 1), date(2025, 12, 31)
LOAD_END = datetime(2026, 1, 1, tzinfo=UTC)
console = Console(width=160)


def _stage(world: Path, lake: Lake, work: Path) -> None:
    ctx = RunContext(run_id="bench", logical_date=LOAD_END, docs_root=work / "docs",
                     quarantine_limit=1.0)  # fmt: skip
    for source, contract in sorted(source_contracts().items()):
        engine = connect(source_url(None, world / contract.default_database), source)
        for table in contract.tables:
            ingest_table(contract, table, engine, Interval(None, LOAD_END), lake, ctx)
            conform_partition(lake, source, table.name, Interval(None, LOAD_END).key)


def _fate(links: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Per identity-error kind: records, accepted right, accepted wrong, in review, other."""
    joined = links.join(truth, on="unique_id", how="inner").with_columns(
        pl.col("noise").str.split(",").alias("kinds")
    )
    rows = []
    for kind in IDENTITY_ERRORS:
        hit = joined.filter(pl.col("kinds").list.contains(kind))
        accepted = hit.filter(pl.col("band") == "accept")
        right = accepted.filter(pl.col("credit_code") == pl.col("true_code").fill_null(""))
        rows.append(
            {
                "error": kind,
                "records": hit.height,
                "accepted_right": right.height,
                "accepted_wrong": accepted.height - right.height,
                "review": hit.filter(pl.col("band") == "review").height,
                "rejected": hit.filter(pl.col("band") == "reject").height,
            }
        )
    return pl.DataFrame(rows)


def _print(title: str, frame: pl.DataFrame) -> None:
    table = Table(title=title)
    for col in frame.columns:
        table.add_column(col, justify="left" if frame.schema[col] == pl.String else "right")
    for row in frame.iter_rows():
        table.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)


def run(persons: int, seed: int, scale: float, work: Path) -> dict[str, object]:
    """One world: generate, stage, link, publish, measure; returns the headline figures."""
    base = work / f"p{persons}-s{seed}-x{scale:g}"
    shutil.rmtree(base, ignore_errors=True)
    t0 = time.perf_counter()
    cfg = WorldConfig(persons=persons, seed=seed, start=START, end=END, out=base / "world",
                      noise=NoiseConfig.with_identity_errors(scale))  # fmt: skip
    generate_world(cfg)
    lake = Lake(base / "lake")
    _stage(base / "world", lake, base)
    run_linkage(lake, run_id="bench-link", logical_date=LOAD_END)
    warehouse = base / "warehouse.duckdb"
    run_publish(lake, warehouse, "bench-publish", END)
    seconds = time.perf_counter() - t0

    truth = read_truth(base / "world")
    links = read_record_links(lake)
    quality = quality_table(links, truth).filter(pl.col("source") == "all")
    restrictions = read_restriction_quality(warehouse, lake, base / "world")
    overall = restrictions.filter(
        (pl.col("memorandum_id") == ALL) & (pl.col("enforcing_agency") == ALL)
    ).row(0, named=True)
    console.rule(f"{persons:,} persons, seed {seed}, identity errors x{scale:g} ({seconds:.0f} s)")
    _print("Links against the truth", quality.select(
        "subject_type", "records", "linkable", "accepted", "precision", "recall", "review_share",
        "absent_linked"))  # fmt: skip
    _print("Restrictions against the truth", restrictions.select(
        "memorandum_id", "enforcing_agency", "expected", "imposed", "wrongful", "missed",
        "held_in_review", "recall", "listings", "listings_in_review", "review_share"))  # fmt: skip
    _print("What became of the records with an identity error", _fate(links, truth))
    figures: dict[str, object] = {
        "seed": seed,
        "scale": scale,
        "wrongful": overall["wrongful"],
        "missed": overall["missed"],
        "held_in_review": overall["held_in_review"],
        "restriction_recall": overall["recall"],
        "listings_in_review": overall["review_share"],
    }
    for row in quality.iter_rows(named=True):
        st = row["subject_type"]
        figures[f"{st}_precision"] = row["precision"]
        figures[f"{st}_recall"] = row["recall"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/credlink-identity-bench"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = [run(args.persons, s, x, args.work) for s in args.seeds for x in args.scales]
    _print("Summary (targets: 0 wrongful; recall >= 0.99; <= 2% of listings in review; link "
           "precision >= 0.9995, recall >= 0.995)", pl.DataFrame(rows))  # fmt: skip


if __name__ == "__main__":
    main()
