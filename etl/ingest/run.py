"""Ingest one source table over one interval: extract, standardise, validate, stage or
quarantine, account. The function the ingest DAGs call, usable without Airflow.

Outcomes, by kind of bad input (also in the README):

- a column missing or changed type in the source: the run fails before extracting
  (`SchemaDriftError`, naming source, table, column and contract file);
- the source cannot be reached: the run fails (`SourceUnreachableError`, naming source and where);
- NULL in a column the contract says is never NULL: row quarantined, rule `not_null:<column>`;
- an unparseable date, timestamp or amount: row quarantined, rule `parses:<column>`;
- a value outside its vocabulary: row quarantined, rule `in_vocabulary:<column>`;
- the same key twice in one extract: the first row staged, later ones quarantined, rule
  `unique:<key>`;
- an identifier of the wrong shape or check digit: staged and classified (`subject_id_class`),
  so that linkage can still use the rest of the record;
- an empty interval: success with zero rows; the empty partition and the run row are written;
- a quarantined share above the limit: all rows are written, then the run fails
  (`QuarantineLimitExceeded`).

Every extracted row is either staged or quarantined: extracted = staged + quarantined, recorded
per table and interval in `ops.ingest_runs`.

Example:
    >>> report = ingest_table(contract, table, engine, interval, lake, ctx)   # doctest: +SKIP
    >>> report.extracted == report.staged + report.quarantined                # doctest: +SKIP
    True
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy.engine import Engine

from etl.contracts import SourceContract, Table
from etl.ingest.extract import extract
from etl.ingest.interval import Interval
from etl.ingest.standardise_table import standardise
from etl.lake import Lake
from etl.validate import Rule, validate

log = logging.getLogger(__name__)


class QuarantineLimitExceeded(RuntimeError):
    """Too large a share of an interval's rows failed validation."""


@dataclass(frozen=True)
class RunContext:
    """What the scheduler says about the run (no wall-clock time is used anywhere)."""

    run_id: str
    logical_date: datetime
    #: Data Docs of each validation go under this folder.
    docs_root: Path
    #: fail the run when more than this share of an interval's rows is quarantined.
    quarantine_limit: float = 0.05


@dataclass(frozen=True)
class TableReport:
    """The accounting of one table over one interval."""

    source: str
    table: str
    interval: str
    interval_start: datetime | None
    interval_end: datetime
    run_id: str
    logical_date: datetime
    extracted: int
    staged: int
    quarantined: int
    docs_index: str | None
    status: str

    @property
    def quarantine_share(self) -> float:
        return self.quarantined / self.extracted if self.extracted else 0.0


def dataset_name(source: str, table: str) -> str:
    """`<source>__<table>`, the name of a staged or quarantined dataset."""
    return f"{source}__{table}"


def rules_for(table: Table, staged: pl.DataFrame) -> list[Rule]:
    """The validation rules of a table, derived from its contract."""
    rules = [
        Rule(name=f"not_null:{c.name}", kind="not_null", column=c.name)
        for c in table.columns
        if not c.nullable
    ]
    key = "+".join(table.primary_key)
    rules.append(
        Rule(name=f"unique:{key}", kind="in_set", column="_first_of_key", value_set=(True,))
    )
    for c in table.columns:
        std = c.standardise
        if std is None or f"_ok__{std.field}" not in staged.columns:
            continue
        rule = "in_vocabulary" if std.kind == "vocabulary" else "parses"
        rules.append(
            Rule(
                name=f"{rule}:{c.name}",
                kind="in_set",
                column=f"_ok__{std.field}",
                value_set=(True,),
            )
        )
    rules.append(
        Rule(
            name=f"parses:{table.incremental.column}",
            kind="in_set",
            column="_ok___updated_utc",
            value_set=(True,),
        )
    )
    return rules


def ingest_table(
    contract: SourceContract,
    table: Table,
    engine: Engine,
    interval: Interval,
    lake: Lake,
    ctx: RunContext,
) -> TableReport:
    """Extract `table`'s rows of `interval`, stage the valid ones, quarantine the rest with the
    rules they failed, and record the counts; replaces whatever the interval wrote before."""
    dataset = dataset_name(contract.source, table.name)
    raw = extract(engine, table, interval)
    staged = standardise(contract, table, raw).with_columns(
        pl.lit(interval.key).alias("_interval"),
        pl.lit(interval.start, dtype=pl.Datetime("us", "UTC")).alias("_interval_start"),
        pl.lit(interval.end, dtype=pl.Datetime("us", "UTC")).alias("_interval_end"),
        pl.lit(ctx.run_id).alias("_run_id"),
        pl.col("_record_id").is_first_distinct().alias("_first_of_key"),
    )
    docs_dir = ctx.docs_root / dataset / interval.key
    shutil.rmtree(docs_dir, ignore_errors=True)
    result = validate(
        staged,
        rules_for(table, staged),
        key_column="_record_id",
        suite_name=dataset,
        run_name=interval.key,
        docs_dir=docs_dir,
        run_time=ctx.logical_date,
    )
    docs_page = _share_static_files(docs_dir, ctx.docs_root / "_static")
    failed = result.failed_rules.list.len() > 0
    check_cols = [c for c in staged.columns if c.startswith("_ok__") or c == "_first_of_key"]
    good = staged.filter(~failed).drop(check_cols)
    bad = (
        staged.with_columns(result.failed_rules.alias("_failed_rules"))
        .filter(failed)
        .drop(check_cols)
    )
    lake.write("staging", dataset, interval.key, good)
    lake.write("quarantine", dataset, interval.key, bad)
    report = TableReport(
        source=contract.source,
        table=table.name,
        interval=interval.key,
        interval_start=interval.start,
        interval_end=interval.end,
        run_id=ctx.run_id,
        logical_date=ctx.logical_date,
        extracted=raw.height,
        staged=good.height,
        quarantined=bad.height,
        docs_index=str(docs_page) if docs_page else None,
        status="success",
    )
    exceeded = report.extracted > 0 and report.quarantine_share > ctx.quarantine_limit
    if exceeded:
        report = TableReport(**{**asdict(report), "status": "quarantine_limit_exceeded"})
    lake.write_run(dataset, interval.key, pl.DataFrame([asdict(report)]))
    log.info(
        "%s %s: extracted %d, staged %d, quarantined %d; Data Docs: %s",
        dataset, interval, report.extracted, report.staged, report.quarantined, report.docs_index,
    )  # fmt: skip
    if bad.height:
        for rule, n in (
            bad.select(pl.col("_failed_rules").explode().value_counts(sort=True))
            .unnest("_failed_rules")
            .iter_rows()
        ):
            log.warning("%s %s: %d row(s) quarantined by rule %s", dataset, interval, n, rule)
    if exceeded:
        raise QuarantineLimitExceeded(
            f"{dataset} {interval}: {report.quarantined} of {report.extracted} rows "
            f"({report.quarantine_share:.1%}) quarantined, above the limit of "
            f"{ctx.quarantine_limit:.1%}; see quarantine.{dataset} and {report.docs_index}"
        )
    return report


def _share_static_files(docs_dir: Path, shared: Path) -> Path | None:
    """Point the run's Data Docs at one shared copy of GX's static files (about 4 MB a copy)
    and return the validation page of the run."""
    static = docs_dir / "static"
    if static.is_dir() and not static.is_symlink():
        if not shared.exists():
            with contextlib.suppress(OSError):  # another task may have moved its copy first
                static.rename(shared)
        shutil.rmtree(static, ignore_errors=True)
        static.symlink_to(Path(os.path.relpath(shared, docs_dir)))
    pages = sorted(docs_dir.glob("validations/**/*.html"))
    return pages[0] if pages else None


def intervals_for_run(start: datetime, end: datetime, initial_load: bool) -> list[Interval]:
    """The intervals one run processes: its own, preceded by all history for an initial load."""
    own = Interval(start, end)
    return [Interval(None, start), own] if initial_load else [own]
