"""Legal representatives: each registry organisation's representatives, term by term, linked
as persons."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from credlink.etl.lake import Lake
from credlink.linkage.representatives import (
    TERMS_DATASET,
    representative_records,
    with_organisations,
)
from credlink.linkage.runs import read_runs
from credlink.linkage.spine import ORGANISATION_DATASET, PERSON_COLUMNS, PERSON_DATASET
from credlink.linkage.stage import run_linkage

DAY = datetime(2025, 7, 1, tzinfo=UTC)


def registry_row(record_id: str, uscc: str, rep: str, rep_id: str | None) -> dict[str, object]:
    return {
        "_source": "legal_entities", "_table": "legal_entity", "_record_id": record_id,
        "_updated_utc": datetime(2024, 1, 1, tzinfo=UTC), "subject_type": "organisation",
        "subject_uscc": uscc, "subject_name": f"{rep}的公司", "rep_name": rep,
        "rep_name_pinyin": None, "rep_id_norm": rep_id,
        "rep_id_class": "citizen_id" if rep_id else None, "rep_citizen_id": rep_id,
        "rep_birth_date": None if rep_id is None else date(1980, 1, 1), "rep_sex": "M",
        "rep_region": None if rep_id is None else rep_id[:6],
    }  # fmt: skip


def test_representative_records_take_the_rep_fields() -> None:
    registry = pl.DataFrame(
        [
            registry_row("1", "91110000MA0000001X", "张伟", "110101198001010013"),
            registry_row("2", "91110000MA0000002X", "李娜", None),
        ]
    )
    reps = representative_records(registry)
    assert reps.columns == list(PERSON_COLUMNS)
    first = reps.row(0, named=True)
    assert first["unique_id"] == "legal_entities/legal_entity.legal_rep/1"
    assert (first["name"], first["citizen_id"], first["id_region"]) == (
        "张伟",
        "110101198001010013",
        "110101",
    )
    assert reps.row(1, named=True)["citizen_id"] is None
    assert representative_records(pl.DataFrame()).is_empty()


def term_row(
    uscc: str, rep: str, rep_id: str, start: date, end: date | None, version: int = 1
) -> dict[str, object]:
    """A staged row of the registry's legal_representative table."""
    row = registry_row(f"{uscc}|{start.isoformat()}", uscc, rep, rep_id)
    del row["subject_name"]  # the terms table names no organisation
    return {
        **row,
        "_table": "legal_representative",
        "_updated_utc": datetime(2024, version, 1, tzinfo=UTC),
        "in_office_from": start,
        "in_office_to": end,
    }


ORG_A, ORG_B = "91110000MA0000001X", "91110000MA0000002X"
ZHANG, WANG, LI = "110101198001010013", "110101197502020021", "110101198203030035"
CHANGE = date(2024, 9, 2)


def test_one_record_per_term_and_the_registry_row_without_terms() -> None:
    registry = pl.DataFrame(
        [registry_row("1", ORG_A, "王芳", WANG), registry_row("2", ORG_B, "李强", LI)]
    )
    terms = pl.DataFrame(
        [
            # ORG_A changed representative: the old term as staged, then ended (a new version)
            term_row(ORG_A, "张伟", ZHANG, date(2015, 3, 1), None),
            term_row(ORG_A, "张伟", ZHANG, date(2015, 3, 1), CHANGE, version=9),
            term_row(ORG_A, "王芳", WANG, CHANGE, None, version=9),
        ]
    )
    reps = representative_records(registry, terms).sort("unique_id")
    assert reps.select("unique_id", "name", "citizen_id").rows() == [
        ("legal_entities/legal_entity.legal_rep/2", "李强", LI),  # ORG_B: no term staged
        (f"legal_entities/legal_representative/{ORG_A}|2015-03-01", "张伟", ZHANG),
        (f"legal_entities/legal_representative/{ORG_A}|2024-09-02", "王芳", WANG),
    ]
    assert reps["table"].to_list() == ["legal_entity.legal_rep", *["legal_representative"] * 2]
    # without the terms table: the registry rows, as before terms were kept
    alone = representative_records(registry, pl.DataFrame())
    assert alone["unique_id"].to_list() == [
        "legal_entities/legal_entity.legal_rep/1",
        "legal_entities/legal_entity.legal_rep/2",
    ]
    assert alone.equals(representative_records(registry))

    links = reps.select("unique_id", pl.col("citizen_id").alias("credit_code"))
    rows = with_organisations(links, registry, terms).sort("unique_id")
    assert rows.select(
        "organisation_code", "organisation_name", "representative_name", "in_office_from",
        "in_office_to", "credit_code",
    ).rows() == [
        (ORG_B, "李强的公司", "李强", None, None, LI),
        (ORG_A, "王芳的公司", "张伟", date(2015, 3, 1), CHANGE, ZHANG),  # the latest version
        (ORG_A, "王芳的公司", "王芳", CHANGE, None, WANG),
    ]  # fmt: skip
    empty = with_organisations(links.head(0), registry, terms)
    assert {"in_office_from", "in_office_to", "organisation_code"} <= set(empty.columns)


@pytest.mark.slow
def test_every_organisation_gets_its_representatives(small_lake: Lake, tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    (tmp_path / "staging").symlink_to(small_lake.root / "staging")
    (tmp_path / "conformed").symlink_to(small_lake.root / "conformed")
    counts = run_linkage(lake, run_id="r1", logical_date=DAY)
    reps = lake.read("linkage", "legal_representatives")
    registry = small_lake.read("staging", ORGANISATION_DATASET)
    staged_terms = small_lake.read("staging", TERMS_DATASET)
    orgs = registry["subject_uscc"].drop_nulls().unique()
    # one row per term of every organisation, exactly one of them in office
    assert reps["unique_id"].n_unique() == reps.height == staged_terms.height
    assert reps["organisation_code"].n_unique() == orgs.len()
    assert reps.filter(pl.col("in_office_to").is_null())["organisation_code"].n_unique() == (
        reps.filter(pl.col("in_office_to").is_null()).height
    )
    assert reps["in_office_from"].null_count() == 0
    changed = reps.filter(pl.col("in_office_to").is_not_null())
    assert changed.height > 0 and (changed["in_office_to"] > changed["in_office_from"]).all()
    assert reps["organisation_name"].null_count() == 0
    assert counts["legal_representatives"] == reps.height
    # Each registered representative is a citizen of the population registry: linked to the
    # ID the registry gives for that term, never to someone else.
    population = set(small_lake.read("staging", PERSON_DATASET)["subject_citizen_id"])
    expected = staged_terms.select(
        pl.concat_str(["_source", "_table", "_record_id"], separator="/").alias("unique_id"),
        pl.col("rep_citizen_id").alias("rep"),
    )
    checked = reps.join(expected, on="unique_id")
    assert checked.height == reps.height
    linked = checked.filter(pl.col("credit_code").is_not_null())
    assert linked.filter(pl.col("credit_code") != pl.col("rep")).is_empty()
    in_population = checked.filter(pl.col("rep").is_in(list(population)))
    assert linked.height >= 0.99 * in_population.height
    # Those not linked wait for a reviewer, and say why: a registry namesake of the same
    # birth date (the world's namesake twins), whom only the number tells apart.
    waiting = in_population.filter(pl.col("credit_code").is_null())
    assert (waiting["band"] == "review").all()
    assert waiting["reason"].str.contains("namesake").all(), waiting["reason"].to_list()
    assert counts["legal_representatives_linked"] == linked.height
    # The next run keeps them all.
    run_linkage(lake, run_id="r2", logical_date=DAY)
    second = read_runs(lake).filter(
        (pl.col("run_id") == "r2") & (pl.col("subject_type") == "legal_representative")
    )
    assert second.row(0, named=True)["relinked"] == 0


@pytest.mark.slow
def test_a_lake_without_terms_keeps_the_registry_rows(small_lake: Lake, tmp_path: Path) -> None:
    """A lake staged before the registry kept terms: one representative per organisation, from
    its registry row, term unknown; once the terms are staged, they take its place."""
    lake = Lake(tmp_path)
    for layer in ("staging", "conformed"):
        (tmp_path / layer).mkdir()
        for d in (small_lake.root / layer).iterdir():
            if d.name != TERMS_DATASET:
                (tmp_path / layer / d.name).symlink_to(d)
    run_linkage(lake, run_id="r1", logical_date=DAY)
    reps = lake.read("linkage", "legal_representatives")
    orgs = small_lake.read("staging", ORGANISATION_DATASET)["subject_uscc"].drop_nulls()
    assert reps.height == reps["organisation_code"].n_unique() == orgs.n_unique()
    assert reps["unique_id"].str.starts_with("legal_entities/legal_entity.legal_rep/").all()
    assert reps["in_office_from"].null_count() == reps["in_office_to"].null_count() == reps.height
    (tmp_path / "staging" / TERMS_DATASET).symlink_to(small_lake.root / "staging" / TERMS_DATASET)
    run_linkage(lake, run_id="r2", logical_date=DAY)
    after = lake.read("linkage", "legal_representatives")
    assert after["unique_id"].str.starts_with("legal_entities/legal_representative/").all()
    assert after["organisation_code"].n_unique() == orgs.n_unique()
