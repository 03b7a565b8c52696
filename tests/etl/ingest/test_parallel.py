"""Several ingests writing the same lake at once (as parallel DAG runs under LocalExecutor do):
no lock errors, nothing lost, and the DuckDB catalog stays readable while a reader holds it."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from credlink.etl.contracts import source_contracts
from credlink.etl.ingest.extract import connect, source_url
from credlink.etl.ingest.interval import Interval
from credlink.etl.ingest.run import RunContext, ingest_table
from credlink.etl.lake import Lake
from credlink.world.generate import WorldSummary

pytestmark = pytest.mark.slow
DAY0 = datetime(2023, 12, 31, 16, tzinfo=UTC)


def _ingest(world: str, lake_root: str, source: str, table: str, day: int) -> tuple[int, int, int]:
    contract = source_contracts()[source]
    lake = Lake(Path(lake_root))
    interval = Interval(DAY0 + timedelta(days=day), DAY0 + timedelta(days=day + 30))
    engine = connect(source_url(None, Path(world) / contract.default_database), source)
    ctx = RunContext(
        run_id=f"p{day}", logical_date=DAY0, docs_root=lake.root / "docs", quarantine_limit=1.0
    )
    r = ingest_table(contract, contract.table(table), engine, interval, lake, ctx)
    lake.refresh_catalog()
    return r.extracted, r.staged, r.quarantined


def test_parallel_ingest_into_one_lake(small_world: WorldSummary, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    jobs = [
        (str(small_world.out), str(lake.root), source, table.name, day)
        for source in ("courts", "tax", "transport", "food")
        for table in source_contracts()[source].tables
        for day in (0, 30, 60)
    ]
    lake.root.mkdir(parents=True)
    lake.refresh_catalog()
    reader = duckdb.connect(str(lake.catalog_path), read_only=True)  # a user holding the catalog
    # spawn, not fork: forking a process that runs Polars' thread pool can deadlock.
    with ProcessPoolExecutor(
        max_workers=4, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        results = list(pool.map(_ingest, *zip(*jobs, strict=True)))
    reader.close()
    assert all(e == s + q for e, s, q in results)
    runs = lake.read_runs()
    assert runs.height == len(jobs)
    con = duckdb.connect(str(lake.catalog_path), read_only=True)
    try:
        for source, table in {(j[2], j[3]) for j in jobs}:
            expected = runs.filter((pl.col("source") == source) & (pl.col("table") == table))[
                "staged"
            ].sum()
            if expected == 0:
                continue
            (n,) = con.execute(f'SELECT count(*) FROM staging."{source}__{table}"').fetchone()  # type: ignore[misc]
            assert n == expected, f"{source}.{table}"
        (total,) = con.execute("SELECT sum(extracted) FROM ops.ingest_runs").fetchone()  # type: ignore[misc]
        assert total == runs["extracted"].sum()
    finally:
        con.close()
