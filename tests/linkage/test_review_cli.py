"""`credlink link`, `credlink review ...` and `credlink quality` on the small world."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from credlink.cli import app
from credlink.etl.lake import Lake
from credlink.linkage.decisions import read_decisions
from credlink.linkage.review import open_items
from credlink.linkage.tables import read_record_links
from credlink.world.generate import WorldSummary

pytestmark = pytest.mark.slow
runner = CliRunner()
STRICT = ["--accept", "0.99999", "--review", "0.3"]  # leaves a dozen items to review


def ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


@pytest.fixture
def data(small_lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`$CREDLINK_DATA` with a copy of the small world's staged data in `lake/`."""
    shutil.copytree(small_lake.root / "staging", tmp_path / "lake" / "staging")
    shutil.copytree(small_lake.root / "conformed", tmp_path / "lake" / "conformed")
    monkeypatch.setenv("CREDLINK_DATA", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def test_link_review_and_quality(data: Path, small_world: WorldSummary) -> None:
    lake = Lake(data / "lake")
    assert "nothing to review" in ok("review", "list")
    out = ok("link", *STRICT)
    assert "review_queue" in out
    listed = ok("review", "list")
    assert "open review item(s)" in listed
    first = read_record_links(lake)
    in_review = first.filter(pl.col("band") == "review").sort("unique_id")
    one, two = in_review.row(0, named=True), in_review.row(1, named=True)
    assert one["unique_id"] in listed

    shown = ok("review", "show", "1", "--out", str(data / "charts"))
    assert "Record and candidate" in shown and "Match weight of each comparison" in shown
    assert "name" in shown
    charts = list((data / "charts").glob("*.html"))
    assert len(charts) == 1 and "waterfall chart" in shown
    assert charts[0].stat().st_size > 10_000  # the chart library is inlined: opens offline
    assert "cdn" not in charts[0].read_text(encoding="utf-8").lower()[:2000]

    # Decisions name items by the key that list and show print, not by number or record id.
    keys = dict(open_items(lake).select("unique_id", "item_key").iter_rows())
    assert f"item key: {keys[one['unique_id']]}" in shown
    by_number = runner.invoke(app, ["review", "accept", "1", "--reviewer", "li"])
    assert by_number.exit_code == 1 and "never by a list number" in by_number.output
    ok("review", "accept", keys[one["unique_id"]], "--reviewer", "li", "--note", "same person")
    ok("review", "reject", keys[two["unique_id"]], "--reviewer", "wang")
    assert read_decisions(lake)["reviewer"].to_list() == ["li", "wang"]
    # Decided items leave the list at once; unknown ones are refused.
    assert one["unique_id"] not in ok("review", "list")
    missing = runner.invoke(app, ["review", "show", "no/such/record"])
    assert missing.exit_code == 1 and "not an open review item" in missing.output

    ok("link", *STRICT)
    second = {r["unique_id"]: r for r in read_record_links(lake).iter_rows(named=True)}
    assert (second[one["unique_id"]]["band"], second[one["unique_id"]]["method"]) == (
        "accept",
        "clerical",
    )
    assert second[one["unique_id"]]["credit_code"] == one["candidate_code"]
    assert (second[two["unique_id"]]["band"], second[two["unique_id"]]["credit_code"]) == (
        "reject",
        None,
    )

    quality = ok("quality", "--world", str(small_world.out))
    assert "precision" in quality and "organisation" in quality
    stored = lake.read("linkage", "quality")
    assert set(stored["subject_type"]) == {"person", "organisation"}


def test_train_writes_a_model_version_and_charts(data: Path) -> None:
    models = data / "models"
    result = CliRunner().invoke(
        app, ["train", "organisation", "--on", "2026-01-01", "--models-dir", str(models)]
    )
    assert result.exit_code == 0, result.output
    written = list(models.glob("organisation-20260101-*.json"))
    assert len(written) == 1
    charts = list((data / "linkage" / "charts").glob("organisation-20260101-*/*.html"))
    assert {c.name for c in charts} >= {"match_weights.html", "m_u_parameters.html"}
    bad = CliRunner().invoke(app, ["train", "company", "--on", "2026-01-01"])
    assert bad.exit_code == 2 and "say person or organisation" in bad.output
