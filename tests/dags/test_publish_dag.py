"""`publish_joint_punishment`: scheduled on the linkage Asset; end to end with `dag.test()`."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from credlink import settings
from credlink.etl.lake import Lake
from credlink.linkage.tables import read_record_links
from credlink.publish.contracts import check_warehouse

SHANGHAI = ZoneInfo("Asia/Shanghai")
INGEST = (
    "ingest_courts", "ingest_tax", "ingest_transport", "ingest_food", "ingest_tourism",
    "ingest_registries",
)  # fmt: skip


def task_states(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_publish_dag_is_scheduled_on_record_links(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["publish_joint_punishment"]
    condition = dag.timetable.asset_condition
    assert type(condition).__name__ == "Asset" and condition.name == "linkage.record_links"
    assert {a.name for t in dag.tasks for a in t.outlets} == {"publish.restrictions"}
    assert dag.max_active_runs == 1
    assert [t.task_id for t in dag.tasks] == ["publish_restrictions"]


@pytest.mark.slow
def test_publish_joint_punishment_after_linkage(dagbag, dag_world: Path) -> None:  # type: ignore[no-untyped-def]
    day = datetime(2024, 7, 1, tzinfo=SHANGHAI)
    lake = Lake(settings.data_dir() / "lake")
    if read_record_links(lake).is_empty():  # run alone: stage and link the world first
        for dag_id in INGEST:
            run = dagbag.dags[dag_id].test(logical_date=day, run_conf={"initial_load": True})
            assert str(run.state) == "success", (dag_id, task_states(run))
        run = dagbag.dags["link_credit_codes"].test(logical_date=day)
        assert str(run.state) == "success", task_states(run)

    run = dagbag.dags["publish_joint_punishment"].test(logical_date=day)
    assert str(run.state) == "success", task_states(run)

    con = duckdb.connect(str(settings.warehouse_path()), read_only=True)
    try:
        assert check_warehouse(con) == []
        runs = con.execute("SELECT run_id, as_of FROM publish.runs").fetchall()
        active = con.execute(
            "SELECT count(*) FROM publish.restrictions WHERE status = 'active'"
        ).fetchone()
    finally:
        con.close()
    assert runs == [(run.run_id, date(2024, 7, 1))]
    assert active is not None and active[0] > 0
