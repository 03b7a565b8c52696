"""The lake's catalog and files under hostile conditions: quotes in paths, a failing rebuild,
stray temporary files of interrupted writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from credlink.etl.lake import CatalogError, Lake


def test_a_folder_named_o_brien_does_not_break_the_catalog(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "o'brien" / 'data "x"' / "lake")
    lake.write("staging", "courts__SXBZXR", "k1", pl.DataFrame({"_record_id": ["1"],
               "_updated_utc": [1], "_interval": ["k1"]}))  # fmt: skip
    lake.write_run("courts__SXBZXR", "k1", pl.DataFrame({"staged": [1]}))
    path = lake.refresh_catalog()
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.sql('SELECT count(*) FROM staging."courts__SXBZXR__current"').fetchone() == (1,)
        assert con.sql("SELECT staged FROM ops.ingest_runs").fetchone() == (1,)
    finally:
        con.close()
    assert not list(lake.root.glob(".catalog-*")), "no temporary catalog is left behind"


def test_a_failed_rebuild_keeps_the_previous_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write("staging", "a__b", "k1", pl.DataFrame({"_record_id": ["1"], "_updated_utc": [1],
               "_interval": ["k1"]}))  # fmt: skip
    lake.refresh_catalog()
    before = lake.catalog_path.read_bytes()
    broken = [*lake.catalog_sql(), "CREATE OR REPLACE VIEW staging.x AS SELECT * FROM nowhere"]
    monkeypatch.setattr(Lake, "catalog_sql", lambda self: broken)
    with pytest.raises(CatalogError, match="the previous catalog is kept"):
        lake.refresh_catalog()
    assert lake.catalog_path.read_bytes() == before
    # Views silently missing (as a full disk did) are refused, not installed.
    monkeypatch.setattr(
        Lake,
        "catalog_sql",
        lambda self: [
            "CREATE SCHEMA staging",
            "SELECT 1 -- CREATE OR REPLACE VIEW",
            "CREATE OR REPLACE VIEW"[:0],
        ],
    )
    short = [*broken[:-1]]
    short.insert(0, "CREATE OR REPLACE VIEW")  # counted as a view but never made one
    monkeypatch.setattr(Lake, "catalog_sql", lambda self: short)
    with pytest.raises(CatalogError):
        lake.refresh_catalog()
    assert lake.catalog_path.read_bytes() == before


def test_stray_temporary_files_are_cleaned_on_the_next_write(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    path = lake.write("staging", "a__b", "k1", pl.DataFrame({"x": [1]}))
    # One from a writer that died (its pid is gone), one abandoned long ago, one in progress.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    orphan = path.with_name(f".data.parquet.{dead}.aaaa.tmp")
    old = path.with_name(".data.parquet.bbbb.tmp")
    alive = path.with_name(f".data.parquet.{os.getppid()}.cccc.tmp")
    for f in (orphan, old, alive):
        f.write_bytes(b"half a file")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    lake.write("staging", "a__b", "k1", pl.DataFrame({"x": [2]}))
    assert not orphan.exists() and not old.exists()
    assert alive.exists(), "a running writer's file is left alone"
    assert lake.read("staging", "a__b")["x"].to_list() == [2]
