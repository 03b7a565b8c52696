"""The pure parts of `credlink demo`: the plan, the commands, the completion rule, the paths."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from credlink.demo.driver import reset_demo_state
from credlink.demo.env import DemoEnv
from credlink.demo.metadata import log_error, snapshot_from_rows, task_log_path
from credlink.demo.plan import INGEST_DAGS, BackfillCommand, DemoPlan


def test_plan_initial_load_then_daily_backfills() -> None:
    plan = DemoPlan.for_world_end(date(2025, 12, 31), days=3)
    assert (plan.load_date, plan.daily_from, plan.days) == (
        date(2025, 12, 29),
        date(2025, 12, 30),
        3,
    )
    initial = plan.initial_loads()
    assert [c.dag_id for c in initial] == list(INGEST_DAGS)
    assert all(c.from_date == c.to_date == date(2025, 12, 29) for c in initial)
    assert all(c.conf == {"initial_load": True} for c in initial)
    daily = plan.daily()
    assert all(
        (c.from_date, c.to_date, c.conf) == (plan.daily_from, plan.last_date, None) for c in daily
    )
    # three days of every ingest DAG (the registries' and the five agencies')
    assert len(INGEST_DAGS) == 6 and "ingest_tourism" in INGEST_DAGS
    assert plan.expected_backfill_runs() == 18


def test_a_one_day_plan_has_no_daily_backfill() -> None:
    assert DemoPlan.for_world_end(date(2024, 6, 30), days=1).daily() == []
    with pytest.raises(ValueError):
        DemoPlan.for_world_end(date(2024, 6, 30), days=0)


def test_backfill_command_line() -> None:
    cmd = BackfillCommand(
        "ingest_tax", date(2025, 12, 30), date(2025, 12, 30), {"initial_load": True}
    )
    assert cmd.argv(Path("airflow")) == [
        "airflow", "backfill", "create", "--dag-id", "ingest_tax",
        "--from-date", "2025-12-30", "--to-date", "2025-12-30", "--max-active-runs", "2",
        "--dag-run-conf", '{"initial_load": true}',
    ]  # fmt: skip


def test_settled_only_without_open_backfills_unfinished_runs_or_queued_events() -> None:
    dags = ["ingest_tax", "link_credit_codes"]
    done = [("run", "ingest_tax", "success", 2), ("backfill", "ingest_tax", "done", 1)]
    assert snapshot_from_rows(done).settled(dags)
    assert not snapshot_from_rows([*done, ("pending", "link_credit_codes", "", 1)]).settled(dags)
    assert not snapshot_from_rows([*done, ("run", "link_credit_codes", "queued", 1)]).settled(dags)
    assert not snapshot_from_rows([*done, ("backfill", "ingest_tax", "open", 1)]).settled(dags)
    failed = snapshot_from_rows([*done, ("run", "link_credit_codes", "failed", 1)])
    assert failed.failed(dags) == ["link_credit_codes"]


def test_task_log_path_and_its_error(tmp_path: Path) -> None:
    path = task_log_path(tmp_path, "publish_joint_punishment", "r1", "publish_restrictions", 3)
    assert path == (
        tmp_path / "dag_id=publish_joint_punishment" / "run_id=r1"
        / "task_id=publish_restrictions" / "attempt=3.log"
    )  # fmt: skip
    assert log_error(path) is None
    path.parent.mkdir(parents=True)
    error = {
        "event": "Task failed with exception",
        "error_detail": [
            {
                "exc_type": "KeyError",
                "exc_value": "'logical_date'",
                "frames": [{"filename": "/x/publish_dag.py", "lineno": 28}],
            }
        ],
    }
    path.write_text("not json\n" + json.dumps(error) + "\n")
    assert log_error(path) == "KeyError: 'logical_date' (publish_dag.py:28)"


def test_config_values_as_airflow_reads_them(tmp_path: Path) -> None:
    cfg = tmp_path / "airflow.cfg"
    cfg.write_text("[database]\nsql_alchemy_conn = sqlite:///${AIRFLOW_HOME}/airflow.db\n")
    where = DemoEnv({"AIRFLOW_CONFIG": str(cfg), "AIRFLOW_HOME": "/h", "CREDLINK_DATA": "/d"})
    assert where.metadata_url == "sqlite:////h/airflow.db"
    assert where.logs_dir == Path("/h/logs")
    assert where.warehouse == Path("/d/warehouse/credlink.duckdb")
    other = DemoEnv({**where.env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://x/y"})
    assert other.metadata_url == "postgresql://x/y"


def test_reset_keeps_the_reviewers_decisions(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    for rel in ("staging/courts__ZXAJ/x.parquet", "linkage/decisions/interval=all/data.parquet"):
        (lake / rel).parent.mkdir(parents=True, exist_ok=True)
        (lake / rel).write_text("x")
    warehouse = tmp_path / "warehouse" / "credlink.duckdb"
    warehouse.parent.mkdir()
    warehouse.write_text("x")
    logs = tmp_path / "logs"
    (logs / "dag_id=ingest_tax").mkdir(parents=True)
    (logs / "services").mkdir()
    reset_demo_state(lake, warehouse, logs)
    assert (lake / "linkage/decisions/interval=all/data.parquet").exists()
    assert not (lake / "staging").exists()
    assert not warehouse.exists()
    assert sorted(p.name for p in logs.iterdir()) == ["services"]
