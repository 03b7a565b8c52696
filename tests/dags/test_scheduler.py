"""The real thing: Airflow's scheduler, DAG processor and API server (LocalExecutor, SQLite
metadata DB) run command-line backfills of three ingest DAGs at once."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from credlink import paths
from credlink.orchestration.services import VENV_BIN, AirflowServices, _members, free_port
from etl.contracts import source_contracts
from etl.ingest.extract import connect, extract, source_url
from etl.ingest.interval import Interval
from etl.lake import Lake

pytestmark = pytest.mark.slow
DAGS = ("ingest_courts", "ingest_tax", "ingest_food")
FROM, TO = "2024-02-01", "2024-02-03"
DAYS = 3


def metadata_db() -> Path:
    return Path(os.environ["AIRFLOW_HOME"]) / "airflow.db"


def query(sql: str) -> list[tuple]:  # type: ignore[type-arg]
    con = sqlite3.connect(f"file:{metadata_db()}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def wait_for(what: str, check, timeout: float, services: AirflowServices) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(3)
    logs = {p.name: p.read_text()[-3000:] for p in services.log_dir.glob("*.log")}
    pytest.fail(f"timed out waiting for {what}; last log lines: {logs}")


def test_parallel_backfills_under_the_scheduler(
    airflow_db: None, dag_world: Path, tmp_path: Path
) -> None:
    services = AirflowServices(port=free_port(), log_dir=tmp_path / "logs")
    # First let the DAG processor register the DAGs, then stop everything and queue the
    # backfills while nothing else writes: with a SQLite metadata DB a backfill created while
    # the scheduler writes can fail with "database is locked" (PostgreSQL has no such limit).
    services.start()
    try:
        services.wait_healthy()
        wait_for(
            "the DAG processor to register the ingest DAGs",
            lambda: {d for (d,) in query("SELECT dag_id FROM dag")} >= set(DAGS),
            240,
            services,
        )
    finally:
        services.stop()
    for dag in DAGS:
        created = subprocess.run(
            [str(VENV_BIN / "airflow"), "backfill", "create", "--dag-id", dag,
             "--from-date", FROM, "--to-date", TO],
            env=services.env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert created.returncode == 0, created.stdout[-2000:] + created.stderr[-2000:]

    services.start()
    pgid = services.process.pid if services.process else 0
    try:
        services.wait_healthy()

        def finished() -> bool:
            rows = query(
                "SELECT dag_id, state FROM dag_run WHERE run_type = 'backfill' AND dag_id IN "
                f"({', '.join(repr(d) for d in DAGS)})"
            )
            return len(rows) == DAYS * len(DAGS) and all(
                s in ("success", "failed") for _, s in rows
            )

        wait_for("the backfill runs to finish", finished, 600, services)
        states = query(
            "SELECT dag_id, logical_date, state FROM dag_run WHERE run_type = 'backfill' ORDER BY 1, 2"
        )
        assert all(s == "success" for _, _, s in states), states
    finally:
        services.stop()
    assert not _members(pgid), "Airflow processes left behind"

    # Each day was staged once; together they equal one extract of the whole range.
    lake = Lake(paths.data_dir() / "lake")
    start = datetime(2024, 1, 31, 16, tzinfo=UTC)  # 2024-02-01 00:00 Asia/Shanghai
    end = datetime(2024, 2, 3, 16, tzinfo=UTC)
    for source in ("courts", "tax", "food"):
        contract = source_contracts()[source]
        engine = connect(source_url(None, dag_world / contract.default_database), source)
        for table in contract.tables:
            staged = lake.read("staging", f"{source}__{table.name}")
            window = staged.filter(
                pl.col("_interval_start").is_not_null()
                & (pl.col("_interval_start") >= start)
                & (pl.col("_interval_end") <= end)
            )
            assert window["_record_id"].n_unique() == window.height, (
                f"{source}.{table.name} duplicated"
            )
            expected = extract(engine, table, Interval(start, end))
            assert window.height == expected.height, f"{source}.{table.name}"
        engine.dispose()
