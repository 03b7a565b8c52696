"""The ingest DAGs run end to end with `dag.test()` on a small world."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from credlink import settings
from credlink.etl.conform.apply import outputs
from credlink.etl.conform.mappings import conform_mappings
from credlink.etl.contracts import source_contracts
from credlink.etl.ingest.interval import Interval
from credlink.etl.lake import Lake

pytestmark = pytest.mark.slow
SHANGHAI = ZoneInfo("Asia/Shanghai")
SOURCES = {
    "ingest_courts": ["courts"],
    "ingest_tax": ["tax"],
    "ingest_transport": ["transport"],
    "ingest_food": ["food"],
    "ingest_tourism": ["tourism"],
    "ingest_registries": ["population", "legal_entities"],
}


def lake() -> Lake:
    return Lake(settings.data_dir() / "lake")


def task_states(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


@pytest.mark.parametrize("dag_id", sorted(SOURCES))
def test_initial_load_then_a_day(dagbag, dag_world: Path, dag_id: str) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags[dag_id]
    first = dag.test(
        logical_date=datetime(2024, 3, 1, tzinfo=SHANGHAI), run_conf={"initial_load": True}
    )
    assert str(first.state) == "success", task_states(first)
    # dag.test keeps the previous run's conf as the params' defaults: say it again.
    second = dag.test(
        logical_date=datetime(2024, 3, 2, tzinfo=SHANGHAI), run_conf={"initial_load": False}
    )
    assert str(second.state) == "success", task_states(second)
    key = Interval(first.data_interval_start, first.data_interval_end).key
    next_key = Interval(second.data_interval_start, second.data_interval_end).key
    assert first.data_interval_end == second.data_interval_start, "consecutive days"

    runs = lake().read_runs()
    for source in SOURCES[dag_id]:
        for table in source_contracts()[source].tables:
            mine = runs.filter((pl.col("source") == source) & (pl.col("table") == table.name))
            # all history before the first run's day, that day, and the next day
            history = f"history_{key.split('_')[0]}"
            assert set(mine["interval"]) == {history, key, next_key}
            assert (mine["extracted"] == mine["staged"] + mine["quarantined"]).all()
            staged = lake().read("staging", f"{source}__{table.name}")
            assert staged.height == mine["staged"].sum()
            # each staged row conformed before the source's Asset (agencies; no registry)
            mapping = conform_mappings().get(source)
            conf = mapping.table(table.name) if mapping is not None else None
            for dataset in outputs(source, table.name, conf) if conf is not None else []:
                assert lake().read("conformed", dataset).height == staged.height, dataset
    catalog = lake().catalog_path
    assert catalog.is_file()


def test_connection_from_the_environment(
    dagbag, dag_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """`AIRFLOW_CONN_FOOD_DB` (JSON form) points the DAG at another database."""
    copy = tmp_path / "food-elsewhere.db"
    shutil.copy(dag_world / "agencies" / "food.db", copy)
    monkeypatch.setenv(
        "AIRFLOW_CONN_FOOD_DB", json.dumps({"conn_type": "sqlite", "host": str(copy)})
    )
    run = dagbag.dags["ingest_food"].test(
        logical_date=datetime(2024, 4, 1, tzinfo=SHANGHAI), run_conf={"initial_load": True}
    )
    assert str(run.state) == "success", task_states(run)
    copy.unlink()
    dag = dagbag.dags["ingest_food"]
    for t in dag.tasks:  # the failure is permanent: do not wait for retries
        t.retries = 0
    run = dag.test(
        logical_date=datetime(2024, 4, 2, tzinfo=SHANGHAI), run_conf={"initial_load": False}
    )
    assert str(run.state) == "failed"
    assert task_states(run)["check_food"] == "failed"
