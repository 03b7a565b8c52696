"""Sharded publishing (publish/shards.py): plan, shards, merge give the unsharded warehouse."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from lakes import warehouse_tables

from credlink.etl.lake import Lake
from credlink.publish import shards
from credlink.publish.stage import run_publish

pytestmark = pytest.mark.slow


def _sharded(lake: Lake, warehouse: Path, run_id: str, day: date, n: int) -> dict[str, int]:
    sizes = shards.plan(lake, run_id=run_id, as_of=day, shards=n)
    assert len(sizes) == n and all(s > 0 for s in sizes)
    for i in range(n):
        shards.publish_shard(lake, run_id=run_id, shard=i)
    return shards.merge(lake, warehouse, run_id=run_id)


def test_sharded_publishing_gives_the_unsharded_warehouse(lake_copy: Lake, tmp_path: Path) -> None:
    other = Lake(tmp_path / "other" / "lake")
    shutil.copytree(lake_copy.root, other.root)
    one, many = tmp_path / "one" / "credlink.duckdb", tmp_path / "many" / "credlink.duckdb"
    for run_id, day in (("run-a", date(2025, 6, 15)), ("run-b", date(2025, 6, 30))):
        expected = run_publish(lake_copy, one, run_id, day)
        got = _sharded(other, many, run_id, day, 3)
        assert got.pop("published_in_merge") == 0  # every table came from the shards
        assert got == expected and expected["restrictions"] > 0
        a, b = warehouse_tables(one), warehouse_tables(many)
        assert a.keys() == b.keys()
        for name in a:
            assert a[name].equals(b[name]), name
    assert expected["changes"] > 0  # the second run changed the history, and so did the shards'
    assert not (other.root / shards.SCRATCH).exists() or not any(
        (other.root / shards.SCRATCH).iterdir()
    )


def test_a_merge_without_every_shard_publishes_the_run_itself(
    lake_copy: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Lake(tmp_path / "other" / "lake")
    shutil.copytree(lake_copy.root, other.root)
    day = date(2025, 6, 30)
    expected = run_publish(lake_copy, tmp_path / "one" / "credlink.duckdb", "run-a", day)
    shards.plan(other, run_id="run-a", as_of=day, shards=2)
    shards.publish_shard(other, run_id="run-a", shard=0)  # shard 1 never ran
    with monkeypatch.context() as m:  # a worker whose rule files are not the plan's refuses
        m.setattr(shards, "rules_fingerprint", lambda *_: "other rules")
        with pytest.raises(shards.ShardError, match="not the plan's"):
            shards.publish_shard(other, run_id="run-a", shard=1)
    got = shards.merge(other, tmp_path / "many" / "credlink.duckdb", run_id="run-a")
    assert got.pop("published_in_merge") == 1
    assert got == expected
    with pytest.raises(shards.ShardError, match="no plan"):
        shards.publish_shard(other, run_id="run-a", shard=0)  # the merge removed the scratch
