"""`link_credit_codes` end to end with `dag.test()`: the ingest DAGs' initial loads, then links
checked against the world's truth."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from credlink import settings
from credlink.etl.lake import Lake
from credlink.linkage.quality import quality_table, read_truth
from credlink.linkage.records import read_organisation_records, read_person_records
from credlink.linkage.review_queue import read_review_queue
from credlink.linkage.tables import read_record_links
from credlink.orchestration.assets import LINKED_SOURCES

pytestmark = pytest.mark.slow
SHANGHAI = ZoneInfo("Asia/Shanghai")
INGEST = (
    "ingest_courts", "ingest_tax", "ingest_transport", "ingest_food", "ingest_tourism",
    "ingest_registries",
)  # fmt: skip


def task_states(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_link_dag_is_scheduled_on_every_staged_source(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["link_credit_codes"]
    condition = dag.timetable.asset_condition
    assert type(condition).__name__ == "AssetAny"  # any one source's new data triggers a run
    assert {a.name for a in condition.objects} == {f"staging.{s}" for s in LINKED_SOURCES}
    outlets = {a.name for t in dag.tasks for a in t.outlets}
    assert outlets == {"linkage.record_links"}
    assert type(dagbag.dags["train_linkage_models"].timetable).__name__ == "NullTimetable"


def test_link_credit_codes_after_initial_loads(dagbag, dag_world: Path) -> None:  # type: ignore[no-untyped-def]
    # The whole world (it ends 2024-06-30) is staged by the initial loads.
    day = datetime(2024, 7, 1, tzinfo=SHANGHAI)
    for dag_id in INGEST:
        run = dagbag.dags[dag_id].test(logical_date=day, run_conf={"initial_load": True})
        assert str(run.state) == "success", (dag_id, task_states(run))

    run = dagbag.dags["link_credit_codes"].test(logical_date=day)
    assert str(run.state) == "success", task_states(run)

    lake = Lake(settings.data_dir() / "lake")
    links = read_record_links(lake)
    staged = {
        *read_person_records(lake)["unique_id"],
        *read_organisation_records(lake)["unique_id"],
    }
    assert set(links["unique_id"]) == staged
    assert links.height == links["unique_id"].n_unique()
    assert (links["run_id"] == run.run_id).all()
    assert set(read_review_queue(lake)["unique_id"]) == set(
        links.filter(pl.col("band") == "review")["unique_id"]
    )
    quality = quality_table(links, read_truth(dag_world)).filter(pl.col("source") == "all")
    for row in quality.iter_rows(named=True):
        assert row["precision"] >= 0.99, row
    # The catalog was refreshed: DuckDB users see the linkage tables.
    import duckdb

    con = duckdb.connect(str(lake.catalog_path), read_only=True)
    try:
        n = con.execute("SELECT count(*) FROM linkage.record_links").fetchone()
    finally:
        con.close()
    assert n is not None and n[0] == links.height


def test_train_linkage_models(dagbag, dag_world: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Manual training writes a new model version per subject type, with its charts."""
    day = datetime(2024, 7, 1, tzinfo=SHANGHAI)
    lake = Lake(settings.data_dir() / "lake")
    if not lake.datasets("staging"):  # run alone: stage the world first
        for dag_id in INGEST:
            run = dagbag.dags[dag_id].test(logical_date=day, run_conf={"initial_load": True})
            assert str(run.state) == "success", (dag_id, task_states(run))
    models = tmp_path / "models"
    run = dagbag.dags["train_linkage_models"].test(
        logical_date=day, run_conf={"models_dir": str(models)}
    )
    assert str(run.state) == "success", task_states(run)
    written = sorted(p.name for p in models.glob("*.json"))
    assert [n.split("-")[:2] for n in written] == [
        ["organisation", "20240701"],
        ["person", "20240701"],
    ]
    for name in written:
        charts = settings.data_dir() / "linkage" / "charts" / name.removesuffix(".json")
        assert {p.name for p in charts.glob("*.html")} == {
            "match_weights.html",
            "m_u_parameters.html",
        }
