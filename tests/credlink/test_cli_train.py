"""`credlink train` says clearly why it refuses, without a traceback: the tracked production
folder (only `credlink models promote` writes there) and a lake with nothing to train on."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from credlink.cli import app
from credlink.linkage.model import MODELS_DIR


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
