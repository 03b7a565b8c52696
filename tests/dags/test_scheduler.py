"""The real thing: Airflow's scheduler, DAG processor, triggerer and API server (LocalExecutor,
the embedded PostgreSQL metadata DB the project starts) run command-line backfills of three
ingest DAGs, created one after the other while the scheduler runs."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from credlink import settings
from credlink.etl.contracts import source_contracts
from credlink.etl.ingest.extract import connect, extract, source_url
from credlink.etl.ingest.interval import Interval
from credlink.etl.lake import Lake
from credlink.metadata_db import configured_url
from credlink.orchestration.services import (
    HEALTH_COMPONENTS,
    VENV_BIN,
    AirflowServices,
    _members,
    free_port,
)

pytestmark = pytest.mark.slow
DAGS = ("ingest_courts", "ingest_tax", "ingest_food")
DATES = ("2024-02-01", "2024-02-02", "2024-02-03")
#: The tenth command: a day already staged, backfilled again (it replaces that day's partition).
AGAIN = ("ingest_tax", "2024-02-01")
MINE = f"dag_id IN ({', '.join(repr(d) for d in DAGS)})"


def query(sql: str) -> list[tuple]:  # type: ignore[type-arg]
    engine = sa.create_engine(configured_url(Path(os.environ["AIRFLOW_HOME"])))
    try:
        with engine.connect() as con:
            return [tuple(r) for r in con.execute(sa.text(sql))]
    finally:
        engine.dispose()


def wait_for(what: str, check, timeout: float, services: AirflowServices) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(3)
    logs = {p.name: p.read_text()[-3000:] for p in services.log_dir.glob("*.log")}
    pytest.fail(f"timed out waiting for {what}; last log lines: {logs}")


def backfill(services: AirflowServices, dag: str, day: str, *extra: str) -> None:
    created = subprocess.run(
        [str(VENV_BIN / "airflow"), "backfill", "create", "--dag-id", dag,
         "--from-date", day, "--to-date", day, *extra],
        env=services.env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert created.returncode == 0, (dag, day, created.stdout[-2000:] + created.stderr[-2000:])


def settled() -> bool:
    """Every backfill created so far is complete and its runs have ended."""
    (open_backfills,) = query(
        f"SELECT count(*) FROM backfill WHERE {MINE} AND completed_at IS NULL"
    )[0]
    rows = query(f"SELECT dag_id, state FROM dag_run WHERE run_type = 'backfill' AND {MINE}")
    return open_backfills == 0 and bool(rows) and all(s in ("success", "failed") for _, s in rows)


def test_backfills_created_while_the_scheduler_runs(
    airflow_db: None, dag_world: Path, tmp_path: Path
) -> None:
    assert configured_url(Path(os.environ["AIRFLOW_HOME"])).startswith("postgresql+psycopg://")
    services = AirflowServices(port=free_port(), log_dir=tmp_path / "logs")
    services.start()
    pgid = services.process.pid if services.process else 0
    try:
        services.wait_healthy(timeout=240, require=HEALTH_COMPONENTS)  # triggerer included
        wait_for(
            "the DAG processor to register the ingest DAGs",
            lambda: {d for (d,) in query("SELECT dag_id FROM dag")} >= set(DAGS),
            240,
            services,
        )
        # Ten `backfill create` commands in a row against the running scheduler, which writes
        # the whole time (SQLite's single writer made such a create fail with "database is
        # locked"). One backfill per DAG may run at a time, so each day's three start together
        # and the next day's follow once they are done.
        for day in DATES:
            for dag in DAGS:
                backfill(services, dag, day)
            wait_for(f"the runs of {day}", settled, 600, services)
        backfill(services, *AGAIN, "--reprocess-behavior", "completed")
        wait_for("the re-run", settled, 600, services)
        backfills = query(f"SELECT dag_id, completed_at FROM backfill WHERE {MINE}")
        assert len(backfills) == len(DATES) * len(DAGS) + 1 == 10, backfills
        states = query(
            "SELECT dag_id, logical_date, state FROM dag_run "
            f"WHERE run_type = 'backfill' AND {MINE} ORDER BY 1, 2"
        )
        # the re-run cleared the day's run and ran it again: still one run per DAG and day
        assert len(states) == len(DATES) * len(DAGS), states
        assert all(s == "success" for _, _, s in states), states
    finally:
        services.stop()
    assert not _members(pgid), "Airflow processes left behind"

    # Each day was staged once; together they equal one extract of the whole range.
    lake = Lake(settings.data_dir() / "lake")
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
