"""Legal representatives: each registry organisation's representative linked as a person."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from credlink.etl.lake import Lake
from credlink.linkage.representatives import representative_records
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


@pytest.mark.slow
def test_every_organisation_gets_its_representative(small_lake: Lake, tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    (tmp_path / "staging").symlink_to(small_lake.root / "staging")
    (tmp_path / "conformed").symlink_to(small_lake.root / "conformed")
    counts = run_linkage(lake, run_id="r1", logical_date=DAY)
    reps = lake.read("linkage", "legal_representatives")
    registry = small_lake.read("staging", ORGANISATION_DATASET)
    orgs = registry["subject_uscc"].drop_nulls().unique()
    assert reps["organisation_code"].n_unique() == reps.height == orgs.len()
    assert counts["legal_representatives"] == reps.height
    # Each registered representative is a citizen of the population registry: linked to the
    # ID the registry gives, never to someone else.
    population = set(small_lake.read("staging", PERSON_DATASET)["subject_citizen_id"])
    expected = registry.select(
        pl.col("subject_uscc").alias("organisation_code"), pl.col("rep_citizen_id").alias("rep")
    ).unique("organisation_code", keep="last")
    checked = reps.join(expected, on="organisation_code")
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
