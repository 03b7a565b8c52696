"""Standardisation against the truth of a generated world: what a record's identifier and name
standardise to, given the noise the generator logged for it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl
import pytest

from credlink.etl.standardise import organisation_ids, organisation_names, person_ids, person_names
from credlink.world.generate import WorldSummary

pytestmark = pytest.mark.slow


def _read(path: Path, sql: str) -> pl.DataFrame:
    with sqlite3.connect(path) as con:
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
    return pl.DataFrame(rows, schema=cols, orient="row", infer_schema_length=None)


def _with_truth(world: Path, db: str, table: str, key: str, columns: str) -> pl.DataFrame:
    """Rows of an agency table joined to their subject's truth row."""
    rows = _read(world / "agencies" / f"{db}.db", f'SELECT "{key}", {columns} FROM "{table}"')
    truth = pl.read_parquet(world / "truth" / "records.parquet").filter(
        pl.col("source_table") == table, pl.col("role") == "subject"
    )
    return rows.with_columns(pl.col(key).cast(pl.String)).join(
        truth, left_on=key, right_on="source_record_id", how="inner", validate="1:1"
    )


def _has(noise: str) -> pl.Expr:
    return pl.col("noise").str.split(",").list.contains(noise)


def test_clean_court_cases_of_persons_give_the_citizen_id(small_world: WorldSummary) -> None:
    cases = _with_truth(small_world.out, "courts", "ZXAJ", "AJBS", "BZXRZJHM")
    persons = cases.filter(pl.col("subject_type") == "person", pl.col("noise") == "")
    out = pl.concat([persons, person_ids(persons["BZXRZJHM"])], how="horizontal")
    citizens = out.filter(pl.col("true_credit_code").is_not_null())
    assert citizens.height > 50
    assert set(citizens["id_class"]) == {"citizen_id"}
    assert (citizens["id_citizen"] == citizens["true_credit_code"]).all()
    assert (citizens["id_region"] == citizens["true_credit_code"].str.slice(0, 6)).all()
    # Persons in no registry (foreign nationals) carry passports.
    foreigners = out.filter(pl.col("true_credit_code").is_null())
    assert set(foreigners["id_class"]) <= {"passport"}


def test_noisy_person_ids_classify_by_their_noise(small_world: WorldSummary) -> None:
    frames = [
        _with_truth(small_world.out, "courts", "ZXAJ", "AJBS", "BZXRZJHM AS raw"),
        _with_truth(small_world.out, "transport", "RailBan", "Id", "IdNumber AS raw"),
        _with_truth(small_world.out, "transport", "FlightBan", "Id", "IdNumber AS raw"),
    ]
    rows = pl.concat([f.select("raw", "noise", "subject_type", "true_credit_code") for f in frames])
    rows = rows.filter(pl.col("subject_type") == "person")
    out = pl.concat([rows, person_ids(rows["raw"])], how="horizontal")
    legacy = out.filter(_has("legacy_id"))
    assert set(legacy["id_class"]) <= {"citizen_id_legacy15"}
    assert (legacy["id_citizen"] == legacy["true_credit_code"]).all()
    mistyped = out.filter(_has("id_mistype"))
    assert mistyped.height > 0
    assert set(mistyped["id_class"]) <= {"citizen_id_bad_check", "malformed"}
    missing = out.filter(_has("id_missing"))
    assert missing.height > 0
    assert set(missing["id_class"]) == {"missing"}


def test_masked_ids_on_the_defaulter_list_keep_year_sex_and_tail(small_world: WorldSummary) -> None:
    listed = _with_truth(small_world.out, "courts", "SXBZXR", "SXID", "ZJHM, XB").filter(
        pl.col("subject_type") == "person", pl.col("true_credit_code").is_not_null()
    )
    out = pl.concat([listed, person_ids(listed["ZJHM"])], how="horizontal")
    assert out.height > 10
    assert set(out["id_class"]) == {"citizen_id_masked"}
    truth = person_ids(out["true_credit_code"])
    for col in ("id_birth_year", "id_sex", "id_region", "id_tail"):
        assert out[col].to_list() == truth[col].to_list(), col
    assert out["id_sex"].to_list() == out["XB"].replace({"男": "M", "女": "F"}).to_list()


def test_taxpayer_numbers(small_world: WorldSummary) -> None:
    taxpayers = _with_truth(small_world.out, "tax", "nsrxx", "nsrid", "nsrsbh")
    out = pl.concat([taxpayers, organisation_ids(taxpayers["nsrsbh"])], how="horizontal")
    clean = out.filter(pl.col("noise") == "")
    assert set(clean["id_class"]) == {"uscc"}
    assert (clean["id_uscc"] == clean["true_credit_code"]).all()
    # Old firms by their tax number: region code + the organisation code inside the USCC.
    legacy = out.filter(_has("legacy_org_code"))
    assert legacy.height > 10
    assert set(legacy["id_class"]) == {"legacy_tax_no"}
    assert (legacy["id_org_code"] == legacy["true_credit_code"].str.slice(8, 9)).all()


def test_court_organisations_by_organisation_code(small_world: WorldSummary) -> None:
    cases = _with_truth(small_world.out, "courts", "ZXAJ", "AJBS", "BZXRZJHM").filter(
        pl.col("subject_type") == "organisation"
    )
    out = pl.concat([cases, organisation_ids(cases["BZXRZJHM"])], how="horizontal")
    legacy = out.filter(_has("legacy_org_code"))
    assert legacy.height > 0
    assert set(legacy["id_class"]) == {"organisation_code"}
    assert (legacy["id_org_code"] == legacy["true_credit_code"].str.slice(8, 9)).all()
    clean = out.filter(pl.col("noise") == "", pl.col("true_credit_code").is_not_null())
    assert (clean["id_uscc"] == clean["true_credit_code"]).all()


def test_food_credit_codes_by_registration_number(small_world: WorldSummary) -> None:
    licences = _with_truth(small_world.out, "food", "licences", "licence_no", "credit_code")
    out = pl.concat(
        [licences, organisation_ids(licences["credit_code"], prefer="legacy_registration_no")],
        how="horizontal",
    )
    legacy = out.filter(_has("legacy_org_code"))
    assert legacy.height > 0
    assert set(legacy["id_class"]) == {"legacy_registration_no"}
    assert (legacy["id_region"] == legacy["true_credit_code"].str.slice(2, 6)).all()


def test_person_names_come_back_to_the_registry_name(small_world: WorldSummary) -> None:
    people = _read(
        small_world.out / "registries" / "population.db", "SELECT citizen_id, name FROM person"
    )
    frames = [
        _with_truth(small_world.out, "courts", "ZXAJ", "AJBS", "BZXR AS raw"),
        _with_truth(small_world.out, "transport", "RailBan", "Id", "PassengerName AS raw"),
        _with_truth(small_world.out, "transport", "FlightBan", "Id", "PassengerName AS raw"),
    ]
    rows = (
        pl.concat([f.select("raw", "noise", "subject_type", "true_credit_code") for f in frames])
        .filter(pl.col("subject_type") == "person")
        .join(people, left_on="true_credit_code", right_on="citizen_id", how="inner")
    )
    ours, theirs = person_names(rows["raw"]), person_names(rows["name"])
    same_name = ours["name"] == theirs["name"]
    same_pinyin = ours["name_pinyin"] == theirs["name_pinyin"]
    clean = rows["noise"] == ""
    assert same_name.filter(clean).all()
    traditional = rows.select(_has("traditional_name") & ~_has("name_typo")).to_series()
    assert traditional.sum() > 0
    assert same_name.filter(traditional).all()
    pinyin = rows.select(_has("pinyin_name") & ~_has("name_typo")).to_series()
    assert same_pinyin.filter(pinyin).all()


def test_organisation_name_variants_share_the_registry_core(small_world: WorldSummary) -> None:
    registry = _read(
        small_world.out / "registries" / "legal_entities.db", "SELECT uscc, name FROM legal_entity"
    )
    rows = _with_truth(small_world.out, "tax", "nsrxx", "nsrid", "nsrmc").join(
        registry, left_on="true_credit_code", right_on="uscc", how="inner"
    )
    ours = organisation_names(rows["nsrmc"])["name_core"]
    theirs = organisation_names(rows["name"])["name_core"]
    variant = rows.select(_has("org_name_variant") & ~_has("name_typo")).to_series()
    assert variant.sum() > 20
    assert (ours == theirs).filter(variant).mean() > 0.95  # type: ignore[operator]
    assert (ours == theirs).filter(rows["noise"] == "").all()
