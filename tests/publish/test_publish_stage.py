"""The stage end to end on the small generated world: lake -> warehouse, CLI publish / explain."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from credlink.cli import app
from credlink.etl.lake import Lake
from credlink.publish.contracts import check_warehouse
from credlink.publish.stage import read_history, run_publish

pytestmark = pytest.mark.slow


def test_run_publish_on_the_small_world(lake_copy: Lake, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse" / "credlink.duckdb"
    counts = run_publish(lake_copy, warehouse, "run-a", date(2025, 6, 30))
    assert counts["active"] > 0 and counts["changes"] == counts["restrictions"]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert check_warehouse(con) == []
        memos = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT memorandum_id FROM publish.restrictions"
            ).fetchall()
        }
        # every restricted code is a linked listing's code or a legal representative
        unbound = con.execute(
            """
            SELECT count(*) FROM publish.restrictions r
            WHERE NOT list_contains(r.roles, 'legal_representative')
              AND NOT EXISTS (SELECT 1 FROM publish.listings l
                              WHERE l.credit_code = r.credit_code AND l.link_band = 'accept')
            """
        ).fetchone()
        caac = con.execute("SELECT count(*) FROM enforce.caac").fetchone()
    finally:
        con.close()
    assert "court_defaulters_2016" in memos
    assert unbound == (0,)
    assert caac is not None and caac[0] > 0
    # a second run on the same data changes nothing: no history rows, but the run is recorded
    again = run_publish(lake_copy, warehouse, "run-b", date(2025, 6, 30))
    assert again["changes"] == 0 and again["restrictions"] == counts["restrictions"]
    assert set(read_history(lake_copy)["run_id"]) == {"run-a"}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        runs = con.execute("SELECT run_id, changes FROM publish.runs ORDER BY seq").fetchall()
    finally:
        con.close()
    assert runs == [("run-a", counts["changes"]), ("run-b", 0)]


def test_cli_publish_and_explain(
    lake_copy: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "credlink.duckdb"
    monkeypatch.setenv("CREDLINK_DATA", str(lake_copy.root.parent))
    monkeypatch.setenv("CREDLINK_WAREHOUSE", str(warehouse))
    runner = CliRunner()
    result = runner.invoke(app, ["publish", "--on", "2025-06-30", "--run-id", "cli-run"])
    assert result.exit_code == 0, result.output
    assert "Restrictions by memorandum" in result.output
    assert "Restrictions by enforcing agency" in result.output
    summary = runner.invoke(app, ["publish", "--summary"])  # what `make demo` prints
    assert summary.exit_code == 0, summary.output
    assert "last run cli-run, as of 2025-06-30" in summary.output
    assert "court_defaulters_2016" in summary.output and "caac" in summary.output
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rep = con.sql(
            "SELECT credit_code, via_codes[1] AS org, listing_records[1] AS record "
            "FROM publish.restrictions WHERE list_contains(roles, 'legal_representative') "
            "ORDER BY ALL LIMIT 1"
        ).pl()
    finally:
        con.close()
    assert rep.height == 1, "the small world has a listed organisation with a legal rep"
    code, org, record = rep.row(0)
    result = runner.invoke(app, ["explain", code])
    assert result.exit_code == 0, result.output
    out = result.output
    assert code in out and f"legal_representative of {org}" in out
    assert record in out and "link: band accept" in out
    assert "identity evidence: name " in out  # how the names compare, which facts agree
    assert "court_defaulters_2016" in out and "History:" in out
    unknown = runner.invoke(app, ["explain", "110101190001010000"])
    assert "not in the warehouse" in unknown.output


def test_an_asset_triggered_run_publishes_the_staged_day_not_the_wall_clock(
    lake_copy: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from credlink.orchestration import publish_runtime

    monkeypatch.setenv("CREDLINK_DATA", str(lake_copy.root.parent))
    monkeypatch.setenv("CREDLINK_WAREHOUSE", str(tmp_path / "credlink.duckdb"))
    counts = publish_runtime.publish(
        run_id="asset-run", logical_date=None, run_after=datetime(2030, 1, 1, tzinfo=UTC)
    )
    # the small world is staged through 2025-07-01 00:00 UTC, i.e. into 2025-07-01 in China
    assert counts["as_of"] == 20250701
    assert counts["active"] > 0
