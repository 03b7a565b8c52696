"""Great Expectations runs only where there are rows: an empty interval is staged, accounted
and reconciled as before, without a validation (nor a Data Docs report), and a re-run that
finds no rows any more removes the report of the earlier run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import credlink.etl.ingest.run as ingest_run
from credlink.etl.contracts import source_contracts
from credlink.etl.ingest.extract import connect, source_url
from credlink.etl.ingest.interval import Interval
from credlink.etl.ingest.run import RunContext, ingest_table
from credlink.etl.lake import Lake
from credlink.world.generate import WorldSummary


def _run(world: Path, lake: Lake, source: str, table: str, interval: Interval):  # type: ignore[no-untyped-def]
    contract = source_contracts()[source]
    engine = connect(source_url(None, world / contract.default_database), source)
    ctx = RunContext(
        run_id="r", logical_date=interval.end, docs_root=lake.root / "docs", quarantine_limit=1.0
    )
    try:
        return ingest_table(contract, contract.table(table), engine, interval, lake, ctx)
    finally:
        engine.dispose()


def test_empty_interval_is_not_validated(
    small_world: WorldSummary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = ingest_run.validate

    def counting(frame, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(frame.height)
        return real(frame, *args, **kwargs)

    monkeypatch.setattr(ingest_run, "validate", counting)
    lake = Lake(tmp_path / "lake")
    # an interval with rows is validated, with its report
    history = Interval(None, datetime(2025, 7, 1, tzinfo=UTC))
    full = _run(small_world.out, lake, "tax", "nsrxx", history)
    assert calls == [full.extracted] and full.extracted > 0
    assert full.docs_index is not None and Path(full.docs_index).is_file()

    far = Interval(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))
    report = _run(small_world.out, lake, "tax", "nsrxx", far)
    assert (report.extracted, report.staged, report.quarantined) == (0, 0, 0)
    assert calls == [full.extracted], "GX ran on an empty interval"
    assert report.docs_index is None
    assert not (lake.root / "docs" / "tax__nsrxx" / far.key).exists()
    # staged, quarantined, accounted and reconciled as before
    assert lake.partition("staging", "tax__nsrxx", far.key).is_file()
    assert lake.partition("quarantine", "tax__nsrxx", far.key).is_file()
    runs = lake.read_runs().filter(interval=far.key)
    assert runs.select("extracted", "staged", "quarantined").rows() == [(0, 0, 0)]
    assert runs.select("source_rows", "unaccounted").rows() == [(report.source_rows, 0)]
    assert report.source_rows is not None and report.source_rows > 0


def test_rerun_without_rows_removes_the_earlier_report(
    small_world: WorldSummary, tmp_path: Path
) -> None:
    lake = Lake(tmp_path / "lake")
    history = Interval(None, datetime(2025, 7, 1, tzinfo=UTC))
    first = _run(small_world.out, lake, "transport", "RailBan", history)
    assert first.docs_index is not None
    docs = lake.root / "docs" / "transport__RailBan" / history.key
    assert docs.is_dir()
    # the same interval, now empty at the source (a database emptied upstream)
    empty_world = tmp_path / "world"
    (empty_world / "agencies").mkdir(parents=True)
    import sqlite3

    src = small_world.out / "agencies" / "transport.db"
    dst = empty_world / "agencies" / "transport.db"
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    with sqlite3.connect(dst) as b:
        b.execute("DELETE FROM RailBan")
    again = _run(empty_world, lake, "transport", "RailBan", history)
    assert (again.extracted, again.docs_index) == (0, None)
    assert not docs.exists(), "the earlier run's report would describe rows no longer extracted"
