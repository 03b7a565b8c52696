"""The culture and tourism agency of the generated world: records of tourists' seriously
uncivilised behaviour, their subjects, dates, terms and later history, the noise they carry, and
that adding the agency left the other parts of the world as they were.

One 5,000-person world over 18 months with many more records than the default (and raised
noise) is shared by the module, so that each rate has a few hundred eligible records.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from credlink.etl.identifiers import is_valid_ric
from credlink.world import generate as world_generate
from credlink.world.agencies import tourism
from credlink.world.config import EventRates, NoiseConfig, WorldConfig
from credlink.world.generate import generate_world, world_registries

RATES = EventRates(
    uncivilised_tourists=0.1, tourism_foreigners=0.2, tourism_withdrawn=0.1, tourism_shortened=0.2
)
NOISE = NoiseConfig.with_identity_errors(
    10, name_typo=0.1, id_mistype=0.05, id_missing=0.05, legacy_id=0.1, date_format=0.1,
    garbled_value=0.05, duplicate=0.05,
)  # fmt: skip
CFG = {"persons": 5000, "seed": 17, "start": date(2024, 1, 1), "end": date(2025, 6, 30)}
END = CFG["end"]


def read(db: Path, table: str) -> pl.DataFrame:
    with sqlite3.connect(db) as con:
        cur = con.execute(f'SELECT * FROM "{table}"')
        cols = [d[0] for d in cur.description]
        return pl.DataFrame(cur.fetchall(), schema=cols, orient="row", infer_schema_length=None)


def has(kind: str) -> pl.Expr:
    return pl.col("noise").str.split(",").list.contains(kind)


def assert_rate(hits: int, eligible: int, rate: float, minimum: int = 200) -> None:
    """Realised share within 4 standard errors (plus 0.5 point) of the setting."""
    assert eligible >= minimum, f"too few eligible records ({eligible}) to measure a rate"
    share = hits / eligible
    tolerance = 4 * (rate * (1 - rate) / eligible) ** 0.5 + 0.005
    assert abs(share - rate) <= tolerance, f"{hits}/{eligible} = {share:.4f}, setting {rate}"


def dotted(column: str) -> pl.Expr:
    return pl.col(column).str.to_date("%Y.%m.%d", strict=False)


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> WorldConfig:
    return WorldConfig(out=tmp_path_factory.mktemp("tourism"), noise=NOISE, rates=RATES, **CFG)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def world(cfg: WorldConfig) -> Path:
    generate_world(cfg)
    return cfg.out


@pytest.fixture(scope="module")
def records(world: Path) -> pl.DataFrame:
    """The records with their truth (every row, duplicates included)."""
    rows = read(world / "agencies" / "tourism.db", tourism.TABLE)
    truth = pl.read_parquet(world / "truth" / "records.parquet").filter(
        pl.col("source") == "tourism"
    )
    return rows.with_columns(pl.col("RECORD_ID").cast(pl.String).alias("source_record_id")).join(
        truth, on="source_record_id", how="left", validate="1:1"
    )


@pytest.fixture(scope="module")
def originals(records: pl.DataFrame) -> pl.DataFrame:
    """The records entered once (a duplicate repeats its original's draws)."""
    return records.filter(~has("duplicate"))


def test_one_table_as_its_ddl_says_and_one_truth_row_per_record(
    world: Path, records: pl.DataFrame
) -> None:
    with sqlite3.connect(world / "agencies" / "tourism.db") as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        columns = [r[1] for r in con.execute(f"PRAGMA table_info({tourism.TABLE})")]
    assert tables == [tourism.TABLE]
    assert columns == re.findall(r"^\s{4}([A-Z_]+)\s", tourism.DDL, flags=re.M)
    assert all(re.fullmatch(r"[A-Z]+(?:_[A-Z]+)*", c) for c in columns), "upper-case English"
    assert records["source_table"].null_count() == 0, "every record has its truth row"
    assert set(records["source_table"]) == {tourism.TABLE}
    assert set(records["subject_type"]) == {"person"} and set(records["role"]) == {"subject"}
    assert records["RECORD_ID"].n_unique() == records.height


def test_the_tourists_are_registry_citizens_and_some_foreigners(
    world: Path, cfg: WorldConfig, originals: pl.DataFrame
) -> None:
    people = read(world / "registries" / "population.db", "person")
    citizens = originals.filter(pl.col("CERT_TYPE") == tourism.CERT_CITIZEN)
    foreign = originals.filter(pl.col("CERT_TYPE") == tourism.CERT_PASSPORT)
    assert citizens.height + foreign.height == originals.height
    assert set(citizens["true_credit_code"]) <= set(people["citizen_id"])
    assert (citizens["NATIONALITY"] == "CHN").all()
    # adults on the day the world ends
    born = citizens["true_credit_code"].str.slice(6, 8).str.to_date("%Y%m%d")
    assert (born <= date(END.year - 17, END.month, END.day)).all()
    assert foreign["true_credit_code"].is_null().all()
    assert (foreign["NATIONALITY"] != "CHN").all()
    passports = set(world_registries(cfg).foreigners["passport_no"])
    assert set(foreign["CERT_NO"]) <= passports
    assert_rate(foreign.height, originals.height, RATES.tourism_foreigners)
    assert set(originals["GENDER"]) == {"男", "女"}


def test_dates_lie_in_the_world_and_terms_follow_gravity(records: pl.DataFrame) -> None:
    d = records.select(
        pl.coalesce(
            dotted("ACT_DATE"), pl.col("ACT_DATE").str.to_date("%Y-%m-%d", strict=False)
        ).alias("acted"),
        dotted("CONFIRM_DATE").alias("confirmed"),
        dotted("EXPIRY_DATE").alias("expiry"),
        pl.col("CREATE_TIME").str.to_datetime("%Y%m%d%H%M%S").alias("created"),
        pl.col("UPDATE_TIME").str.to_datetime("%Y%m%d%H%M%S").alias("updated"),
        "RECORD_YEARS",
        "GRAVITY",
    )
    assert d.null_count().sum_horizontal().item() == 0
    assert (d["acted"] >= CFG["start"]).all() and (d["confirmed"] <= END).all()
    lag = (d["confirmed"] - d["acted"]).dt.total_days()
    assert lag.min() >= 10 and lag.max() <= 60  # type: ignore[operator]
    assert set(d["RECORD_YEARS"]) == {1, 2, 3, 4, 5}
    by_years = d.select(
        pl.col("RECORD_YEARS").replace_strict(tourism.GRAVITY, return_dtype=pl.String)
    ).to_series()
    assert by_years.equals(d["GRAVITY"], check_names=False)
    # the term ends on the same day `RECORD_YEARS` later (29 February: 1 March)
    same_day = (d["expiry"].dt.year() - d["confirmed"].dt.year() == d["RECORD_YEARS"]) & (
        (d["expiry"].dt.strftime("%m-%d") == d["confirmed"].dt.strftime("%m-%d"))
        | (d["confirmed"].dt.strftime("%m-%d") == "02-29")
    )
    assert same_day.all()
    assert (d["created"].dt.date() >= d["confirmed"]).all()
    assert (d["updated"] >= d["created"]).all() and (d["updated"].dt.date() <= END).all()


def test_withdrawn_shortened_and_expired_records(originals: pl.DataFrame) -> None:
    r = originals.with_columns(
        dotted("CONFIRM_DATE").alias("confirmed"),
        dotted("EXPIRY_DATE").alias("expiry"),
        dotted("CHANGE_DATE").alias("changed"),
        pl.col("UPDATE_TIME").str.slice(0, 8).str.to_date("%Y%m%d").alias("updated"),
    )
    withdrawn = r.filter(pl.col("STATUS") == "已撤销")
    assert (withdrawn["CHANGE_NOTE"] == tourism.WITHDRAWN_NOTE).all()
    wait = (withdrawn["changed"] - withdrawn["confirmed"]).dt.total_days()
    assert wait.min() >= 15 and wait.max() <= 120  # type: ignore[operator]
    assert (withdrawn["updated"] == withdrawn["changed"]).all()
    # the rate, among records old enough for any objection to have been decided by the end
    old = r.filter(pl.col("confirmed") <= date(2025, 2, 28))
    assert_rate(
        old.filter(pl.col("STATUS") == "已撤销").height, old.height, RATES.tourism_withdrawn
    )

    notes = r["CHANGE_NOTE"].str.extract_groups(r"由(\d)年调整为(\d)年")
    shortened = r.with_columns(
        notes.struct.field("1").cast(pl.Int64).alias("was"),
        notes.struct.field("2").cast(pl.Int64).alias("now"),
    ).filter(pl.col("was").is_not_null())
    assert shortened.height > 30
    assert (shortened["now"] == shortened["RECORD_YEARS"]).all()
    cut = shortened["was"] - shortened["now"]
    assert set(cut) <= {1, 2} and (shortened["now"] >= 1).all()
    after = (shortened["changed"] - shortened["confirmed"]).dt.total_days()
    assert after.min() >= 90 and after.max() <= 335  # type: ignore[operator]
    assert (shortened["changed"] < shortened["expiry"]).all(), "shortened before the new end"
    assert (shortened["STATUS"] != "已撤销").all()
    # a record ends when its term does, unless withdrawn; the system marks it on that day
    ended = (r["expiry"] <= END) & (r["STATUS"] != "已撤销")
    assert (r.filter(ended)["STATUS"] == "期满").all()
    assert (r.filter(ended)["updated"] == r.filter(ended)["expiry"]).all()
    assert (r.filter(~ended & (pl.col("STATUS") != "已撤销"))["STATUS"] == "有效").all()
    plain = r.filter(pl.col("CHANGE_NOTE").is_null())
    assert plain["CHANGE_DATE"].is_null().all()


def test_identity_noise_of_the_records(originals: pl.DataFrame) -> None:
    citizens = originals.filter(pl.col("CERT_TYPE") == tourism.CERT_CITIZEN)
    clean = citizens.filter(pl.col("noise") == "")
    assert clean.height > 100
    assert (clean["CERT_NO"] == clean["true_credit_code"]).all()
    mistyped = citizens.filter(has("id_mistype"))
    assert mistyped.height > 0 and not any(is_valid_ric(x) for x in mistyped["CERT_NO"])
    assert citizens.filter(has("id_missing"))["CERT_NO"].is_null().all()
    assert (citizens.filter(has("legacy_id"))["CERT_NO"].str.len_chars() == 15).all()
    wrong = citizens.filter(has("other_person_id") | has("relative_id"))
    assert wrong.height > 0
    assert all(is_valid_ric(x) for x in wrong["CERT_NO"])
    assert (wrong["CERT_NO"] != wrong["true_credit_code"]).all()
    typed = citizens.filter(has("name_typo") | has("traditional_name"))
    assert typed.height > 0
    # only this agency's kinds of noise
    kinds = set(originals["noise"].str.split(",").explode()) - {""}
    assert kinds <= {
        "name_typo", "traditional_name", "id_mistype", "id_missing", "legacy_id",
        "date_format", "garbled_value", "other_person_id", "relative_id", "foreign_namesake",
        "same_name_birthday",
    }  # fmt: skip


def test_hand_typed_dates_and_garbled_codes(records: pl.DataFrame) -> None:
    iso = records["ACT_DATE"].str.contains(r"^\d{4}-\d{2}-\d{2}$")
    assert (iso | records["ACT_DATE"].str.contains(r"^\d{4}\.\d{2}\.\d{2}$")).all()
    assert iso.to_list() == records.select(has("date_format")).to_series().to_list()
    garbled = records["BEHAVIOUR_CODE"] == "TB00"
    assert garbled.any()
    assert garbled.to_list() == records.select(has("garbled_value")).to_series().to_list()
    assert set(records.filter(~garbled)["BEHAVIOUR_CODE"]) <= {b[0] for b in tourism.BEHAVIOURS}


def test_a_few_records_per_thousand_persons_by_default(tmp_path: Path) -> None:
    """The demo's world (20,000 persons over 2 years): a few records per thousand persons."""
    cfg = WorldConfig(
        persons=20_000, seed=7, start=date(2024, 1, 1), end=date(2025, 12, 31), out=tmp_path
    )
    reg = world_registries(cfg)
    rng = np.random.default_rng(world_generate._streams(cfg)[-1])
    built = tourism.generate(rng, cfg, reg).tables[tourism.TABLE]
    per_thousand = built.height / cfg.persons * 1000
    assert 2 <= per_thousand <= 6, per_thousand
    assert (built["CERT_TYPE"] == tourism.CERT_PASSPORT).sum() >= 1, "some foreigners"
    assert {"有效", "期满"} <= set(built["STATUS"])


def test_adding_tourism_leaves_the_other_parts_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tourism is the last part: its random stream is spawned after the others', which stay."""
    cfg = WorldConfig(
        persons=1500, seed=9, start=date(2024, 1, 1), end=date(2024, 12, 31), out=tmp_path / "w"
    )
    assert world_generate.AGENCIES[-1] is tourism
    with_tourism = generate_world(cfg).out
    copies = {}
    for db in sorted(with_tourism.glob("*/*.db")):
        with sqlite3.connect(db) as con:
            names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        copies[db.relative_to(with_tourism)] = {t: read(db, t) for t in names}
    truth = pl.read_parquet(with_tourism / "truth" / "records.parquet")

    monkeypatch.setattr(world_generate, "AGENCIES", world_generate.AGENCIES[:-1])
    without = generate_world(WorldConfig(**{**cfg.__dict__, "out": tmp_path / "w0"})).out
    assert not (without / "agencies" / "tourism.db").exists()
    others = {k: v for k, v in copies.items() if k.name != "tourism.db"}
    assert len(others) == 6
    for rel, tables in others.items():
        for name, frame in tables.items():
            assert read(without / rel, name).equals(frame), f"{rel}:{name} differs"
    assert pl.read_parquet(without / "truth" / "records.parquet").equals(
        truth.filter(pl.col("source") != "tourism")
    )


def test_world_json_records_the_tourism_rates(world: Path) -> None:
    meta = json.loads((world / "world.json").read_text(encoding="utf-8"))
    for rate in ("uncivilised_tourists", "tourism_foreigners", "tourism_withdrawn",
                 "tourism_shortened"):  # fmt: skip
        assert meta["rates"][rate] == getattr(RATES, rate)
    assert meta["rates"]["tax_repair"] == EventRates().tax_repair == 0.25
    assert meta["tables"]["tourism"] == {tourism.TABLE: meta["tables"]["tourism"][tourism.TABLE]}
    assert meta["tables"]["tourism"][tourism.TABLE] > 500
