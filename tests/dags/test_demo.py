"""`credlink demo` end to end on a tiny world: real scheduler, command-line backfills of the
ingest DAGs over two days, linkage (and publishing) through their Assets, then the summary.

The demo gets its own Airflow home and data folder (it resets both), so the session's metadata
DB and lake, which other DAG tests read, are left alone."""

from __future__ import annotations

import io
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from credlink.airflow_home import prepare_airflow_home
from credlink.demo.driver import Demo
from credlink.demo.plan import INGEST_DAGS, LINK_DAG, DemoPlan, world_end
from credlink.demo.summary import print_summary, source_counts
from credlink.etl.contracts import source_contracts
from credlink.etl.ingest.extract import connect, extract, source_url
from credlink.etl.ingest.interval import Interval
from credlink.etl.lake import Lake
from credlink.metadata_db import EmbeddedPostgres
from credlink.orchestration.services import _members
from credlink.world.config import WorldConfig
from credlink.world.generate import generate_world

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_demo_runs_the_chain_through_the_scheduler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    home = tmp_path / "airflow"
    prepare_airflow_home(home, ROOT)
    env = {**os.environ, "CREDLINK_DATA": str(data), "AIRFLOW_HOME": str(home)}
    # the `dag_world` settings, in the demo's own data folder
    world = generate_world(
        WorldConfig(
            persons=3000, seed=21, start=date(2024, 1, 1), end=date(2024, 6, 30), out=data / "world"
        )
    )
    plan = DemoPlan.for_world_end(world_end(world.out), days=2)
    assert (plan.load_date, plan.last_date) == (date(2024, 6, 29), date(2024, 6, 30))

    out = io.StringIO()
    demo = Demo(plan, env=env, timeout=1500, console=Console(file=out, width=200))
    try:
        result = demo.run()
    finally:
        assert demo.pgid is not None
        assert not _members(demo.pgid), "Airflow processes left behind"
        # the demo started its home's metadata DB server, and stopped it at the end
        assert demo.started_db and EmbeddedPostgres(home).pid() is None

    # every run succeeded: both backfill days of each ingest DAG, and the linkage after them
    assert result.all_succeeded, result.runs
    for dag_id in INGEST_DAGS:
        assert result.run_types[dag_id].get("backfill") == 2, (dag_id, result.run_types)
    assert result.run_types[LINK_DAG].get("asset_triggered", 0) >= 1, result.run_types

    # the counts add up: every row the sources hold up to the demo's last day was extracted
    # once, and was either staged or quarantined
    lake = Lake(data / "lake")
    runs = lake.read_runs()
    counts = source_counts(runs)
    end = datetime.combine(plan.last_date + timedelta(days=1), datetime.min.time(), SHANGHAI)
    for source, contract in source_contracts().items():
        assert counts[source]["extracted"] == (
            counts[source]["staged"] + counts[source]["quarantined"]
        )
        engine = connect(source_url(None, world.out / contract.default_database), source)
        total = 0
        for table in contract.tables:
            staged = lake.read("staging", f"{source}__{table.name}")
            total += extract(engine, table, Interval(None, end)).height
            mine = runs.filter((runs["source"] == source) & (runs["table"] == table.name))
            assert staged.height == mine["staged"].sum(), f"{source}.{table.name}"
        engine.dispose()
        assert counts[source]["extracted"] == total, source

    # the summary prints (staging, linkage quality, the publish hook, where things are)
    monkeypatch.setenv("CREDLINK_DATA", str(data))
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    print_summary(result, Console(file=out, width=200), env)
    text = out.getvalue()
    assert "all runs finished" in text
    assert "restriction history:" in text and "publish runs on" in text
    assert "README queries on this warehouse:" in text
    assert "catalog.duckdb" in text
    assert "restrictions" in text or "memorandum" in text.lower()
