"""Fail safe, never open (issue 12, ingestion): bad data on a re-ingest keeps the last valid
version; a run above its quarantine limit leaves the earlier partition; rows with a NULL,
malformed or future incremental value are quarantined, once, and counted; over-long values and
wrong types quarantine their row; errors and logs name records without personal data."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from ingest_faults import DS, END, HISTORY, ingest, some_ids, sql, unconstrained_courts

from credlink.etl.ingest.extract import SourceUnreachableError, connect, source_url
from credlink.etl.ingest.interval import Interval
from credlink.etl.ingest.run import INCREMENTAL_CHECK, QuarantineLimitExceeded
from credlink.etl.lake import Lake
from credlink.world.generate import WorldSummary


@pytest.fixture
def world(small_world: WorldSummary, tmp_path: Path) -> Path:
    return unconstrained_courts(small_world, tmp_path)


def test_reingest_keeps_the_last_valid_version(
    world: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lake = Lake(tmp_path / "lake")
    first = ingest(world, lake, run_id="first")
    before = lake.read("staging", DS)
    unparseable, nulled, vanished = some_ids(world, 3)
    sql(world, "UPDATE SXBZXR SET FBRQ = '2024年13月45日' WHERE SXID = ?", unparseable)
    sql(world, "UPDATE SXBZXR SET SXID = NULL WHERE SXID = ?", nulled)
    sql(world, "DELETE FROM SXBZXR WHERE SXID = ?", vanished)
    with caplog.at_level(logging.WARNING):
        again = ingest(world, lake, run_id="again")
    assert "3 earlier staged version(s) kept: 1 of records now quarantined, 2 of" in caplog.text
    assert again.extracted == again.staged + again.quarantined == first.extracted - 1
    assert again.kept == 3
    staged = lake.read("staging", DS)
    assert staged.height == before.height, "no staged version may be lost"
    kept = staged.filter(pl.col("_kept_from_run").is_not_null())
    assert sorted(kept["_record_id"]) == sorted(str(i) for i in (unparseable, nulled, vanished))
    assert set(kept["_kept_from_run"]) == {"first"}
    # The kept versions are the earlier ones, unchanged.
    cols = [c for c in before.columns if c not in ("_kept_from_run",)]
    assert kept.select(cols).sort("_record_id").equals(
        before.filter(pl.col("_record_id").is_in(kept["_record_id"].implode())).select(cols)
        .sort("_record_id")
    )  # fmt: skip
    q = lake.partition("quarantine", DS, HISTORY.key)
    flagged = pl.read_parquet(q).filter(pl.col("_record_id") == str(unparseable))
    assert flagged["_kept_from_run"].to_list() == ["first"]
    assert "parses:FBRQ" in flagged["_failed_rules"][0]
    # A third run still keeps them, naming the run that staged the valid version.
    third = ingest(world, lake, run_id="third")
    assert third.kept == 3
    assert set(lake.read("staging", DS).filter(pl.col("_kept_from_run").is_not_null())
               ["_kept_from_run"]) == {"first"}  # fmt: skip


def test_a_run_above_its_quarantine_limit_leaves_the_earlier_partition(
    world: Path, tmp_path: Path
) -> None:
    lake = Lake(tmp_path / "lake")
    ingest(world, lake, run_id="good")
    before = pl.read_parquet(lake.partition("staging", DS, HISTORY.key))
    # The court switches its date format: every row fails.
    sql(world, "UPDATE SXBZXR SET FBRQ = replace(replace(FBRQ, '年', '/'), '月', '/')")
    with pytest.raises(QuarantineLimitExceeded, match="nothing staged"):
        ingest(world, lake, run_id="bad", limit=0.05)
    after = pl.read_parquet(lake.partition("staging", DS, HISTORY.key))
    assert after.equals(before)
    runs = lake.read_runs()
    assert runs["status"].to_list() == ["quarantine_limit_exceeded"]
    assert runs["quarantined"].item() > 0.9 * runs["extracted"].item()
    # On a first ingest of the interval, nothing at all reaches staging.
    fresh = Lake(tmp_path / "fresh")
    with pytest.raises(QuarantineLimitExceeded):
        ingest(world, fresh, run_id="bad", limit=0.05)
    assert fresh.read("staging", DS).is_empty()


def test_rows_no_interval_extracts_are_quarantined_once(world: Path, tmp_path: Path) -> None:
    a, b, c, d = some_ids(world, 4)
    sql(world, "UPDATE SXBZXR SET XGSJ = NULL WHERE SXID = ?", a)
    sql(world, "UPDATE SXBZXR SET XGSJ = 'garbled' WHERE SXID = ?", b)  # sorts after any date
    sql(world, "UPDATE SXBZXR SET XGSJ = '2031-01-01 00:00:00' WHERE SXID = ?", c)
    sql(world, "UPDATE SXBZXR SET XGSJ = '2025-07-01 09:00:00' WHERE SXID = ?", d)  # tomorrow
    lake = Lake(tmp_path / "lake")
    report = ingest(world, lake, run_id="r1")
    snapshot = pl.read_parquet(lake.partition("quarantine", DS, INCREMENTAL_CHECK))
    reasons = dict(zip(snapshot["_record_id"], snapshot["_failed_rules"].list.first(), strict=True))
    assert reasons == {
        str(a): "incremental_null:XGSJ",
        str(b): "incremental_malformed:XGSJ",
        str(c): "incremental_future:XGSJ",
    }
    con = sqlite3.connect(world / "agencies" / "courts.db")
    (total,) = con.execute("SELECT count(*) FROM SXBZXR").fetchone()
    con.close()
    # Reconciliation: every source row staged or quarantined, except tomorrow's (next run's).
    assert report.incremental_anomalies == 3
    assert report.source_rows == total - 1
    assert report.accounted == total - 1 and report.unaccounted == 0
    runs = lake.read_runs()
    assert runs["unaccounted"].to_list() == [0]
    # The next daily run stages tomorrow's row; the anomalies stay quarantined exactly once.
    day = Interval(END, END + timedelta(days=1))
    nxt = ingest(world, lake, day, run_id="r2")
    assert nxt.staged == 1 and nxt.unaccounted == 0 and nxt.source_rows == total
    q = lake.read("quarantine", DS)
    assert q.filter(pl.col("_record_id").is_in([str(a), str(b), str(c)])).height == 3
    # A backfill of an older day does not replace the later snapshot.
    old = Interval(END - timedelta(days=40), END - timedelta(days=39))
    back = ingest(world, lake, old, run_id="backfill")
    assert back.source_rows is None
    snap = pl.read_parquet(lake.partition("quarantine", DS, INCREMENTAL_CHECK))
    assert set(snap["_run_id"]) == {"r2"} and snap.height == 3
    # Once the row is repaired, it is staged and leaves the snapshot.
    sql(world, "UPDATE SXBZXR SET XGSJ = '2025-07-02 10:00:00' WHERE SXID = ?", a)
    ingest(world, lake, Interval(day.end, day.end + timedelta(days=1)), run_id="r3")
    snap = pl.read_parquet(lake.partition("quarantine", DS, INCREMENTAL_CHECK))
    assert str(a) not in snap["_record_id"].to_list() and snap.height == 2


def test_over_long_values_and_wrong_types_quarantine_their_row(
    world: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    long_name, wrong_type = some_ids(world, 2)
    sql(world, "UPDATE SXBZXR SET BZXRMC = ? WHERE SXID = ?", "张" * 1_000_000, long_name)
    sql(world, "UPDATE SXBZXR SET NL = 'abc' WHERE SXID = ?", wrong_type)
    lake = Lake(tmp_path / "lake")
    with caplog.at_level(logging.WARNING):
        report = ingest(world, lake)
    assert report.extracted == report.staged + report.quarantined
    q = lake.read("quarantine", DS)
    rules = dict(zip(q["_record_id"], q["_failed_rules"], strict=True))
    assert rules[str(long_name)].to_list() == ["too_long:BZXRMC"]
    assert rules[str(wrong_type)].to_list() == ["type:NL"]
    cut = q.filter(pl.col("_record_id") == str(long_name))["BZXRMC"].item()
    assert len(cut) == 200
    assert f"record {wrong_type} quarantined before standardisation: type:NL" in caplog.text
    assert "courts__SXBZXR" in caplog.text
    staged = lake.read("staging", DS)
    assert not staged["_record_id"].is_in([str(long_name), str(wrong_type)]).any()


def test_log_lines_mask_identifiers(
    small_world: WorldSummary, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = tmp_path / "world"
    shutil.copytree(small_world.out / "registries", world / "registries")
    db = world / "registries" / "population.db"
    con = sqlite3.connect(db)
    (citizen_id,) = con.execute("SELECT citizen_id FROM person LIMIT 1").fetchone()
    con.execute("UPDATE person SET address = ? WHERE citizen_id = ?", ("x" * 300, citizen_id))
    con.commit()
    con.close()
    lake = Lake(tmp_path / "lake")
    with caplog.at_level(logging.WARNING):
        report = ingest(world, lake, source="population", table="person")
    assert report.quarantined >= 1
    assert "too_long:address" in caplog.text
    assert citizen_id not in caplog.text
    assert f"{citizen_id[:6]}{'*' * 10}{citizen_id[-2:]}" in caplog.text


def test_a_corrupt_sqlite_file_names_the_source(tmp_path: Path) -> None:
    bad = tmp_path / "courts.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SourceUnreachableError, match=r"source courts: cannot connect"):
        connect(source_url(None, bad), "courts")


def test_a_later_failing_version_leaves_the_earlier_one_in_force(
    world: Path, tmp_path: Path
) -> None:
    lake = Lake(tmp_path / "lake")
    ingest(world, lake, run_id="history")
    (listing,) = some_ids(world, 1)
    # The next day the court rewrites the listing with an unparseable date.
    sql(world, "UPDATE SXBZXR SET FBRQ = '20XX', XGSJ = '2025-07-01 10:00:00' WHERE SXID = ?",
        listing)  # fmt: skip
    day = Interval(END, END + timedelta(days=1))
    report = ingest(world, lake, day, run_id="day")
    assert report.quarantined == 1 and report.staged == 0
    q = pl.read_parquet(lake.partition("quarantine", DS, day.key))
    assert q["_kept_from_run"].to_list() == ["history"]
    staged = lake.read("staging", DS).filter(pl.col("_record_id") == str(listing))
    assert staged.height == 1 and staged["_run_id"].item() == "history"


def test_an_unexpected_failure_names_the_table_with_identifiers_masked(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import credlink.etl.ingest.run as run_module

    def broken(*_: object) -> pl.DataFrame:
        raise pl.exceptions.ComputeError("could not parse '342301196405183224' as i64")

    monkeypatch.setattr(run_module, "standardise", broken)
    with pytest.raises(run_module.IngestError) as failed:
        ingest(world, Lake(tmp_path / "lake"))
    message = str(failed.value)
    assert "courts__SXBZXR" in message and "standardising failed: ComputeError" in message
    assert "342301196405183224" not in message and "342301**********24" in message
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_mask_text_masks_identifiers_only() -> None:
    from credlink.etl.redact import mask_text

    text = "ids 342301196405183224, 3423011964****3224, 91340100MA2N0L1X2K, 12345678-X; row 17"
    masked = mask_text(text)
    for raw in ("342301196405183224", "3423011964****3224", "91340100MA2N0L1X2K", "12345678-X"):
        assert raw not in masked
    assert masked.endswith("; row 17")
