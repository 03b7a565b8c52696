"""Publishing recomputes only the subjects whose rows changed, carries the rest over, and
publishes what a full recompute publishes (issue 13)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from credlink.etl.lake import Lake
from credlink.linkage.evidence import load_policy
from credlink.linkage.tables import read_record_links
from credlink.publish.carry import basis_path, read_carry
from credlink.publish.listings import read_listings
from credlink.publish.memoranda import Memorandum
from credlink.publish.stage import (
    Published,
    _read_runs,
    legal_representatives,
    publish_tables,
    read_history,
    registry_subjects,
    run_publish,
)
from credlink.publish.warehouse import read_tables

DAY1 = date(2025, 7, 1)


def _published(lake: Lake, links: pl.DataFrame, memoranda: list[Memorandum], as_of: date,
               carry: bool) -> Published:  # fmt: skip
    return publish_tables(
        read_listings(lake, as_of),
        links,
        memoranda,
        legal_reps=legal_representatives(lake),
        registry=registry_subjects(lake),
        history=read_history(lake),
        run_id="r2",
        as_of=as_of,
        runs=_read_runs(lake),
        policy=load_policy(),
        carry=read_carry(lake) if carry else None,
    )


def _restricted_link(links: pl.DataFrame, restrictions: pl.DataFrame) -> str:
    """A listing record behind a restriction in force, whose link is accepted."""
    behind = restrictions.explode("listing_records")["listing_records"]
    accepted = links.filter(
        (pl.col("band") == "accept") & pl.col("unique_id").is_in(behind.implode())
    )
    return str(accepted.sort("unique_id")["unique_id"][0])


@pytest.mark.parametrize("days", [1, 400])
def test_carried_restrictions_equal_a_full_recompute(
    lake_copy: Lake, tmp_path: Path, memoranda: list[Memorandum], days: int
) -> None:
    run_publish(lake_copy, tmp_path / "wh" / "credlink.duckdb", "r1", DAY1)
    assert basis_path(lake_copy).is_file() and read_carry(lake_copy) is not None
    before = read_record_links(lake_copy)
    first = read_tables(tmp_path / "wh" / "credlink.duckdb")["publish.restrictions"]
    # the next day: one listing's link went to review (a reviewer's second look), time passed
    moved = _restricted_link(before, first)
    links = before.with_columns(
        pl.when(pl.col("unique_id") == moved)
        .then(pl.lit("review"))
        .otherwise("band")
        .alias("band"),
        pl.when(pl.col("unique_id") == moved)
        .then(pl.lit(None, pl.String))
        .otherwise("credit_code")
        .alias("credit_code"),
    )
    as_of = date.fromordinal(DAY1.toordinal() + days)
    full = _published(lake_copy, links, memoranda, as_of, carry=False)
    carried = _published(lake_copy, links, memoranda, as_of, carry=True)
    for name, frame in full.tables.items():
        assert carried.tables[name].equals(frame), name
    assert carried.history.equals(full.history)
    assert carried.basis is not None and full.basis is not None
    assert carried.basis.equals(full.basis)
    subjects = full.basis["credit_code"].n_unique()
    # the subject of the moved link was recomputed, most others carried over
    assert 1 <= carried.recomputed < subjects // 2, (carried.recomputed, subjects)
    assert full.recomputed == subjects
    code = first.filter(pl.col("listing_records").list.contains(moved))["credit_code"][0]
    gone = full.tables["publish.restrictions"].filter(
        pl.col("listing_records").list.contains(moved)
    )
    assert gone.is_empty(), code  # nobody is restricted on a link in review


def test_a_run_with_its_basis_publishes_the_warehouse_of_a_run_without(
    lake_copy: Lake, tmp_path: Path
) -> None:
    run_publish(lake_copy, tmp_path / "a" / "credlink.duckdb", "r1", DAY1)
    other = Lake(tmp_path / "b-lake")
    shutil.copytree(lake_copy.root, other.root)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    basis_path(other).unlink()  # b recomputes every subject
    later = date(2026, 3, 1)
    run_publish(lake_copy, tmp_path / "a" / "credlink.duckdb", "r2", later)
    run_publish(other, tmp_path / "b" / "credlink.duckdb", "r2", later)
    got, want = (
        read_tables(tmp_path / "a" / "credlink.duckdb"),
        read_tables(tmp_path / "b" / "credlink.duckdb"),
    )
    assert sorted(got) == sorted(want)
    for name in want:
        if name == "publish.runs":  # the previous warehouse's checksum differs: its file name
            got[name], want[name] = (
                got[name].drop("warehouse_sha256"),
                want[name].drop("warehouse_sha256"),
            )
        assert got[name].equals(want[name]), name
    assert pl.read_parquet(basis_path(lake_copy)).equals(pl.read_parquet(basis_path(other)))
