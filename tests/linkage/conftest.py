"""Fixtures for linkage tests: the session's small world, ingested once into a lake."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lakes import stage_world

from credlink.etl.lake import Lake
from credlink.world.generate import WorldSummary

#: the day after the small world ends (2025-06-30): the initial load stages everything.
LOAD_END = datetime(2025, 7, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def small_lake(small_world: WorldSummary, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """Every table of the small world staged and conformed into a lake of its own (about 10 s)."""
    root: Path = tmp_path_factory.mktemp("linkage-lake")
    lake = Lake(root)
    stage_world(small_world.out, lake, LOAD_END, run_id="linkage-tests", docs_root=root / "docs")
    return lake
