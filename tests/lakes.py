"""Helpers for tests on whole lakes: a generated world staged into a lake (what the fixtures
that need a staged lake build on), and a warehouse read back whole to compare two runs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from credlink.etl.conform.apply import conform_partition
from credlink.etl.contracts import source_contracts
from credlink.etl.ingest.extract import connect, source_url
from credlink.etl.ingest.interval import Interval
from credlink.etl.ingest.run import RunContext, ingest_table
from credlink.etl.lake import Lake
from credlink.publish.warehouse import read_tables


def stage_world(
    world: Path,
    lake: Lake,
    end: datetime,
    *,
    run_id: str,
    docs_root: Path,
    start: datetime | None = None,
) -> None:
    """Every table of the agency databases in `world`, from `start` (None: all history) up to
    `end`, staged and conformed into `lake` (the run `run_id`; its data docs under
    `docs_root`; no quarantine limit)."""
    ctx = RunContext(run_id=run_id, logical_date=end, docs_root=docs_root, quarantine_limit=1.0)
    interval = Interval(start, end)
    for source, contract in sorted(source_contracts().items()):
        engine = connect(source_url(None, world / contract.default_database), source)
        for table in contract.tables:
            ingest_table(contract, table, engine, interval, lake, ctx)
            conform_partition(lake, source, table.name, interval.key)


def warehouse_tables(warehouse: Path) -> dict[str, pl.DataFrame]:
    """Every table of the warehouse at `warehouse`, rows sorted (:func:`read_tables`), without
    the checksum of the warehouse file itself (which the row order changes)."""
    return read_tables(warehouse, drop=("warehouse_sha256",))
