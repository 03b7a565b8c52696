"""Commands that look after the lake: `credlink train` says clearly why it refuses, without a
traceback (the tracked production folder, where only `credlink models promote` writes; a lake
with nothing to train on); `credlink conform` makes the conformed layer again from staging."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from credlink.cli import app
from credlink.linkage.model import MODELS_DIR
from credlink.world.generate import WorldSummary


@pytest.fixture
def empty_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CREDLINK_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def test_training_into_the_production_folder_is_refused(empty_data: Path) -> None:
    before = sorted(p.name for p in MODELS_DIR.iterdir())
    result = CliRunner().invoke(
        app, ["train", "person", "--on", "2026-01-01", "--models-dir", str(MODELS_DIR)]
    )
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "promote" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in MODELS_DIR.iterdir()) == before


def test_training_on_an_empty_lake_says_so(empty_data: Path) -> None:
    result = CliRunner().invoke(app, ["train", "organisation", "--on", "2026-01-01"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "no records to train on" in result.output
    assert not (empty_data / "linkage" / "models").exists() or not list(
        (empty_data / "linkage" / "models").glob("*.json")
    )


def test_conform_rebuilds_the_conformed_layer_of_a_staged_lake(
    empty_data: Path, small_world: WorldSummary
) -> None:
    """A lake staged without its conformed tables (or after a mapping changed): `credlink
    conform` makes them again from staging, the same as the ingest made them."""
    import shutil
    from datetime import UTC, datetime, timedelta

    from credlink.etl.ingest.run import RunContext, ingest_sources
    from credlink.etl.lake import Lake

    end = datetime(2025, 7, 1, tzinfo=UTC)
    lake = Lake(empty_data / "lake")
    ctx = RunContext(run_id="conform-cli", logical_date=end, docs_root=lake.root / "docs",
                     quarantine_limit=1.0)  # fmt: skip
    ingest_sources(small_world.out, lake, end - timedelta(days=1), end, initial=True, ctx=ctx)
    made = {d: lake.read("conformed", d) for d in lake.datasets("conformed")}
    assert "listings__court_defaulters" in made
    shutil.rmtree(lake.root / "conformed")
    result = CliRunner().invoke(app, ["conform"])
    assert result.exit_code == 0, result.output
    assert "conformed" in result.output
    again = {d: lake.read("conformed", d) for d in lake.datasets("conformed")}
    assert set(again) == set(made)
    for name, frame in made.items():
        assert (
            again[name]
            .sort("_record_id", "_interval")
            .equals(frame.sort("_record_id", "_interval"))
        ), name
