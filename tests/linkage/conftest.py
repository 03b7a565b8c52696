"""Fixtures for linkage tests: the session's small world, ingested once into a lake."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from credlink.etl.conform.apply import conform_partition
from credlink.etl.contracts import source_contracts
from credlink.etl.ingest.extract import connect, source_url
from credlink.etl.ingest.interval import Interval
from credlink.etl.ingest.run import RunContext, ingest_table
from credlink.etl.lake import Lake
from credlink.world.generate import WorldSummary

#: the day after the small world ends (2025-06-30): the initial load stages everything.
LOAD_END = datetime(2025, 7, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def small_lake(small_world: WorldSummary, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """Every table of the small world staged and conformed into a lake of its own (about 10 s)."""
    root: Path = tmp_path_factory.mktemp("linkage-lake")
    lake = Lake(root)
    ctx = RunContext(
        run_id="linkage-tests", logical_date=LOAD_END, docs_root=root / "docs", quarantine_limit=1.0
    )
    for source, contract in sorted(source_contracts().items()):
        engine = connect(source_url(None, small_world.out / contract.default_database), source)
        for table in contract.tables:
            ingest_table(contract, table, engine, Interval(None, LOAD_END), lake, ctx)
            conform_partition(lake, source, table.name, Interval(None, LOAD_END).key)
    return lake
