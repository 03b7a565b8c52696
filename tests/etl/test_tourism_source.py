"""The fifth agency for real: the culture and tourism administration's records of tourists'
seriously uncivilised behaviour, shipped as a source contract, a conform mapping, vocabularies,
a DAG file and a memorandum, with a generator in the world.

A generated world's records are ingested (every row staged, or quarantined with its reason),
conformed to the list ``uncivilised_tourists`` and, slow, linked and published with the code
every agency goes through: the recorded tourists carry the memorandum's three measures for the
term of their record.
"""

from __future__ import annotations

import runpy
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from credlink import settings
from credlink.etl.conform.mappings import conform_mappings, list_catalog
from credlink.etl.contracts import source_contracts
from credlink.etl.lake import Lake
from credlink.orchestration.sources import ingest_dag_sources
from credlink.publish.memoranda import load_memoranda
from credlink.world.agencies import tourism
from credlink.world.config import EventRates, NoiseConfig, WorldConfig
from credlink.world.generate import generate_world

ROOT = Path(__file__).resolve().parents[2]
TABLE = tourism.TABLE
START, LAST = date(2024, 1, 1), date(2024, 12, 31)
END = datetime(2025, 1, 1, tzinfo=UTC)  # the day after the world's last
RATES = EventRates(uncivilised_tourists=0.05, tourism_withdrawn=0.1, tourism_foreigners=0.1)


def test_the_contract_and_the_mapping_make_the_list() -> None:
    contract = source_contracts()["tourism"]
    assert (contract.kind, contract.default_database) == ("agency", "agencies/tourism.db")
    (table,) = contract.tables
    assert (table.name, table.subject.type, table.subject.id_columns) == (TABLE, "person",
                                                                          ("CERT_NO",))  # fmt: skip
    assert set(conform_mappings()["tourism"].tables) == {TABLE}
    spec = list_catalog()["uncivilised_tourists"]
    assert (spec.source, spec.table, spec.datasets) == ("tourism", TABLE, (f"tourism__{TABLE}",))
    assert {n: f.kind for n, f in spec.fields.items()} == {
        "behaviour": "code",
        "gravity": "code",
        "record_years": "number",
        "abroad": "flag",
    }
    assert len(spec.fields["behaviour"].values) == len(tourism.BEHAVIOURS)


def test_the_memorandum_loads_with_its_three_measures() -> None:
    memo = {m.id: m for m in load_memoranda()}["tourism_uncivilised_2018"]
    assert {m.id: (m.enforcing_agency, m.applies_to) for m in memo.measures} == {
        "no_outbound_tours": ("tourism", ("person",)),
        "no_honours": ("honours", ("person", "organisation")),
        "no_civil_service": ("civil_service", ("person",)),
    }
    (target,) = memo.targets
    assert (target.list, target.subject_types) == ("uncivilised_tourists", ("person",))
    behaviours = target.when[0]["behaviour"].in_
    assert behaviours is not None
    assert set(behaviours) == set(list_catalog()["uncivilised_tourists"].fields["behaviour"].values)
    # the record's own term (1 to 5 years), from the day it was made
    assert (memo.duration.starts, memo.duration.ends) == ("listed_on", "listing")
    assert memo.duration.max_term is not None and memo.duration.max_term.years == 5
    assert "withdrawn" in memo.lifted_by
    header = (settings.SCHEMAS_DIR / "memoranda" / "tourism_uncivilised_2018.yaml").read_text(
        encoding="utf-8"
    )
    assert "nconfirmed" in header.split("\nid:")[0], "the header says what is unconfirmed"


def test_its_dag_file_builds_with_the_ingest_dag_factory() -> None:
    assert ingest_dag_sources()["ingest_tourism"] == ["tourism"]
    dag = runpy.run_path(str(ROOT / "dags" / "ingest_tourism.py"))["dag"]
    assert dag.dag_id == "ingest_tourism"
    assert {t.task_id for t in dag.tasks} == {
        "check_tourism",
        f"ingest_tourism__{TABLE}",
        "publish_tourism",
    }
    assert {a.name for t in dag.tasks for a in t.outlets} == {"staging.tourism"}


# --- a generated world, ingested ---------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A year of 2,000 persons with many records, some garbled."""
    out = tmp_path_factory.mktemp("tourism-world")
    cfg = WorldConfig(out=out, persons=2000, seed=5, start=START, end=LAST, rates=RATES,
                      noise=NoiseConfig(garbled_value=0.05))  # fmt: skip
    generate_world(cfg)
    return out


@pytest.fixture(scope="module")
def lake(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    from credlink.etl.ingest.run import RunContext, ingest_sources

    lake = Lake(tmp_path_factory.mktemp("tourism-lake") / "lake")
    ctx = RunContext(run_id="tourism", logical_date=END, docs_root=lake.root / "docs",
                     quarantine_limit=1.0)  # fmt: skip
    ingest_sources(world, lake, END - timedelta(days=1), END, initial=True, ctx=ctx,
                   sources=["tourism", "population", "legal_entities"])  # fmt: skip
    return lake


def _rows(world: Path) -> pl.DataFrame:
    with sqlite3.connect(world / "agencies" / "tourism.db") as con:
        cur = con.execute(f"SELECT * FROM {TABLE}")
        cols = [d[0] for d in cur.description]
        return pl.DataFrame(cur.fetchall(), schema=cols, orient="row", infer_schema_length=None)


@pytest.mark.slow
def test_every_row_is_staged_or_quarantined_with_its_reason(world: Path, lake: Lake) -> None:
    rows = _rows(world)
    runs = lake.read_runs().filter(pl.col("source") == "tourism")
    assert (runs["extracted"] == runs["staged"] + runs["quarantined"]).all()
    assert runs["extracted"].sum() == rows.height
    staged = lake.read("staging", f"tourism__{TABLE}")
    quarantined = lake.read("quarantine", f"tourism__{TABLE}")
    assert staged.height + quarantined.height == rows.height
    assert (staged.height, quarantined.height) == (runs["staged"].sum(), runs["quarantined"].sum())
    # exactly the garbled acts are quarantined, for that reason
    truth = pl.read_parquet(world / "truth" / "records.parquet").filter(
        pl.col("source") == "tourism", pl.col("noise").str.contains("garbled_value")
    )
    assert quarantined.height > 0
    assert set(quarantined["RECORD_ID"].cast(pl.String)) == set(truth["source_record_id"])
    assert quarantined["_failed_rules"].to_list() == [["in_vocabulary:BEHAVIOUR_CODE"]] * len(
        quarantined
    )


@pytest.mark.slow
def test_the_staged_rows_conform_to_the_list(world: Path, lake: Lake) -> None:
    staged = lake.read("staging", f"tourism__{TABLE}")
    listed = lake.read("conformed", "listings__uncivilised_tourists")
    subjects = lake.read("conformed", f"subjects__tourism__{TABLE}")
    assert listed.height == subjects.height == staged.height
    assert (listed["list_id"] == "uncivilised_tourists").all()
    assert (listed["subject_type"] == "person").all()
    rows = _rows(world).with_columns(pl.format("tourism/{}/{}", pl.lit(TABLE), "RECORD_ID")
                                     .alias("unique_id"))  # fmt: skip
    both = listed.join(rows, on="unique_id", validate="1:1")
    assert (both["reference"] == both["RECORD_NO"]).all()
    day = "%Y.%m.%d"
    assert (both["listed_on"] == both["CONFIRM_DATE"].str.to_date(day)).all()
    assert (both["effective_from"] == both["listed_on"]).all()
    assert (both["ends_on"] == both["EXPIRY_DATE"].str.to_date(day)).all()
    assert (both["record_years"] == both["RECORD_YEARS"].cast(pl.Float64)).all()
    assert (both["abroad"] == (both["ABROAD"] == "Y")).all()
    withdrawn = both["STATUS"] == "已撤销"
    assert withdrawn.any()
    assert (both.filter(withdrawn)["removal_reason"] == "withdrawn").all()
    assert (both.filter(withdrawn)["removed_on"] == both.filter(withdrawn)["CHANGE_DATE"]
            .str.to_date(day)).all()  # fmt: skip
    assert both.filter(~withdrawn)["removed_on"].is_null().all()
    assert set(both["gravity"]) == {"ordinary", "aggravated", "grave"}
    # foreign visitors are passport records, the rest carry a citizen ID (or a typo of one)
    passports = subjects.filter(pl.col("id_type") == "passport")
    assert passports.height > 0 and (passports["id_class"] == "passport").all()
    assert set(subjects["sex"]) == {"M", "F"}


@pytest.mark.slow
def test_recorded_tourists_are_linked_and_restricted(
    world: Path, lake: Lake, tmp_path: Path
) -> None:
    from credlink.linkage.stage import run_linkage
    from credlink.linkage.tables import read_record_links
    from credlink.publish.stage import run_publish

    run_linkage(lake, run_id="tourism-link", logical_date=END)
    links = read_record_links(lake).filter(pl.col("source") == "tourism")
    truth = pl.read_parquet(world / "truth" / "records.parquet").filter(
        pl.col("source") == "tourism"
    )
    accepted = links.filter(pl.col("band") == "accept").join(
        truth, left_on="record_id", right_on="source_record_id"
    )
    assert accepted.height > 0
    assert (accepted["credit_code"] == accepted["true_credit_code"]).mean() >= 0.98  # type: ignore[operator]

    warehouse = tmp_path / "warehouse.duckdb"
    as_of = LAST
    run_publish(lake, warehouse, "tourism-publish", as_of)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        got = pl.from_arrow(
            con.sql(
                "SELECT credit_code, measure_id, enforcing_agency, valid_from, valid_to, "
                "listing_records FROM publish.restrictions "
                "WHERE memorandum_id = 'tourism_uncivilised_2018'"
            ).arrow()
        )
    finally:
        con.close()
    assert isinstance(got, pl.DataFrame) and got.height > 0
    by_code = got.group_by("credit_code").agg(pl.col("measure_id").sort())
    assert (
        by_code["measure_id"].list.join(",") == "no_civil_service,no_honours,no_outbound_tours"
    ).all()
    assert set(got.filter(pl.col("measure_id") == "no_outbound_tours")["enforcing_agency"]) == {
        "tourism"
    }
    # each restricted person is a recorded tourist in force on the day: the record's term
    listed = lake.read("conformed", "listings__uncivilised_tourists")
    records = got.explode("listing_records").join(
        listed.select("unique_id", "listed_on", "ends_on", "removal_reason"),
        left_on="listing_records",
        right_on="unique_id",
    )
    assert records.height >= got.height
    assert records["removal_reason"].is_null().all(), "a withdrawn record restricts no one"
    assert (records["valid_from"] <= as_of).all()
    single = records.filter(pl.len().over("credit_code", "measure_id") == 1)
    assert (single["valid_from"] == single["listed_on"]).all()
    assert (single["valid_to"] == single["ends_on"]).all()
    restricted = set(got["credit_code"])
    assert restricted <= set(accepted["credit_code"])
