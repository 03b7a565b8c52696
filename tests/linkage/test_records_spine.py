"""Spines and records: one row per registry entry / source record, in the same columns."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest

from credlink.etl.conform.apply import conform_frames
from credlink.etl.conform.derivations import court_region, licence_region
from credlink.etl.identifiers import ric_check_chars
from credlink.etl.lake import Lake, current_rows
from credlink.linkage.quality import read_truth
from credlink.linkage.records import (
    organisation_records,
    person_records,
    read_organisation_records,
    read_person_records,
)
from credlink.linkage.spine import (
    ORGANISATION_COLUMNS,
    PERSON_COLUMNS,
    person_spine,
    read_organisation_spine,
    read_person_spine,
)
from credlink.world.generate import WorldSummary

T1 = datetime(2024, 1, 1, tzinfo=UTC)
T2 = datetime(2025, 1, 1, tzinfo=UTC)
A = "11010519491231002X"


def staged(source: str, table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A staged frame: the bookkeeping columns plus whatever each row gives."""
    base = {"_source": source, "_table": table, "_updated_utc": T1, "_interval": "history"}
    return pl.DataFrame([{**base, **r} for r in rows])


def test_court_and_licence_regions() -> None:
    got = pl.select(
        court_region(
            pl.Series(["(2024)鲁0827执24号", "（2019）皖1122执1194号", "(2024)X0827执1号", None])
        )
    ).to_series()
    assert got.to_list() == ["370827", "341122", None, None]
    lic = pl.select(licence_region(pl.Series(["JY13601024968274", "JY1360102", None]))).to_series()
    assert lic.to_list() == ["360102", None, None]


def test_current_rows_keeps_the_latest_version() -> None:
    frame = staged(
        "courts",
        "SXBZXR",
        [
            {"_record_id": "7", "_updated_utc": T2, "v": "new"},
            {"_record_id": "7", "_updated_utc": T1, "v": "old"},
            {"_record_id": "8", "_updated_utc": T1, "v": "only"},
        ],
    )
    assert current_rows(frame).select("_record_id", "v").rows() == [("7", "new"), ("8", "only")]


def test_person_records_from_staged_rows() -> None:
    bad_date = "110105194913310021"  # month 13: the standardiser calls it malformed
    frame = staged(
        "courts",
        "ZXAJ",
        [
            {
                "_record_id": "1",
                "AH": "(2024)京0105执3号",
                "subject_type": "person",
                "subject_name": "张伟",
                "subject_name_pinyin": "zhang wei",
                "subject_name_script": "han",
                "subject_id_norm": A,
                "subject_id_class": "citizen_id",
                "subject_citizen_id": A,
                "subject_birth_date": date(1949, 12, 31),
                "subject_birth_year": 1949,
                "subject_sex": "F",
                "subject_region": "110105",
                "subject_id_tail": "002X",
            },
            {
                "_record_id": "2",
                "AH": "(2024)京0105执4号",
                "subject_type": "person",
                "subject_name": "ZHANG WEI",
                "subject_name_pinyin": "zhang wei",
                "subject_name_script": "pinyin",
                "subject_id_norm": bad_date,
                "subject_id_class": "malformed",
            },
            {"_record_id": "3", "subject_type": "organisation", "subject_name": "某某有限公司"},
        ],
    )
    out = person_records(conform_frames({"courts__ZXAJ": frame}))
    assert out.schema == pl.Schema(PERSON_COLUMNS)
    assert out["unique_id"].to_list() == ["courts/ZXAJ/1", "courts/ZXAJ/2"]
    first, second = out.rows(named=True)
    assert first["household_region"] == "110105"
    assert (first["surname_pinyin"], first["given_pinyin"]) == ("zhang", "wei")
    assert first["birth_ymd"] == "19491231"
    # The malformed 18-digit ID still gives its region, digits, year and tail.
    assert (second["id_region"], second["birth_ymd"], second["birth_year"]) == (
        "110105",
        "19491331",
        1949,
    )
    assert second["id_tail"] == "0021"
    # Sex comes only from a column of its own: the ID's sex digit is inside its tail, which
    # the model compares once (no such column here).
    assert (first["sex"], second["sex"]) == (None, None)


def test_registries_and_org_only_tables_give_no_person_records() -> None:
    org_table = staged("tax", "nsrxx", [{"_record_id": "1", "subject_type": "organisation"}])
    registry = staged("population", "person", [{"_record_id": A, "subject_type": "person"}])
    out = person_records(conform_frames({"tax__nsrxx": org_table, "population__person": registry}))
    assert out.is_empty() and out.schema == pl.Schema(PERSON_COLUMNS)


def _org(record_id: str, **fields: Any) -> dict[str, Any]:
    return {"_record_id": record_id, "subject_type": "organisation", **fields}


def test_organisation_records_borrow_from_their_parent_record() -> None:
    uscc = "91110000600037341L"
    licences = staged(
        "food",
        "licences",
        [
            _org(
                "JY13601024968274",
                licence_no="JY13601024968274",
                credit_code=uscc,
                subject_id_norm="JY13601024968274",
                subject_id_class="malformed",
                subject_name="南昌华泰五金有限公司",
                subject_name_core="华泰五金",
                legal_rep_name="呼兰静",
            )
        ],
    )
    inspections = staged(
        "food",
        "inspections",
        [
            _org(
                "5",
                licence_no="JY13601024968274",
                subject_id_norm="JY13601024968274",
                subject_id_class="malformed",
            )
        ],
    )
    nsrxx = staged(
        "tax",
        "nsrxx",
        [
            _org(
                "9",
                nsrid=9,
                subject_id_norm=uscc,
                subject_id_class="uscc",
                subject_uscc=uscc,
                subject_org_code="600037341",
                subject_name="北京某某有限公司",
                subject_name_core="某某",
            )
        ],
    )
    nsxypj = staged(
        "tax",
        "nsxypj",
        [
            _org("1", nsrid=9, subject_id_class="missing"),
            _org("2", nsrid=9, subject_id_norm="110000600037341", subject_id_class="legacy_tax_no"),
        ],
    )
    out = organisation_records(
        conform_frames(
            {
                "food__licences": licences,
                "food__inspections": inspections,
                "tax__nsrxx": nsrxx,
                "tax__nsxypj": nsxypj,
            }
        )
    )
    assert out.schema == pl.Schema(ORGANISATION_COLUMNS)
    by_id = {r["unique_id"]: r for r in out.iter_rows(named=True)}
    lic = by_id["food/licences/JY13601024968274"]
    # classified by credit_code, region from the licence number
    assert (lic["id_class"], lic["uscc"], lic["region"]) == ("uscc", uscc, "110000")
    insp = by_id["food/inspections/5"]
    assert (insp["id_class"], insp["uscc"], insp["name_core"], insp["legal_rep_name"]) == (
        "uscc",
        uscc,
        "华泰五金",
        "呼兰静",
    )
    grade_missing, grade_own = by_id["tax/nsxypj/1"], by_id["tax/nsxypj/2"]
    assert (grade_missing["id_class"], grade_missing["name_core"]) == ("uscc", "某某")
    # a usable identifier of its own is kept; the name is still borrowed
    assert (grade_own["id_class"], grade_own["name_core"]) == ("legacy_tax_no", "某某")


def test_person_spine_from_registry_rows() -> None:
    b = "36042619910101007" + str(ric_check_chars(["36042619910101007"])[0])
    rows = staged(
        "population",
        "person",
        [
            {
                "_record_id": cid,
                "_updated_utc": t,
                "subject_type": "person",
                "subject_name": name,
                "subject_name_pinyin": pinyin,
                "subject_name_script": "han",
                "subject_id_norm": cid,
                "subject_id_class": "citizen_id",
                "subject_citizen_id": cid,
                "subject_region": cid[:6],
                "subject_id_tail": cid[-4:],
                "subject_birth_date": born,
                "subject_birth_year": born.year,
                "subject_sex": sex,
                "sex_code": sex,
                "born_on": born,
                "household_region": hh,
            }
            for cid, t, name, pinyin, sex, born, hh in [
                (A, T1, "张伟", "zhang wei", "F", date(1949, 12, 31), "110105"),
                (A, T2, "张伟", "zhang wei", "F", date(1949, 12, 31), "340104"),  # moved
                (b, T1, "欧阳娜娜", "ouyang nana", "M", date(1991, 1, 1), None),
            ]
        ],
    )
    spine = person_spine(rows)
    assert spine.schema == pl.Schema(PERSON_COLUMNS)
    assert spine.height == 2
    a = spine.filter(pl.col("unique_id") == A).row(0, named=True)
    assert (a["household_region"], a["birth_ymd"], a["birth_year"]) == ("340104", "19491231", 1949)
    nana = spine.filter(pl.col("unique_id") == b).row(0, named=True)
    assert (nana["surname_pinyin"], nana["given_pinyin"]) == ("ouyang", "nana")
    assert nana["household_region"] == "360426"  # no household region: the ID's


@pytest.mark.slow
def test_small_world_records_and_spines(small_lake: Lake, small_world: WorldSummary) -> None:
    truth = read_truth(small_world.out)
    persons, orgs = read_person_records(small_lake), read_organisation_records(small_lake)
    assert persons.columns == read_person_spine(small_lake).columns == list(PERSON_COLUMNS)
    assert orgs.columns == read_organisation_spine(small_lake).columns
    for frame in (persons, orgs):
        assert frame["unique_id"].n_unique() == frame.height
    # Every record has its subject's truth row, of the same subject type; truth rows without a
    # record are the few the ingest quarantined (garbled dates).
    got = pl.concat(
        [
            persons.select("unique_id", pl.lit("person").alias("got_type")),
            orgs.select("unique_id", pl.lit("organisation").alias("got_type")),
        ]
    )
    truth_types = pl.read_parquet(small_world.out / "truth" / "records.parquet").filter(
        pl.col("role") == "subject"
    )
    assert truth_types.height == truth.height
    joined = got.join(truth.with_columns(truth_types["subject_type"]), on="unique_id", how="left")
    assert joined.filter(pl.col("subject_type") != pl.col("got_type")).is_empty()
    assert joined["subject_type"].null_count() == 0
    assert truth.height - got.height <= 0.01 * truth.height
