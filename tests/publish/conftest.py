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

    from lakes import stage_world

    from credlink.etl.lake import Lake
    from credlink.linkage.stage import run_linkage

    end = datetime(2025, 7, 1, tzinfo=UTC)  # the day after the small world ends
    data = tmp_path_factory.mktemp("publish-data")
    lake = Lake(data / "lake")
    stage_world(small_world.out, lake, end, run_id="publish-tests", docs_root=data / "docs")
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
