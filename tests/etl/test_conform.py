"""The conformed layer: the reviewed mappings, the conform step, and the tables it writes.

A small world ingested by ``ingest_sources`` (the no-Airflow path of the ingest DAGs) gives one
conformed partition per staged partition, every staged row once, in the columns of
:mod:`etl.conform.columns` and of each list's mapping; the lake's catalog shows them; the
mappings' errors name the file and the field.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from credlink import settings
from credlink.etl.conform.apply import conform_frames, conform_lake, listing_columns, outputs
from credlink.etl.conform.columns import EVENT_COLUMNS, META_COLUMNS, SUBJECT_COLUMNS
from credlink.etl.conform.mappings import (
    LAYER,
    ConformError,
    conform_mappings,
    list_catalog,
    load_conform_mapping,
)
from credlink.etl.contracts import source_contracts
from credlink.etl.ingest.run import RunContext, ingest_sources
from credlink.etl.lake import LAYERS, Lake
from credlink.world.generate import WorldSummary

END = datetime(2025, 7, 1, tzinfo=UTC)
CONFORM_DIR = settings.SCHEMAS_DIR / "conform"


@pytest.fixture(scope="module")
def lake(small_world: WorldSummary, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The small world ingested (initial load and the last day), staged and conformed."""
    lake = Lake(tmp_path_factory.mktemp("conform") / "lake")
    ctx = RunContext(run_id="conform", logical_date=END, docs_root=lake.root / "docs",
                     quarantine_limit=1.0)  # fmt: skip
    ingest_sources(small_world.out, lake, END - timedelta(days=1), END, initial=True, ctx=ctx)
    return lake


def test_every_agency_has_a_mapping_and_the_lists_are_named_in_business_terms() -> None:
    contracts = source_contracts()
    mappings = conform_mappings()
    assert set(mappings) == {s for s, c in contracts.items() if c.kind == "agency"}
    for source, mapping in mappings.items():
        assert set(mapping.tables) == {t.name for t in contracts[source].tables}
    assert {k: (v.source, v.table) for k, v in list_catalog().items()} == {
        "court_defaulters": ("courts", "SXBZXR"),
        "major_tax_violators": ("tax", "zdsswfaj"),
        "flight_ban": ("transport", "FlightBan"),
        "rail_ban": ("transport", "RailBan"),
        "food_serious_violations": ("food", "serious_violations"),
        "tax_grade_a": ("tax", "nsxypj"),
        "uncivilised_tourists": ("tourism", "UNCIVIL_RECORD"),
    }
    assert list_catalog()["food_serious_violations"].datasets == (
        "food__serious_violations",
        "food__inspections",
    )
    assert LAYER in LAYERS


@pytest.mark.slow
def test_one_conformed_row_per_staged_row_in_the_declared_columns(lake: Lake) -> None:
    for source, mapping in conform_mappings().items():
        for table, conf in mapping.tables.items():
            staged = lake.read("staging", f"{source}__{table}")
            assert staged.height > 0
            for dataset in outputs(source, table, conf):
                out = lake.read(LAYER, dataset)
                # the same versions, under the same interval keys
                assert (
                    out.select("_record_id", "_interval")
                    .sort(pl.all())
                    .equals(staged.select("_record_id", "_interval").sort(pl.all()))
                ), dataset
                if dataset.startswith("subjects__"):
                    expected = SUBJECT_COLUMNS
                elif dataset.startswith("listings__"):
                    expected = listing_columns(list_catalog()[dataset.split("__", 1)[1]].definition)
                else:
                    expected = {**META_COLUMNS, **EVENT_COLUMNS}
                assert out.schema == pl.Schema(expected), dataset
                assert out["unique_id"].str.starts_with(f"{source}/{table}/").all()
    persons = lake.read(LAYER, "subjects__courts__SXBZXR").filter(
        pl.col("subject_type") == "person"
    )
    assert persons["household_region"].null_count() < persons.height / 10  # from the case number
    grades = lake.read(LAYER, "subjects__tax__nsxypj")
    assert grades["parent_id"].str.starts_with("tax/nsrxx/").all()


@pytest.mark.slow
def test_the_catalog_shows_the_conformed_tables_and_their_latest_versions(lake: Lake) -> None:
    lake.refresh_catalog()
    con = duckdb.connect(str(lake.catalog_path), read_only=True)
    try:
        views = {r[0] for r in con.sql("SELECT view_name FROM duckdb_views() "
                                       "WHERE schema_name = 'conformed'").fetchall()}  # fmt: skip
        n = con.sql('SELECT count(*) FROM conformed."listings__court_defaulters__current"')
        current = n.fetchone()
    finally:
        con.close()
    assert {"subjects__courts__SXBZXR", "listings__court_defaulters__current",
            "events__ungraded_inspections"} <= views  # fmt: skip
    staged = lake.read("staging", "courts__SXBZXR")
    assert current is not None and current[0] == staged["_record_id"].n_unique()


@pytest.mark.slow
def test_conforming_the_lake_again_gives_the_same_tables(lake: Lake, tmp_path: Path) -> None:
    copy = Lake(tmp_path / "lake")
    shutil.copytree(lake.root / "staging", copy.root / "staging")
    (copy.root / LAYER / "listings__no_longer_mapped" / "interval=x").mkdir(parents=True)
    assert conform_lake(copy) == sum(
        len(list((lake.root / "staging" / f"{s}__{t}").glob("interval=*")))
        for s, m in conform_mappings().items()
        for t in m.tables
    )
    assert copy.datasets(LAYER) == lake.datasets(LAYER)
    for dataset in lake.datasets(LAYER):
        assert copy.read(LAYER, dataset).equals(lake.read(LAYER, dataset)), dataset


@pytest.mark.slow
def test_readers_refuse_a_lake_staged_without_its_conformed_tables(
    lake: Lake, tmp_path: Path
) -> None:
    """A lake staged before the conformed layer: linkage and publishing would take every
    agency record for a removed one (links dropped, restrictions lifted), so they stop."""
    from credlink.etl.conform.apply import NotConformedError
    from credlink.linkage.records import read_person_records
    from credlink.publish.listings import read_listings

    old = Lake(tmp_path / "lake")
    shutil.copytree(lake.root / "staging", old.root / "staging")
    with pytest.raises(NotConformedError, match="subjects__courts__SXBZXR"):
        read_person_records(old)
    with pytest.raises(NotConformedError, match="listings__court_defaulters"):
        read_listings(old, date(2025, 6, 30))
    conform_lake(old)
    assert read_person_records(old).equals(read_person_records(lake))


def test_a_rerun_interval_replaces_its_conformed_partition(tmp_path: Path) -> None:
    from credlink.etl.conform.apply import conform_partition

    lake = Lake(tmp_path / "lake")
    rows = {
        "_source": ["courts"] * 2, "_table": ["SXBZXR"] * 2, "_record_id": ["1", "2"],
        "_updated_utc": [END, END], "_interval": ["k"] * 2, "subject_type": ["person"] * 2,
        "subject_name": ["张伟", "李娜"], "AH": ["(2024)京0105执1号", None],
        "published_on": [date(2024, 1, 10)] * 2, "removed": ["yes", "no"],
        "removed_on": [date(2024, 2, 1), None], "removal_reason": ["performed", None],
    }  # fmt: skip
    lake.write("staging", "courts__SXBZXR", "k", pl.DataFrame(rows))
    assert conform_partition(lake, "courts", "SXBZXR", "k") == {
        "subjects__courts__SXBZXR": 2,
        "listings__court_defaulters": 2,
    }
    listed = lake.read(LAYER, "listings__court_defaulters")
    assert listed.select("unique_id", "reference", "removed_on", "removal_reason").rows() == [
        ("courts/SXBZXR/1", "(2024)京0105执1号", date(2024, 2, 1), "performed"),
        ("courts/SXBZXR/2", None, None, None),
    ]
    assert lake.read(LAYER, "subjects__courts__SXBZXR")["household_region"].to_list() == [
        "110105",
        None,
    ]
    lake.write("staging", "courts__SXBZXR", "k", pl.DataFrame(rows).head(1))
    conform_partition(lake, "courts", "SXBZXR", "k")
    assert lake.read(LAYER, "listings__court_defaulters").height == 1
    # a registry has no mapping: nothing conformed
    assert conform_partition(lake, "population", "person", "k") == {}


def test_hand_made_frames_conform_like_staged_ones() -> None:
    frame = pl.DataFrame({"_source": ["transport"], "_table": ["RailBan"], "_record_id": ["1"],
                          "_updated_utc": [END], "subject_type": ["person"],
                          "behaviour": ["fare_dodging"], "fare_paid_on": [date(2025, 6, 1)],
                          "status": ["active"], "expires_on": [date(2026, 1, 1)],
                          "published_on": [date(2025, 5, 5)]})  # fmt: skip
    out = conform_frames({"transport__RailBan": frame, "population__person": frame})
    assert sorted(out) == ["listings__rail_ban", "subjects__transport__RailBan"]
    row = out["listings__rail_ban"].row(0, named=True)
    # fare dodging: no term of its own, removed when the fare is paid
    assert (row["ends_on"], row["removed_on"], row["removal_reason"]) == (
        None,
        date(2025, 6, 1),
        "fare_paid",
    )
    assert row["_interval"] is None  # a column the frame lacks is null


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("reference: AH", "reference: CASE_NO", "lists.0.reference: table SXBZXR has no column"),
        ("derive: court_region, column: AH}\n      region",
         "derive: court_area, column: AH}\n      region", "unknown derivation 'court_area'"),
        ("codes: defaulter_circumstance", "codes: moods", "unknown vocabulary 'moods'"),
        ("  SXBZXR:\n", "  SXBZXRS:\n", "source courts has no table 'SXBZXRS'"),
        ("removed_on: {column: removed_on, when: {column: removed, is: \"yes\"}}",
         "removed_on: {column: removed_on, value: 3}", "a value is exactly one of"),
        ("source: courts", "source: court", "expected the file name 'courts'"),
    ],
)  # fmt: skip
def test_a_bad_mapping_names_the_file_and_the_field(
    tmp_path: Path, old: str, new: str, words: str
) -> None:
    text = (CONFORM_DIR / "courts.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "courts.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConformError) as err:
        load_conform_mapping(path, source_contracts()["courts"])
    assert str(path) in str(err.value) and words in str(err.value), str(err.value)


def test_a_parent_must_give_subject_records(tmp_path: Path) -> None:
    text = (CONFORM_DIR / "tax.yaml").read_text(encoding="utf-8")
    own = (
        "  nsrxx:\n    subjects:\n      legal_rep_name: legal_rep_name\n"
        "      legal_rep_pinyin: legal_rep_name_pinyin\n      legal_rep_id: legal_rep_id_norm\n"
    )
    assert own in text
    path = tmp_path / "tax.yaml"
    path.write_text(text.replace(own, "  nsrxx: {}\n"), encoding="utf-8")
    with pytest.raises(
        ConformError, match=r"tables\.nsxypj\.subjects\.parent: table nsrxx gives no"
    ):
        load_conform_mapping(path, source_contracts()["tax"])


def test_a_list_named_twice_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "sources").mkdir(parents=True)
    (site / "conform").mkdir()
    contract = (settings.SCHEMAS_DIR / "sources" / "courts.yaml").read_text(encoding="utf-8")
    mapping = (CONFORM_DIR / "courts.yaml").read_text(encoding="utf-8")
    (site / "sources" / "courts2.yaml").write_text(
        contract.replace("source: courts", "source: courts2")
    )
    (site / "conform" / "courts2.yaml").write_text(
        mapping.replace("source: courts", "source: courts2")
    )
    with pytest.raises(ConformError, match="'court_defaulters' is already defined"):
        conform_mappings((settings.SCHEMAS_DIR, site))
