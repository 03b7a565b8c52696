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
- a value of the wrong type for its column (text in an integer column): row quarantined before
  standardisation, rule `type:<column>`; the log names source, table, column and record;
- a text value longer than its column's `max_length` (`Column.text_limit`): row quarantined
  before standardisation, rule `too_long:<column>`, the value cut to the limit in quarantine;
- an empty interval: success with zero rows; the empty partition and the run row are written;
- a quarantined share above the limit: the run fails (`QuarantineLimitExceeded`) and writes
  nothing to staging (the interval's earlier partition stays in force); the quarantine partition
  and the run row (status `quarantine_limit_exceeded`) record the attempt.

Fail safe: a row that fails validation never removes a valid version staged before. A new
version failing in a later interval leaves the earlier interval's version in force (nothing
removes it); its quarantined row carries `_kept_from_run`, the run that staged the version in
force. And a re-run of an interval never loses a version staged before. A record of the
interval's earlier staged partition that the new run does not stage (it now fails validation,
its key is now NULL, it vanished from the source) is carried into the new partition unchanged,
with `_kept_from_run` naming the run that staged it; its quarantined row, if any, carries the
same `_kept_from_run`. Such rows are counted in `kept`, not in `staged`.

Every extracted row is either staged or quarantined: extracted = staged + quarantined, recorded
per table and interval in `ops.ingest_runs`.

Nothing invisible (reconciliation): rows that no interval extracts, because their incremental
value is NULL, malformed text that sorts after the run's end, or stamped more than
`FUTURE_TOLERANCE` after it, are quarantined in one snapshot partition per table,
`quarantine.<source>__<table>` `interval=incremental_check`, with the rule
`incremental_null:<col>`, `incremental_malformed:<col>` or `incremental_future:<col>`. The
snapshot is replaced by each run whose interval ends at or after the snapshot's (never by a
backfill of older days), so such a row is quarantined exactly once, whatever the number of
runs, and leaves the snapshot when a later run stages it. With it each such run records, per
table, `source_rows` (rows by key that intervals up to its end extract, plus the snapshot's),
`accounted` (those found staged or quarantined) and `unaccounted` (the rest: zero once every
interval up to the end has run).

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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from sqlalchemy.engine import Engine

from credlink.etl.contracts import ColumnType, SourceContract, Table
from credlink.etl.ingest.extract import beyond_intervals, extract_rows, source_keys
from credlink.etl.ingest.interval import Interval
from credlink.etl.ingest.standardise_table import standardise
from credlink.etl.lake import Lake
from credlink.etl.redact import mask_text, record_label
from credlink.etl.standardise.values import timestamps
from credlink.etl.validate import Rule, validate

log = logging.getLogger(__name__)


#: The partition of `quarantine.<dataset>` holding rows no interval extracts (see module doc).
INCREMENTAL_CHECK = "incremental_check"
#: Rows stamped up to this long after a run's end are the next intervals' (clocks differ, a run
#: starts after its interval ends), not future ones.
FUTURE_TOLERANCE = timedelta(days=1)


class QuarantineLimitExceeded(RuntimeError):
    """Too large a share of an interval's rows failed validation."""


class IngestError(RuntimeError):
    """Standardisation or validation failed unexpectedly; the message names the dataset and the
    interval, with identifiers masked (the original exception is not chained: its text may
    carry personal data into the task log)."""


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
    #: earlier staged versions carried into the partition (see the module doc): not in `staged`.
    kept: int = 0
    #: reconciliation, recorded by runs that replaced the incremental check (else None).
    incremental_anomalies: int | None = None
    source_rows: int | None = None
    accounted: int | None = None
    unaccounted: int | None = None

    @property
    def quarantine_share(self) -> float:
        return self.quarantined / self.extracted if self.extracted else 0.0


def dataset_name(source: str, table: str) -> str:
    """`<source>__<table>`, the name of a staged or quarantined dataset."""
    return f"{source}__{table}"


RECONCILIATION_COLUMNS = ("incremental_anomalies", "source_rows", "accounted", "unaccounted")


def prechecks(table: Table, raw: pl.DataFrame, type_errors: list[list[str]]) -> pl.Series:
    """Per row, the rules failed before standardisation: `type:<col>` (a value of the wrong
    type, from extraction) and `too_long:<col>` (text beyond the column's limit)."""
    failures = pl.Series("_pre", type_errors, dtype=pl.List(pl.String))
    failures = pl.select(
        pl.lit(failures).list.eval(pl.lit("type:") + pl.element()).alias("_pre")
    ).to_series()
    long_cols = [
        pl.when(pl.col(c.name).str.len_chars() > c.text_limit).then(pl.lit(f"too_long:{c.name}"))
        for c in table.columns
        if c.type is ColumnType.TEXT
    ]
    if long_cols and raw.height:
        too_long = raw.select(pl.concat_list(long_cols).list.drop_nulls().alias("_pre"))
        failures = pl.select(
            pl.lit(failures).list.concat(too_long.to_series()).alias("_pre")
        ).to_series()
    return failures


def _cut_long(table: Table, frame: pl.DataFrame) -> pl.DataFrame:
    """Text values cut to their column's limit (what quarantine keeps of an over-long value)."""
    return frame.with_columns(
        pl.col(c.name).str.slice(0, c.text_limit)
        for c in table.columns
        if c.type is ColumnType.TEXT and c.name in frame.columns
    )


def _record_ids(table: Table, frame: pl.DataFrame) -> pl.Expr:
    return pl.concat_str([pl.col(c).cast(pl.String) for c in table.primary_key], separator="|")


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
    extracted = extract_rows(engine, table, interval, contract.source)
    raw = extracted.frame
    pre = prechecks(table, raw, extracted.type_errors)
    pre_failed = pre.list.len() > 0
    meta = [
        pl.lit(interval.key).alias("_interval"),
        pl.lit(interval.start, dtype=pl.Datetime("us", "UTC")).alias("_interval_start"),
        pl.lit(interval.end, dtype=pl.Datetime("us", "UTC")).alias("_interval_end"),
        pl.lit(ctx.run_id).alias("_run_id"),
    ]
    docs_dir = ctx.docs_root / dataset / interval.key
    step = "standardising"
    try:
        staged = standardise(contract, table, raw.filter(~pre_failed)).with_columns(
            *meta, pl.col("_record_id").is_first_distinct().alias("_first_of_key")
        )
        shutil.rmtree(docs_dir, ignore_errors=True)
        step = "validating"
        failed_rules = _validated(staged, table, dataset, interval, docs_dir, ctx)
    except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        message = mask_text(f"{exc.__class__.__name__}: {exc}")[:1000]
        raise IngestError(f"{dataset} {interval}: {step} failed: {message}") from None
    docs_page = _share_static_files(docs_dir, ctx.docs_root / "_static") if staged.height else None
    failed = failed_rules.list.len() > 0
    check_cols = [c for c in staged.columns if c.startswith("_ok__") or c == "_first_of_key"]
    good = staged.filter(~failed).drop(check_cols)
    bad = staged.with_columns(failed_rules.alias("_failed_rules")).filter(failed).drop(check_cols)
    if pre_failed.any():
        prebad = _prechecked_rows(contract, table, raw, pre, pre_failed, meta)
        _log_prechecks(dataset, table, interval, prebad)
        bad = pl.concat([bad, prebad], how="diagonal_relaxed")
    previous = lake.read_partition("staging", dataset, interval.key)
    good_out, bad, kept, kept_failing = _keep_earlier_versions(previous, good, bad)
    bad = _flag_versions_in_force(lake, dataset, interval, bad)
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
        kept=kept,
    )
    exceeded = report.extracted > 0 and report.quarantine_share > ctx.quarantine_limit
    if exceeded:
        # Nothing of this run becomes visible downstream: the earlier staged partition stays.
        report = replace(report, status="quarantine_limit_exceeded")
    else:
        lake.write("staging", dataset, interval.key, good_out)
    lake.write("quarantine", dataset, interval.key, bad)
    if not exceeded:
        report = _check_incremental(contract, table, engine, interval, lake, ctx, report)
    lake.write_run(dataset, interval.key, _run_frame(report))
    log.info(
        "%s %s: extracted %d, staged %d, quarantined %d, kept %d; Data Docs: %s",
        dataset, interval, report.extracted, report.staged, report.quarantined, report.kept,
        report.docs_index,
    )  # fmt: skip
    if kept:
        log.warning(
            "%s %s: %d earlier staged version(s) kept: %d of records now quarantined, %d of "
            "records no longer in the interval (updated later, NULL key, or gone from the source)",
            dataset, interval, kept, kept_failing, kept - kept_failing,
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
            f"{ctx.quarantine_limit:.1%}; nothing staged (the interval's earlier staging "
            f"partition, if any, stays); see quarantine.{dataset} and {report.docs_index}"
        )
    return report


def _validated(
    staged: pl.DataFrame,
    table: Table,
    dataset: str,
    interval: Interval,
    docs_dir: Path,
    ctx: RunContext,
) -> pl.Series:
    """The rules each staged row failed (GX, with Data Docs in `docs_dir`); an interval without
    rows to validate has no failures and no validation report (nothing to show)."""
    rules = rules_for(table, staged)
    if staged.is_empty():
        return pl.Series("failed_rules", [], dtype=pl.List(pl.String))
    result = validate(
        staged,
        rules,
        key_column="_record_id",
        suite_name=dataset,
        run_name=interval.key,
        docs_dir=docs_dir,
        run_time=ctx.logical_date,
    )
    return result.failed_rules


def _run_frame(report: TableReport) -> pl.DataFrame:
    return pl.DataFrame([asdict(report)]).with_columns(
        pl.col(c).cast(pl.Int64) for c in RECONCILIATION_COLUMNS
    )


def _prechecked_rows(
    contract: SourceContract,
    table: Table,
    raw: pl.DataFrame,
    pre: pl.Series,
    mask: pl.Series,
    meta: list[pl.Expr],
) -> pl.DataFrame:
    """The rows that failed a precheck, as quarantine keeps them: raw columns (over-long text
    cut to its limit), key, run metadata and the rules."""
    rows = _cut_long(table, raw.filter(mask))
    return rows.select(
        pl.lit(contract.source).alias("_source"),
        pl.lit(table.name).alias("_table"),
        _record_ids(table, rows).alias("_record_id"),
        pl.all(),
    ).with_columns(*meta, pre.filter(mask).alias("_failed_rules"))


def _log_prechecks(dataset: str, table: Table, interval: Interval, rows: pl.DataFrame) -> None:
    for record_id, rules in rows.select("_record_id", "_failed_rules").head(20).iter_rows():
        log.warning(
            "%s %s: record %s quarantined before standardisation: %s",
            dataset, interval, record_label(table, record_id), ", ".join(rules),
        )  # fmt: skip


def _flag_versions_in_force(
    lake: Lake, dataset: str, interval: Interval, bad: pl.DataFrame
) -> pl.DataFrame:
    """Quarantined rows whose record has a valid version staged by an earlier interval (which
    stays in force: nothing removes it) get `_kept_from_run`, the run that staged it."""
    if bad.is_empty() or "_record_id" not in bad.columns:
        return bad
    unflagged = (
        pl.col("_kept_from_run").is_null() if "_kept_from_run" in bad.columns else pl.lit(True)
    )
    ids = bad.filter(unflagged & pl.col("_record_id").is_not_null())["_record_id"].unique()
    if ids.is_empty():
        return bad
    own = lake.partition_location("staging", dataset, interval.key)
    files = [f for f in lake.partition_files("staging", dataset) if f != own]
    if not files:
        return bad
    latest = (
        lake.scan(
            files,
            {
                "_record_id": pl.String,
                "_run_id": pl.String,
                "_kept_from_run": pl.String,
                "_updated_utc": pl.Datetime("us", "UTC"),
            },
        )
        .filter(pl.col("_record_id").is_in(ids.implode()))
        .sort("_updated_utc", nulls_last=False)
        .group_by("_record_id")
        .agg(pl.coalesce("_kept_from_run", "_run_id").last().alias("_in_force"))
        .collect()
    )
    if latest.is_empty():
        return bad
    out = bad.join(latest, on="_record_id", how="left", maintain_order="left")
    if "_kept_from_run" in out.columns:
        return out.with_columns(pl.coalesce("_kept_from_run", "_in_force").alias("_kept_from_run"))
    return out.rename({"_in_force": "_kept_from_run"})


def _keep_earlier_versions(
    previous: pl.DataFrame | None, good: pl.DataFrame, bad: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, int, int]:
    """The partition to write (`good` plus every earlier staged version of the interval whose
    record `good` does not stage, flagged `_kept_from_run`), the quarantine rows (flagged when
    their record's earlier version is kept), the number kept and how many of those are of
    records quarantined now."""
    if previous is None or previous.is_empty() or "_record_id" not in previous.columns:
        return good, bad, 0, 0
    new_ids = good.select(pl.col("_record_id").drop_nulls().unique())
    carried = previous.join(new_ids, on="_record_id", how="anti", nulls_equal=False)
    if carried.is_empty():
        return good, bad, 0, 0
    origin = pl.col("_run_id")
    if "_kept_from_run" in carried.columns:
        origin = pl.coalesce("_kept_from_run", "_run_id")
    carried = carried.with_columns(origin.alias("_kept_from_run"))
    kept_runs = carried.select("_record_id", "_kept_from_run").unique("_record_id")
    failing = 0
    if "_record_id" in bad.columns and bad.height:
        failing = carried.join(
            bad.select("_record_id").unique(), on="_record_id", how="semi"
        ).height
        bad = bad.drop([c for c in ("_kept_from_run",) if c in bad.columns]).join(
            kept_runs, on="_record_id", how="left", maintain_order="left"
        )
    return pl.concat([good, carried], how="diagonal_relaxed"), bad, carried.height, failing


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _check_incremental(
    contract: SourceContract,
    table: Table,
    engine: Engine,
    interval: Interval,
    lake: Lake,
    ctx: RunContext,
    report: TableReport,
) -> TableReport:
    """Quarantine the rows no interval up to `interval.end` extracts (NULL, malformed or
    future incremental value) as one snapshot partition, and reconcile the source's keys with
    the lake's; skipped (report unchanged) when a later snapshot exists (a backfill)."""
    dataset = dataset_name(contract.source, table.name)
    as_of = _stamp(interval.end)
    stored = lake.snapshot_as_of("quarantine", dataset, INCREMENTAL_CHECK)
    if stored is not None and stored > as_of:
        return report
    inc = table.incremental
    beyond = beyond_intervals(engine, table, interval.end, contract.source)
    raw = beyond.frame
    parsed = timestamps(raw[inc.column], inc.format, inc.timezone)
    inc_type_error = pl.Series([inc.column in e for e in beyond.type_errors], dtype=pl.Boolean)
    future_from = interval.end + FUTURE_TOLERANCE
    reason = (
        pl.select(
            pl.when(inc_type_error)
            .then(pl.lit(f"incremental_malformed:{inc.column}"))
            .when(pl.lit(raw[inc.column]).is_null())
            .then(pl.lit(f"incremental_null:{inc.column}"))
            .when(pl.lit(parsed).is_null())
            .then(pl.lit(f"incremental_malformed:{inc.column}"))
            .when(pl.lit(parsed) >= pl.lit(future_from, dtype=pl.Datetime("us", "UTC")))
            .then(pl.lit(f"incremental_future:{inc.column}"))
            .alias("_reason")
        ).to_series()
        if raw.height
        else pl.Series("_reason", [], dtype=pl.String)
    )
    flagged = reason.is_not_null()
    pre = prechecks(table, raw, beyond.type_errors)
    rules = pl.select(
        pl.concat_list(pl.lit(reason).cast(pl.String), pl.lit(pre)).list.drop_nulls().alias("r")
    ).to_series()
    rows = _cut_long(table, raw).filter(flagged)
    snapshot = rows.select(
        pl.lit(contract.source).alias("_source"),
        pl.lit(table.name).alias("_table"),
        _record_ids(table, rows).alias("_record_id"),
        pl.all(),
    ).with_columns(
        pl.lit(INCREMENTAL_CHECK).alias("_interval"),
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("_interval_start"),
        pl.lit(interval.end, dtype=pl.Datetime("us", "UTC")).alias("_interval_end"),
        pl.lit(ctx.run_id).alias("_run_id"),
        rules.filter(flagged).alias("_failed_rules"),
    )
    if not lake.write_snapshot("quarantine", dataset, INCREMENTAL_CHECK, snapshot, as_of):
        return report
    for rule, n in snapshot.group_by(pl.col("_failed_rules").list.first()).len().iter_rows():
        log.warning("%s: %d row(s) no interval extracts, quarantined: %s", dataset, n, rule)
    # Reconciliation by key: what the source holds up to the end against staged + quarantined.
    in_scope = pl.concat(
        [source_keys(engine, table, interval.end, contract.source), snapshot.select("_record_id")]
    )
    seen = pl.concat(
        [lake.read_column("staging", dataset, "_record_id"),
         lake.read_column("quarantine", dataset, "_record_id")]
    ).unique()  # fmt: skip
    keyed = in_scope.filter(pl.col("_record_id").is_not_null())
    accounted = keyed.join(
        seen.drop_nulls().to_frame("_record_id"), on="_record_id", how="semi"
    ).height
    null_keys = in_scope.height - keyed.height
    if null_keys:
        q_nulls = lake.read_column("quarantine", dataset, "_record_id").null_count()
        accounted += min(null_keys, q_nulls)
    unaccounted = in_scope.height - accounted
    if unaccounted:
        log.warning(
            "%s as of %s: %d of %d source row(s) neither staged nor quarantined "
            "(intervals before it not yet run?)",
            dataset, interval.end.isoformat(), unaccounted, in_scope.height,
        )  # fmt: skip
    return replace(
        report,
        incremental_anomalies=snapshot.height,
        source_rows=in_scope.height,
        accounted=accounted,
        unaccounted=unaccounted,
    )


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


@dataclass(frozen=True)
class SourcesReport:
    """What `ingest_sources` did, summed over its sources, tables and intervals."""

    extracted: int
    staged: int
    quarantined: int


def ingest_sources(
    world: Path,
    lake: Lake,
    start: datetime,
    end: datetime,
    *,
    initial: bool,
    ctx: RunContext,
    sources: Sequence[str] | None = None,
) -> SourcesReport:
    """What the ingest DAGs' tasks do, without Airflow, for `sources` (default: every source
    contract, shipped or of an overlay folder) read from the generated world's databases in
    `world`: check each source's schema, ingest every table over the run's intervals
    (`intervals_for_run`) and conform each staged partition (:mod:`etl.conform`), refresh the
    catalog.

    Example:
        >>> ingest_sources(world, lake, start, end, initial=True, ctx=ctx)   # doctest: +SKIP
        SourcesReport(extracted=..., staged=..., quarantined=...)
    """
    from credlink.etl.conform.apply import conform_partition
    from credlink.etl.conform.mappings import all_source_contracts, conform_mappings
    from credlink.etl.ingest.extract import check_schema, connect, source_url

    contracts = all_source_contracts()
    mappings = conform_mappings()
    unknown = sorted(set(sources or ()) - set(contracts))
    if unknown:
        raise ValueError(f"no source contract for {unknown} (known: {sorted(contracts)})")
    extracted = staged = quarantined = 0
    for source, contract in sorted(contracts.items()):
        if sources is not None and source not in sources:
            continue
        engine = connect(source_url(None, world / contract.default_database), source)
        try:
            check_schema(engine, contract)
            for table in contract.tables:
                for interval in intervals_for_run(start, end, initial):
                    r = ingest_table(contract, table, engine, interval, lake, ctx)
                    conform_partition(lake, source, table.name, interval.key, mappings)
                    extracted += r.extracted
                    staged += r.staged
                    quarantined += r.quarantined
        finally:
            engine.dispose()
        lake.refresh_catalog()
    return SourcesReport(extracted=extracted, staged=staged, quarantined=quarantined)
