"""`publish_joint_punishment` sharded (`CREDLINK_PUBLISH_SHARDS`): its shape, and a real
`dag.test()` run whose mapped shard tasks publish the warehouse of one unsharded run."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lakes import stage_world, warehouse_tables

from credlink.etl.lake import Lake
from credlink.orchestration.publish_dag import SHARDS_ENV, publish_dag, publish_shards
from credlink.world.generate import WorldSummary

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime(2025, 7, 1, tzinfo=UTC)  # the day after the small world ends


def test_publish_shard_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SHARDS_ENV, raising=False)
    assert publish_shards() == 1
    assert publish_dag("publish_one", doc_md="x").task_ids == ["publish_restrictions"]
    monkeypatch.setenv(SHARDS_ENV, "4")
    dag = publish_dag("publish_four", doc_md="x")
    assert sorted(dag.task_ids) == ["merge_publish", "plan_publish", "publish_shard"]
    assert type(dag.get_task("publish_shard")).__name__.endswith("MappedOperator")
    merge = dag.get_task("merge_publish")
    assert [a.name for a in merge.outlets] == ["publish.restrictions"]
    assert {a.name for t in dag.tasks for a in t.outlets} == {"publish.restrictions"}
    assert merge.upstream_task_ids == {"publish_shard"}
    assert dag.get_task("publish_shard").upstream_task_ids == {"plan_publish"}
    for bad in ("0", "four", "5000", "-1"):
        monkeypatch.setenv(SHARDS_ENV, bad)
        with pytest.raises(ValueError, match=f"{SHARDS_ENV}='{bad}'"):
            publish_shards()


@pytest.mark.slow
def test_sharded_publish_dag_run_equals_one_task(  # type: ignore[no-untyped-def]
    airflow_db, small_world: WorldSummary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from credlink.linkage.stage import run_linkage
    from credlink.publish.stage import run_publish

    data = tmp_path / "data"
    lake = Lake(data / "lake")
    stage_world(small_world.out, lake, DAY, run_id="sharded-publish", docs_root=data / "docs")
    run_linkage(lake, run_id="sharded-publish-link", logical_date=DAY)
    reference = Lake(tmp_path / "reference" / "lake")
    shutil.copytree(lake.root, reference.root)

    monkeypatch.setenv("CREDLINK_DATA", str(data))
    monkeypatch.delenv("CREDLINK_WAREHOUSE", raising=False)
    monkeypatch.setenv(SHARDS_ENV, "3")
    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["publish_joint_punishment"]
    run = dag.test(logical_date=DAY)
    states = {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states
    assert states == {
        ("plan_publish", -1): "success",
        ("publish_shard", 0): "success",
        ("publish_shard", 1): "success",
        ("publish_shard", 2): "success",
        ("merge_publish", -1): "success",
    }
    merge = next(ti for ti in run.get_task_instances() if ti.task_id == "merge_publish")
    merged = merge.xcom_pull(task_ids="merge_publish")
    assert merged["published_in_merge"] == 0  # every table came from the shards
    assert merged["as_of"] == 20250701 and merged["restrictions"] > 0

    want = tmp_path / "reference" / "credlink.duckdb"
    expected = run_publish(reference, want, run.run_id, date(2025, 7, 1))
    assert {k: merged[k] for k in expected} == expected
    a, b = warehouse_tables(want), warehouse_tables(data / "warehouse" / "credlink.duckdb")
    assert a.keys() == b.keys() and "publish.restrictions" in a
    for name in a:
        assert a[name].equals(b[name]), name
    assert not list((lake.root / "work" / "publish-shards").iterdir())  # the merge cleaned up
