"""Ingestion without Airflow: accounting, idempotence, intervals, initial load, bad input."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from credlink.etl.contracts import source_contracts
from credlink.etl.ingest.extract import (
    SchemaDriftError,
    SourceUnreachableError,
    check_schema,
    connect,
    source_url,
)
from credlink.etl.ingest.interval import Interval
from credlink.etl.ingest.run import (
    QuarantineLimitExceeded,
    RunContext,
    ingest_table,
    intervals_for_run,
)
from credlink.etl.lake import Lake
from credlink.world.generate import WorldSummary

#: the test world's period starts 2024-01-01 (Asia/Shanghai): midnight there in UTC.
DAY0 = datetime(2023, 12, 31, 16, tzinfo=UTC)
META = ["_interval", "_interval_start", "_interval_end", "_run_id"]


def ctx(tmp: Path, run: str = "test", limit: float = 1.0) -> RunContext:
    return RunContext(run_id=run, logical_date=DAY0, docs_root=tmp / "docs", quarantine_limit=limit)


def engine_for(world: Path, source: str):  # type: ignore[no-untyped-def]
    contract = source_contracts()[source]
    return connect(source_url(None, world / contract.default_database), source)


def run(world: Path, lake: Lake, source: str, table: str, interval: Interval, run_id: str = "r"):  # type: ignore[no-untyped-def]
    contract = source_contracts()[source]
    return ingest_table(
        contract,
        contract.table(table),
        engine_for(world, source),
        interval,
        lake,
        ctx(lake.root, run_id),
    )


def days(n: int, first: int = 0) -> list[Interval]:
    return [
        Interval(DAY0 + timedelta(days=i), DAY0 + timedelta(days=i + 1))
        for i in range(first, first + n)
    ]


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop([c for c in META if c in frame.columns]).sort("_record_id", "_updated_utc")


@pytest.mark.parametrize(
    ("source", "table"),
    [(s, t.name) for s, c in sorted(source_contracts().items()) for t in c.tables],
)
def test_everything_is_staged_or_quarantined(
    small_world: WorldSummary, tmp_path: Path, source: str, table: str
) -> None:
    lake = Lake(tmp_path / "lake")
    end = datetime(2025, 7, 1, tzinfo=UTC)
    report = run(small_world.out, lake, source, table, Interval(None, end))
    assert report.extracted > 0
    assert report.extracted == report.staged + report.quarantined
    # The only format errors in a generated world are the values it garbled on purpose.
    truth = pl.read_parquet(small_world.out / "truth" / "records.parquet").filter(
        (pl.col("source_table") == table) & pl.col("noise").str.contains("garbled_value")
    )
    quarantined = lake.read("quarantine", f"{source}__{table}")
    assert set(quarantined["_record_id"]) == set(truth["source_record_id"]), quarantined
    staged = lake.read("staging", f"{source}__{table}")
    assert staged.height == report.staged
    assert staged["_record_id"].n_unique() == staged.height
    assert staged["subject_type"].is_in(["person", "organisation"]).all()
    runs = lake.read_runs()
    assert runs.select("extracted", "staged", "quarantined").row(0) == (
        report.extracted, report.staged, report.quarantined,
    )  # fmt: skip
    assert report.docs_index and Path(report.docs_index).is_file()


def test_rerun_replaces_its_interval(small_world: WorldSummary, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    week = Interval(DAY0 + timedelta(days=30), DAY0 + timedelta(days=90))
    first = run(small_world.out, lake, "courts", "ZXAJ", week, "first")
    again = run(small_world.out, lake, "courts", "ZXAJ", week, "again")
    assert first.staged == again.staged > 0
    staged = lake.read("staging", "courts__ZXAJ")
    assert staged.height == first.staged, "a re-run must not append"
    assert set(staged["_run_id"]) == {"again"}
    assert lake.read_runs().height == 1


def test_daily_runs_equal_one_wide_run(small_world: WorldSummary, tmp_path: Path) -> None:
    daily, wide = Lake(tmp_path / "daily"), Lake(tmp_path / "wide")
    for iv in days(20, first=100):
        run(small_world.out, daily, "courts", "SXBZXR", iv)
    run(
        small_world.out,
        wide,
        "courts",
        "SXBZXR",
        Interval(days(1, 100)[0].start, days(1, 119)[0].end),
    )
    a, b = daily.read("staging", "courts__SXBZXR"), wide.read("staging", "courts__SXBZXR")
    assert a.height > 0
    assert canonical(a).equals(canonical(b))


def test_history_then_increments_equals_everything_at_once(
    small_world: WorldSummary, tmp_path: Path
) -> None:
    stepwise, once = Lake(tmp_path / "stepwise"), Lake(tmp_path / "once")
    # The world ends on day 546: history up to day 510, then daily runs past its end.
    start = DAY0 + timedelta(days=510)
    for iv in intervals_for_run(start, start + timedelta(days=1), initial_load=True):
        run(small_world.out, stepwise, "tax", "nsrxx", iv)
    for iv in days(40, first=511):
        run(small_world.out, stepwise, "tax", "nsrxx", iv)
    run(small_world.out, once, "tax", "nsrxx", Interval(None, DAY0 + timedelta(days=551)))
    a, b = stepwise.read("staging", "tax__nsrxx"), once.read("staging", "tax__nsrxx")
    assert a.height > 100
    assert canonical(a).equals(canonical(b))


def test_empty_interval(small_world: WorldSummary, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    far = Interval(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))
    report = run(small_world.out, lake, "transport", "FlightBan", far)
    assert (report.extracted, report.staged, report.quarantined) == (0, 0, 0)
    assert lake.partition("staging", "transport__FlightBan", far.key).is_file()
    assert lake.read_runs()["extracted"].to_list() == [0]


# ---------------------------------------------------------------------------------------------
# bad input, on a copy of the courts database


@pytest.fixture
def dirty_courts(small_world: WorldSummary, tmp_path: Path) -> Path:
    """A copy of the world with a courts database whose list table has lost its constraints
    and carries hand-made bad rows (as a careless upstream system would)."""
    world = tmp_path / "world"
    shutil.copytree(small_world.out / "agencies", world / "agencies")
    db = world / "agencies" / "courts.db"
    con = sqlite3.connect(db)
    cols = [r[1] for r in con.execute("PRAGMA table_info(SXBZXR)")]
    types = {r[1]: r[2] for r in con.execute("PRAGMA table_info(SXBZXR)")}
    con.execute("ALTER TABLE SXBZXR RENAME TO SXBZXR_old")
    con.execute("CREATE TABLE SXBZXR (" + ", ".join(f"{c} {types[c]}" for c in cols) + ")")
    con.execute("INSERT INTO SXBZXR SELECT * FROM SXBZXR_old")
    con.execute("DROP TABLE SXBZXR_old")
    template = dict(zip(cols, con.execute("SELECT * FROM SXBZXR LIMIT 1").fetchone(), strict=True))
    stamp = "2030-01-01 10:00:00"
    bad = [
        {"SXID": 900001, "ZJHM": "ABC!!123", "BZXRLX": "自然人"},  # malformed identifier
        {"SXID": 900002, "FBRQ": "2024年13月45日"},  # unparseable date
        {"SXID": None},  # NULL key
        {"SXID": 900004},  # duplicated row (below)
        {"SXID": 900004},
        {"SXID": 900005, "LXQK": "部分履行了"},  # outside the vocabulary
    ]
    for row in bad:
        values = {**template, **row, "CJSJ": stamp, "XGSJ": stamp}
        con.execute(
            f"INSERT INTO SXBZXR ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [values[c] for c in cols],
        )
    con.commit()
    con.close()
    return world


def test_bad_rows_are_quarantined_with_their_rules(dirty_courts: Path, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    iv = Interval(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))
    report = run(dirty_courts, lake, "courts", "SXBZXR", iv)
    assert report.extracted == 6
    assert report.extracted == report.staged + report.quarantined
    q = lake.read("quarantine", "courts__SXBZXR")
    rules = {
        r: set(f)
        for r, f in zip(q["_record_id"].fill_null("NULL"), q["_failed_rules"], strict=True)
    }
    assert rules["NULL"] == {"not_null:SXID"} or "not_null:SXID" in rules["NULL"]
    assert "parses:FBRQ" in rules["900002"]
    assert "in_vocabulary:LXQK" in rules["900005"]
    assert "unique:SXID" in rules["900004"]
    staged = lake.read("staging", "courts__SXBZXR")
    # The first of the duplicated rows is staged; the malformed identifier is staged, classified.
    assert staged.filter(pl.col("_record_id") == "900004").height == 1
    malformed = staged.filter(pl.col("_record_id") == "900001")
    assert malformed["subject_id_class"].to_list() == ["malformed"]


def test_quarantine_limit_fails_the_run_after_writing(dirty_courts: Path, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    iv = Interval(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))
    contract = source_contracts()["courts"]
    with pytest.raises(
        QuarantineLimitExceeded, match=r"courts__SXBZXR .* quarantined, above the limit"
    ):
        ingest_table(
            contract, contract.table("SXBZXR"), engine_for(dirty_courts, "courts"), iv, lake,
            ctx(lake.root, limit=0.10),
        )  # fmt: skip
    assert lake.read("quarantine", "courts__SXBZXR").height == 4
    assert lake.read_runs()["status"].to_list() == ["quarantine_limit_exceeded"]


def test_schema_drift_names_the_column_and_contract(
    small_world: WorldSummary, tmp_path: Path
) -> None:
    world = tmp_path / "world"
    shutil.copytree(small_world.out / "agencies", world / "agencies")
    con = sqlite3.connect(world / "agencies" / "courts.db")
    con.execute("ALTER TABLE SXBZXR DROP COLUMN LXQK")
    con.commit()
    con.close()
    engine = engine_for(world, "courts")
    with pytest.raises(SchemaDriftError) as drift:
        check_schema(engine, source_contracts()["courts"])
    assert "column SXBZXR.LXQK is missing" in str(drift.value)
    assert "schemas/sources/courts.yaml" in str(drift.value)


def test_unreachable_sources(tmp_path: Path) -> None:
    with pytest.raises(
        SourceUnreachableError, match=r"source courts: database file .* does not exist"
    ):
        connect(source_url(None, tmp_path / "nowhere.db"), "courts")
    # A server that does not answer (nothing listens on port 1).
    with pytest.raises(
        SourceUnreachableError, match=r"source tax: cannot connect to postgresql"
    ) as dead:
        connect("postgresql+psycopg://nobody:secret@127.0.0.1:1/tax", "tax")
    assert "secret" not in str(dead.value), "the password must not appear in errors"


@pytest.fixture(scope="module")
def garbled_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from datetime import date

    from credlink.world.config import EventRates, NoiseConfig, WorldConfig
    from credlink.world.generate import generate_world

    out = tmp_path_factory.mktemp("garbled")
    cfg = WorldConfig(
        persons=8000, seed=3, start=date(2024, 1, 1), end=date(2024, 12, 31), out=out,
        noise=NoiseConfig(garbled_value=0.05), rates=EventRates(rail_bans=0.02),
    )  # fmt: skip
    generate_world(cfg)
    return out


@pytest.mark.parametrize(
    ("source", "table", "rule"),
    [
        ("courts", "SXBZXR", "parses:FBRQ"),
        ("food", "inspections", "parses:inspection_date"),
        ("transport", "RailBan", "in_vocabulary:BehaviourCode"),
    ],
)
def test_exactly_the_garbled_rows_are_quarantined(
    garbled_world: Path, tmp_path: Path, source: str, table: str, rule: str
) -> None:
    lake = Lake(tmp_path / "lake")
    report = run(
        garbled_world, lake, source, table, Interval(None, datetime(2025, 2, 1, tzinfo=UTC))
    )
    truth = pl.read_parquet(garbled_world / "truth" / "records.parquet").filter(
        (pl.col("source_table") == table) & (pl.col("role") == "subject")
    )
    garbled = set(truth.filter(pl.col("noise").str.contains("garbled_value"))["source_record_id"])
    quarantined = lake.read("quarantine", f"{source}__{table}")
    assert len(garbled) > 0
    assert set(quarantined["_record_id"]) == garbled
    assert all(rule in rules for rules in quarantined["_failed_rules"])
    assert report.staged + report.quarantined == report.extracted == truth.height
