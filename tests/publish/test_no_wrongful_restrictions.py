"""End to end on a world whose clerks type other people's numbers twenty times as often as by
default: staged, linked and published by the stages' own functions, then held to the truth.
Not one restriction may fall on someone else's record."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from lakes import stage_world

from credlink.etl.lake import Lake
from credlink.linkage.quality import quality_table, read_truth
from credlink.linkage.stage import run_linkage
from credlink.linkage.tables import read_record_links
from credlink.publish.quality import ALL, read_restriction_quality
from credlink.publish.stage import run_publish
from credlink.world.config import IDENTITY_ERRORS, NoiseConfig, WorldConfig
from credlink.world.generate import generate_world

pytestmark = pytest.mark.slow

END = date(2025, 6, 30)
LOAD_END = datetime(2025, 7, 1, tzinfo=UTC)
SCALE = 20


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Lake, Path]:
    """(world, lake, warehouse) of a 5,000-person world with raised identity errors."""
    base = tmp_path_factory.mktemp("dirty-world")
    cfg = WorldConfig(persons=5000, seed=23, start=date(2024, 1, 1), end=END, out=base / "world",
                      noise=NoiseConfig.with_identity_errors(SCALE))  # fmt: skip
    generate_world(cfg)
    lake = Lake(base / "lake")
    stage_world(cfg.out, lake, LOAD_END, run_id="dirty", docs_root=base / "docs")
    run_linkage(lake, run_id="dirty-link", logical_date=LOAD_END)
    warehouse = base / "warehouse.duckdb"
    run_publish(lake, warehouse, "dirty-publish", END)
    return cfg.out, lake, warehouse


def test_no_restriction_falls_on_someone_elses_record(dirty: tuple[Path, Lake, Path]) -> None:
    world, lake, warehouse = dirty
    table = read_restriction_quality(warehouse, lake, world)
    overall = table.filter((pl.col("memorandum_id") == ALL) & (pl.col("enforcing_agency") == ALL))
    row = overall.row(0, named=True)
    assert row["imposed"] > 100, row  # a world with restrictions to get wrong
    assert row["wrongful"] == 0, table.filter(pl.col("wrongful") > 0)
    assert (table["wrongful"] == 0).all()
    assert row["missed"] == 0, row  # what is not imposed waits for a reviewer
    assert row["expected"] == row["right_expected"] + row["held_in_review"]


def test_identity_errors_are_never_accepted_onto_the_wrong_code(
    dirty: tuple[Path, Lake, Path],
) -> None:
    world, lake, _ = dirty
    truth = read_truth(world)
    links = read_record_links(lake).join(truth, on="unique_id", how="inner")
    marked = links.filter(
        pl.col("noise").str.split(",").list.set_intersection(list(IDENTITY_ERRORS)).list.len() > 0
    )
    kinds = set(marked["noise"].str.split(",").explode()) & set(IDENTITY_ERRORS)
    assert {"other_person_id", "relative_id", "other_firm_uscc"} <= kinds, kinds
    accepted = marked.filter(pl.col("band") == "accept")
    wrong = accepted.filter(pl.col("credit_code") != pl.col("true_code").fill_null("-"))
    assert wrong.is_empty(), wrong.select("unique_id", "credit_code", "true_code", "noise")
    # A record with another person's or firm's valid number is a conflict for a reviewer.
    typed = marked.filter(
        pl.col("noise").str.contains("other_person_id|relative_id|other_firm_uscc")
        & pl.col("id_class").is_in(["citizen_id", "uscc"])
    )
    assert typed.height > 0 and (typed["band"] == "review").all()
    assert typed["conflict_code"].is_not_null().all()
    # Link precision holds for every subject type.
    quality = quality_table(read_record_links(lake), truth).filter(pl.col("source") == "all")
    assert (quality["precision"] >= 0.9995).all(), quality
