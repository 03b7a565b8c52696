"""Fixtures for publish tests (hand-made data helpers: `handmade.py`)."""

from __future__ import annotations

import pytest

from credlink.publish.memoranda import Memorandum, load_memoranda


@pytest.fixture(scope="session")
def memoranda() -> list[Memorandum]:
    """The memoranda shipped in schemas/memoranda/."""
    return load_memoranda()


@pytest.fixture(scope="session")
def published_lake(small_world, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The session's small world staged and conformed into `<data>/lake` and linked (about 15 s)."""
    from datetime import UTC, datetime

    from credlink.etl.conform.apply import conform_partition
    from credlink.etl.contracts import source_contracts
    from credlink.etl.ingest.extract import connect, source_url
    from credlink.etl.ingest.interval import Interval
    from credlink.etl.ingest.run import RunContext, ingest_table
    from credlink.etl.lake import Lake
    from credlink.linkage.stage import run_linkage

    end = datetime(2025, 7, 1, tzinfo=UTC)  # the day after the small world ends
    data = tmp_path_factory.mktemp("publish-data")
    lake = Lake(data / "lake")
    ctx = RunContext(
        run_id="publish-tests", logical_date=end, docs_root=data / "docs", quarantine_limit=1.0
    )
    for source, contract in sorted(source_contracts().items()):
        engine = connect(source_url(None, small_world.out / contract.default_database), source)
        for table in contract.tables:
            ingest_table(contract, table, engine, Interval(None, end), lake, ctx)
            conform_partition(lake, source, table.name, Interval(None, end).key)
    run_linkage(lake, run_id="publish-tests-link", logical_date=end)
    return lake


@pytest.fixture
def lake_copy(published_lake, tmp_path):  # type: ignore[no-untyped-def]
    """A copy of the published lake for one test (`<tmp>/data/lake`): publish runs record
    their history in the lake, so tests do not see each other's runs."""
    import shutil

    from credlink.etl.lake import Lake

    root = tmp_path / "data" / "lake"
    shutil.copytree(published_lake.root, root)
    return Lake(root)
