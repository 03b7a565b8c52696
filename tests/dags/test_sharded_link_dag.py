"""`link_credit_codes` sharded (`CREDLINK_LINK_SHARDS`): its shape, and a real `dag.test()` run
whose mapped shard tasks give the links of one unsharded run."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from lakes import stage_world

from credlink.etl.lake import Lake
from credlink.orchestration.linkage_dag import SHARDS_ENV, link_dag, link_shards
from credlink.world.generate import WorldSummary

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime(2025, 7, 1, tzinfo=UTC)  # the day after the small world ends


def test_shard_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SHARDS_ENV, raising=False)
    assert link_shards() == 1
    one = link_dag("link_one", doc_md="x")
    assert sorted(one.task_ids) == ["link_records", "publish_linkage"]  # as without sharding
    monkeypatch.setenv(SHARDS_ENV, "3")
    dag = link_dag("link_three", doc_md="x")
    assert sorted(dag.task_ids) == ["link_shard", "merge_linkage", "plan_linkage",
                                    "publish_linkage"]  # fmt: skip
    assert type(dag.get_task("link_shard")).__name__.endswith("MappedOperator")
    assert {a.name for t in dag.tasks for a in t.outlets} == {"linkage.record_links"}
    assert dag.get_task("merge_linkage").upstream_task_ids == {"link_shard"}
    for bad in ("0", "three", "2000"):
        monkeypatch.setenv(SHARDS_ENV, bad)
        with pytest.raises(ValueError, match=f"{SHARDS_ENV}='{bad}'"):
            link_shards()


@pytest.mark.slow
def test_sharded_dag_run_equals_one_task(  # type: ignore[no-untyped-def]
    airflow_db, small_world: WorldSummary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from credlink.linkage.review_queue import read_review_queue
    from credlink.linkage.stage import run_linkage
    from credlink.linkage.tables import read_record_links

    data = tmp_path / "data"
    lake = Lake(data / "lake")
    stage_world(small_world.out, lake, DAY, run_id="sharded-dag-test", docs_root=lake.root / "docs")
    reference = Lake(tmp_path / "reference")
    for layer in ("staging", "conformed"):
        shutil.copytree(lake.root / layer, reference.root / layer)

    monkeypatch.setenv("CREDLINK_DATA", str(data))
    monkeypatch.setenv(SHARDS_ENV, "3")
    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["link_credit_codes"]
    run = dag.test(logical_date=DAY)
    states = {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states
    assert states == {
        ("plan_linkage", -1): "success",
        ("link_shard", 0): "success",
        ("link_shard", 1): "success",
        ("link_shard", 2): "success",
        ("merge_linkage", -1): "success",
        ("publish_linkage", -1): "success",
    }

    run_linkage(reference, run_id=run.run_id, logical_date=DAY)
    for read in (read_record_links, read_review_queue,
                 lambda lk: lk.read("linkage", "legal_representatives")):  # fmt: skip
        got, want = read(lake).sort("unique_id"), read(reference).sort("unique_id")
        assert got.height > 0 or read is read_review_queue
        assert got.equals(want)
    assert (read_record_links(lake)["run_id"] == run.run_id).all()
    assert not list((lake.root / "work" / "linkage-shards").iterdir())  # the merge cleaned up
    assert read_record_links(lake).filter(pl.col("band") == "accept").height > 0
