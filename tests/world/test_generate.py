"""The generated world: determinism, truth coverage, noise rates, conventions, bad arguments."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from stdnum.cn import ric
from typer.testing import CliRunner

from credlink.cli import app
from credlink.etl.identifiers import is_valid_ric, is_valid_uscc
from credlink.world import names
from credlink.world.config import EventRates, NoiseConfig, WorldConfig, WorldConfigError
from credlink.world.generate import WorldSummary, generate_world

AGENCY_DBS = ("courts", "tax", "transport", "food", "tourism")
ID_COLUMN = {
    ("courts", "ZXAJ"): "AJBS",
    ("courts", "SXBZXR"): "SXID",
    ("tax", "nsrxx"): "nsrid",
    ("tax", "nsxypj"): "pjid",
    ("tax", "zdsswfaj"): "ajid",
    ("transport", "FlightBan"): "Id",
    ("transport", "RailBan"): "Id",
    ("food", "licences"): "licence_no",
    ("food", "inspections"): "inspection_id",
    ("food", "serious_violations"): "case_id",
    ("tourism", "UNCIVIL_RECORD"): "RECORD_ID",
}


def read(db: Path, table: str) -> pl.DataFrame:
    with sqlite3.connect(db) as con:
        cur = con.execute(f'SELECT * FROM "{table}"')
        cols = [d[0] for d in cur.description]
        return pl.DataFrame(cur.fetchall(), schema=cols, orient="row", infer_schema_length=None)


def tables_of(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        return [r[0] for r in rows]


def all_files(out: Path) -> list[Path]:
    return sorted([*out.glob("registries/*.db"), *out.glob("agencies/*.db")])


# A world with every noise rate raised, so that realised rates can be measured precisely.
NOISY = NoiseConfig(
    name_typo=0.10,
    traditional_name=0.10,
    pinyin_name=0.40,
    id_mistype=0.10,
    id_missing=0.10,
    legacy_id=0.10,
    legacy_org_code=0.30,
    org_name_variant=0.20,
    date_format=0.10,
    garbled_value=0.05,
    duplicate=0.05,
    unregistered_subject=0.10,
)


# ...and more events of the rarer kinds, so that every rate has a few hundred eligible records.
BUSY = EventRates(court_cases_org=0.15, flight_bans=0.01, rail_bans=0.005)
#: Tables whose events may be entered twice (registers, grades and inspections are not).
DUPLICATED_TABLES = (
    "ZXAJ",
    "SXBZXR",
    "nsrxx",
    "zdsswfaj",
    "FlightBan",
    "RailBan",
    "serious_violations",
    "UNCIVIL_RECORD",
)


@pytest.fixture(scope="module")
def noisy_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("noisy")
    cfg = WorldConfig(
        persons=30_000, seed=5, start=date(2024, 1, 1), end=date(2025, 12, 31), out=out,
        noise=NOISY, rates=BUSY,
    )  # fmt: skip
    generate_world(cfg)
    return out


@pytest.fixture(scope="module")
def noisy_truth(noisy_world: Path) -> pl.DataFrame:
    return pl.read_parquet(noisy_world / "truth" / "records.parquet")


def has(kind: str) -> pl.Expr:
    return pl.col("noise").str.split(",").list.contains(kind)


def assert_rate(hits: int, eligible: int, rate: float) -> None:
    """Realised share within 4 standard errors (plus 0.5 point) of the setting."""
    assert eligible > 200, f"too few eligible records ({eligible}) to measure a rate"
    share = hits / eligible
    tolerance = 4 * (rate * (1 - rate) / eligible) ** 0.5 + 0.005
    assert abs(share - rate) <= tolerance, f"{hits}/{eligible} = {share:.4f}, setting {rate}"


# ---------------------------------------------------------------------------------------------
# determinism and completeness


def test_same_seed_same_world(tmp_path: Path) -> None:
    def build(folder: str, seed: int) -> Path:
        out = tmp_path / folder
        cfg = WorldConfig(
            persons=2000, seed=seed, start=date(2024, 1, 1), end=date(2024, 12, 31), out=out
        )
        generate_world(cfg)
        return out

    a, b, c = build("a", 3), build("b", 3), build("c", 4)
    for db_a, db_b in zip(all_files(a), all_files(b), strict=True):
        assert db_a.name == db_b.name
        for table in tables_of(db_a):
            assert read(db_a, table).equals(read(db_b, table)), f"{db_a.name}:{table} differs"
    truth_a = pl.read_parquet(a / "truth" / "records.parquet")
    assert truth_a.equals(pl.read_parquet(b / "truth" / "records.parquet"))
    assert not truth_a.equals(pl.read_parquet(c / "truth" / "records.parquet"))
    assert not read(a / "registries" / "population.db", "person").equals(
        read(c / "registries" / "population.db", "person")
    )


@pytest.mark.parametrize(("source", "table"), sorted(ID_COLUMN))
def test_every_agency_record_has_one_truth_row(
    small_world: WorldSummary, source: str, table: str
) -> None:
    rows = read(small_world.out / "agencies" / f"{source}.db", table)
    assert rows.height > 0, f"{source}.{table} is empty in the test world"
    truth = pl.read_parquet(small_world.out / "truth" / "records.parquet").filter(
        (pl.col("source") == source)
        & (pl.col("source_table") == table)
        & (pl.col("role") == "subject")
    )
    ids = rows[ID_COLUMN[(source, table)]].cast(pl.String)
    assert truth["source_record_id"].n_unique() == truth.height, "one truth row per record"
    assert set(truth["source_record_id"]) == set(ids)
    assert set(truth["subject_type"]) <= {"person", "organisation"}


def test_truth_codes_are_registry_codes(small_world: WorldSummary) -> None:
    out = small_world.out
    truth = pl.read_parquet(out / "truth" / "records.parquet")
    persons = set(read(out / "registries" / "population.db", "person")["citizen_id"])
    orgs = set(read(out / "registries" / "legal_entities.db", "legal_entity")["uscc"])
    linked = truth.filter(pl.col("true_credit_code").is_not_null())
    for kind, codes in (("person", persons), ("organisation", orgs)):
        true_codes = set(linked.filter(pl.col("subject_type") == kind)["true_credit_code"])
        assert true_codes and true_codes <= codes
    # Subjects in no registry exist, and only in the sources that have them.
    absent = truth.filter(pl.col("true_credit_code").is_null())
    assert absent.height > 0
    assert set(absent["source_table"]) <= {
        "ZXAJ",
        "SXBZXR",
        "FlightBan",
        "RailBan",
        "serious_violations",
        "UNCIVIL_RECORD",
    }


def test_registry_codes_are_valid(small_world: WorldSummary) -> None:
    out = small_world.out
    people = read(out / "registries" / "population.db", "person")
    assert people["citizen_id"].n_unique() == people.height
    sample = people.sample(500, seed=1)
    for cid, sex, born in sample.select("citizen_id", "sex", "birth_date").iter_rows():
        # stdnum's check character agrees; its `is_valid` also wants the division code to have
        # existed at birth, stricter than real cards (issued later, at the then-current code).
        assert is_valid_ric(cid) and ric.calc_check_digit(cid) == cid[17], cid
        assert int(cid[16]) % 2 == (1 if sex == "M" else 0), (
            f"{cid}: sex digit disagrees with {sex}"
        )
        assert cid[6:14] == born.replace("-", ""), f"{cid}: birth date disagrees with {born}"
    orgs = read(out / "registries" / "legal_entities.db", "legal_entity")
    assert all(is_valid_uscc(u) for u in orgs["uscc"])
    # Legal representatives are persons of the population registry.
    assert set(orgs["legal_rep_id"]) <= set(people["citizen_id"])
    # Legacy codes are those of firms registered before the 2015 reform, and embed the org code.
    legacy = orgs.filter(pl.col("organisation_code").is_not_null())
    assert legacy.height > 0 and (legacy["registration_date"] < "2015-10-01").all()
    assert (
        legacy["organisation_code"].str.replace("-", "") == legacy["uscc"].str.slice(8, 9)
    ).all()
    shares = orgs["entity_type"].value_counts(normalize=True).sort("proportion", descending=True)
    assert shares["entity_type"][0] == "91" and shares["entity_type"][1] == "92"
    assert {"93", "51", "12"} <= set(orgs["entity_type"])
    assert (orgs["status"] == "注销").any()
    assert 0.09 <= orgs.height / people.height <= 0.11


def test_listings_come_and_go(small_world: WorldSummary) -> None:
    """Listings have later history: removals for performance, payment and expiry."""
    courts = read(small_world.out / "agencies" / "courts.db", "SXBZXR")
    assert set(courts["SFYC"]) == {"是", "否"}
    assert {"全部履行", "失信期限届满"} & set(courts["YCYY"].drop_nulls())
    assert (courts["XGSJ"] > courts["CJSJ"]).any(), "some listings were updated after creation"
    rail = read(small_world.out / "agencies" / "transport.db", "RailBan")
    assert {"Active", "Expired"} <= set(rail["Status"])


# ---------------------------------------------------------------------------------------------
# noise: each kind at its configured rate, and really applied


def test_name_typo_rate(noisy_world: Path, noisy_truth: pl.DataFrame) -> None:
    cases = noisy_truth.filter((pl.col("source_table") == "ZXAJ") & (pl.col("role") == "subject"))
    hits = cases.filter(has("name_typo") & ~has("duplicate")).height
    assert_rate(hits, cases.filter(~has("duplicate")).height, NOISY.name_typo)


def test_traditional_names_rate_and_script(noisy_world: Path, noisy_truth: pl.DataFrame) -> None:
    """Marked only where conversion changed the name: the expected share is the rate times the
    share of names that have a traditional form at all."""
    people = read(noisy_world / "registries" / "population.db", "person")["name"].to_numpy()
    changes = float(np.mean(names.to_traditional(people) != people))
    cases = noisy_truth.filter(
        (pl.col("source_table") == "ZXAJ")
        & (pl.col("subject_type") == "person")
        & ~has("duplicate")
    )
    assert_rate(
        cases.filter(has("traditional_name")).height, cases.height, NOISY.traditional_name * changes
    )


def test_pinyin_names_on_flight_records(noisy_world: Path, noisy_truth: pl.DataFrame) -> None:
    rows = read(noisy_world / "agencies" / "transport.db", "FlightBan")
    truth = noisy_truth.filter((pl.col("source_table") == "FlightBan") & ~has("duplicate"))
    joined = rows.with_columns(pl.col("Id").cast(pl.String)).join(
        truth, left_on="Id", right_on="source_record_id"
    )
    pinyin = joined.filter(has("pinyin_name"))
    assert pinyin["PassengerName"].str.contains(r"^[A-Z]+/[A-Z]+$").all()
    # Eligible: passengers with a Chinese name (registered citizens and overseas Chinese).
    eligible = joined.filter(
        ~pl.col("PassengerName").str.contains(r"^[A-Za-z ]+$") | has("pinyin_name")
    )
    assert_rate(pinyin.height, eligible.height, NOISY.pinyin_name)


def test_identifier_noise(noisy_world: Path, noisy_truth: pl.DataFrame) -> None:
    rows = read(noisy_world / "agencies" / "courts.db", "ZXAJ").with_columns(
        pl.col("AJBS").cast(pl.String)
    )
    joined = rows.join(
        noisy_truth.filter(pl.col("source_table") == "ZXAJ"),
        left_on="AJBS",
        right_on="source_record_id",
    )
    citizens = joined.filter(pl.col("true_credit_code").str.len_chars() == 18).filter(
        pl.col("subject_type") == "person"
    )
    mistyped = citizens.filter(has("id_mistype"))
    assert not any(ric.is_valid(x) for x in mistyped["BZXRZJHM"])
    assert (mistyped["BZXRZJHM"] != mistyped["true_credit_code"]).all()
    assert citizens.filter(has("id_missing"))["BZXRZJHM"].is_null().all()
    legacy = citizens.filter(has("legacy_id"))
    assert (legacy["BZXRZJHM"].str.len_chars() == 15).all()
    clean = citizens.filter(pl.col("noise") == "")
    assert (clean["BZXRZJHM"] == clean["true_credit_code"]).all()
    # Rates: legacy among the born-before-2000, then mistype and missing among the rest.
    born_before_2000 = citizens.filter(pl.col("true_credit_code").str.slice(6, 4) < "2000")
    assert_rate(legacy.height, born_before_2000.height, NOISY.legacy_id)
    rest = citizens.filter(~has("legacy_id"))
    assert_rate(mistyped.height, rest.height, NOISY.id_mistype)
    rest = rest.filter(~has("id_mistype"))
    assert_rate(citizens.filter(has("id_missing")).height, rest.height, NOISY.id_missing)


def test_organisation_noise(noisy_world: Path, noisy_truth: pl.DataFrame) -> None:
    orgs = read(noisy_world / "registries" / "legal_entities.db", "legal_entity")
    rows = read(noisy_world / "agencies" / "courts.db", "ZXAJ").with_columns(
        pl.col("AJBS").cast(pl.String)
    )
    joined = (
        rows.join(
            noisy_truth.filter(pl.col("source_table") == "ZXAJ"),
            left_on="AJBS",
            right_on="source_record_id",
        )
        .filter(pl.col("subject_type") == "organisation", pl.col("true_credit_code").is_not_null())
        .join(orgs, left_on="true_credit_code", right_on="uscc")
    )
    legacy = joined.filter(has("legacy_org_code"))
    assert (legacy["BZXRZJHM"] == legacy["organisation_code"]).all()
    pre_reform = joined.filter(pl.col("organisation_code").is_not_null())
    assert_rate(legacy.height, pre_reform.height, NOISY.legacy_org_code)
    variants = joined.filter(has("org_name_variant") & ~has("name_typo"))
    assert (variants["BZXR"] != variants["name"]).all()
    assert_rate(
        joined.filter(has("org_name_variant")).height, joined.height, NOISY.org_name_variant
    )


def test_date_format_noise(noisy_world: Path, noisy_truth: pl.DataFrame) -> None:
    rows = read(noisy_world / "agencies" / "courts.db", "ZXAJ")
    iso = rows["LARQ"].str.contains(r"^\d{4}-\d{2}-\d{2}$")
    chinese = rows["LARQ"].str.contains(r"^\d{4}年\d{2}月\d{2}日$")
    assert (iso | chinese).all()
    truth = noisy_truth.filter(pl.col("source_table") == "ZXAJ")
    marked = set(truth.filter(has("date_format"))["source_record_id"])
    assert set(rows.filter(iso)["AJBS"].cast(pl.String)) == marked
    assert_rate(len(marked), rows.height, NOISY.date_format)


def test_duplicates_and_unregistered(noisy_world: Path, noisy_truth: pl.DataFrame) -> None:
    subjects = noisy_truth.filter(
        pl.col("role") == "subject", pl.col("source_table").is_in(DUPLICATED_TABLES)
    )
    copies = subjects.filter(has("duplicate")).height
    # Copies are added on top of the originals: a rate r gives r/(1+r) of the final rows.
    assert_rate(copies, subjects.height - copies, NOISY.duplicate)
    cases = subjects.filter(pl.col("source_table") == "ZXAJ", ~has("duplicate"))
    absent = cases.filter(pl.col("true_credit_code").is_null()).height
    assert_rate(absent, cases.height, NOISY.unregistered_subject)


def test_duplicates_repeat_the_event_under_a_new_id(
    noisy_world: Path, noisy_truth: pl.DataFrame
) -> None:
    rows = read(noisy_world / "agencies" / "courts.db", "SXBZXR")
    dup_ids = noisy_truth.filter(pl.col("source_table") == "SXBZXR", has("duplicate"))[
        "source_record_id"
    ]
    dups = rows.filter(pl.col("SXID").cast(pl.String).is_in(dup_ids.implode()))
    originals = rows.filter(~pl.col("SXID").cast(pl.String).is_in(dup_ids.implode()))
    key = ["AH", "BZXRMC", "FBRQ"]
    assert dups.height > 0
    assert dups.select(key).join(originals.select(key), on=key, how="anti").height == 0


# ---------------------------------------------------------------------------------------------
# bad arguments


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"persons": 0}, "--persons must be between"),
        ({"persons": -5}, "--persons must be between"),
        ({"end": date(2023, 12, 31)}, "is before --start"),
    ],
)
def test_bad_arguments(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    base = {
        "persons": 1000,
        "seed": 1,
        "start": date(2024, 1, 1),
        "end": date(2024, 12, 31),
        "out": tmp_path,
    }
    with pytest.raises(WorldConfigError, match=message):
        WorldConfig(**{**base, **changes})  # type: ignore[arg-type]


def test_unwritable_output_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cfg = WorldConfig(
        persons=1000, seed=1, start=date(2024, 1, 1), end=date(2024, 2, 1), out=blocker / "world"
    )
    with pytest.raises(WorldConfigError, match="exists and is not a folder"):
        generate_world(cfg)
    with pytest.raises(WorldConfigError, match="cannot create the folder"):
        generate_world(replace(cfg, out=Path("/proc/credlink-world")))


def test_cli_reports_bad_arguments_clearly(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["world", "--persons", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--persons must be between" in result.output
    result = runner.invoke(app, ["world", "--start", "2024-13-01", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a date of the form YYYY-MM-DD" in result.output
    result = runner.invoke(
        app, ["world", "--start", "2025-01-01", "--end", "2024-01-01", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "is before --start" in result.output


def test_cli_writes_and_summarises(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "world",
            "--persons",
            "1000",
            "--start",
            "2024-01-01",
            "--end",
            "2024-06-30",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "SXBZXR" in result.output and "truth" in result.output
    assert (tmp_path / "world.json").exists()
    assert {p.name for p in all_files(tmp_path)} == {
        "population.db", "legal_entities.db", *(f"{a}.db" for a in AGENCY_DBS)
    }  # fmt: skip


def test_garbled_values_cannot_be_read(noisy_world: Path, noisy_truth: pl.DataFrame) -> None:
    rows = read(noisy_world / "agencies" / "food.db", "inspections")
    truth = noisy_truth.filter(pl.col("source_table") == "inspections")
    marked = set(truth.filter(has("garbled_value"))["source_record_id"])
    bad_month = rows.filter(pl.col("inspection_date").str.contains(r"^\d{4}/13/"))
    assert set(bad_month["inspection_id"].cast(pl.String)) == marked
    assert_rate(len(marked), rows.height, NOISY.garbled_value)


def test_a_world_too_short_for_some_lists_still_generates(tmp_path: Path) -> None:
    """A 3-month world of 1,500 persons lists no court defaulter: empty lists are tables too."""
    cfg = WorldConfig(
        persons=1500, seed=5, start=date(2024, 1, 1), end=date(2024, 3, 31), out=tmp_path
    )
    summary = generate_world(cfg)
    with sqlite3.connect(summary.out / "agencies" / "courts.db") as con:
        (listed,) = con.execute("SELECT count(*) FROM SXBZXR").fetchone()
        (cases,) = con.execute("SELECT count(*) FROM ZXAJ").fetchone()
    assert listed == 0 and cases > 0
