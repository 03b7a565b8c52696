"""The linkage stage on a lake on an object store (``s3://``: moto's S3 server on 127.0.0.1,
tests/objectstore.py), so that linkage can run on any worker of a shared lake:

- a run on the store writes the same tables as the same run on a local lake: the small world's
  first run (unsharded, and sharded: plan, shards and merge through the lake's scratch
  prefix), then a daily run that writes deltas;
- a run killed with SIGKILL at a write point (staged objects, the commit record, the
  server-side copies, the record's removal) leaves its lock object behind; the retry takes it over once its
  lease expired, completes or discards the dead run's commit, and equals an uninterrupted run;
- a run whose lock object another worker took over commits nothing (:class:`LockLost` before
  its commit record);
- a run waits for, then refuses, the lock object another run holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from linkfault import DATASETS, DAY, Forker, same, snapshot, two_day_lake
from objectstore import Store, moto_store

from credlink.etl import storage
from credlink.etl.commit import Replace, commit, recover, stage_lock, temporary
from credlink.etl.lake import Lake, write_staged
from credlink.linkage import shards
from credlink.linkage.stage import LinkageLockedError, run_linkage

pytest.importorskip(
    "moto.server", reason="moto[server] is missing: `uv sync` installs it (a dev dependency)"
)
pytest.importorskip("s3fs", reason="s3fs is missing: `uv sync` installs it")

#: r2's write points (etl.commit.write_point): 7 tables staged (1-7), the commit record (8), 7
#: copies (9-15), the record removed (16)
LAST_POINT = len(DATASETS) * 2 + 2
KILL_POINTS = (1, len(DATASETS), len(DATASETS) + 1, len(DATASETS) + 2, 12, LAST_POINT)
#: a short lease, so that a killed run's lock object is taken over within seconds
LEASE_SECONDS = "2"


@pytest.fixture(scope="module")
def s3() -> Iterator[Store]:
    """moto's S3 server; the environment a worker of the store has (its storage options, a
    short lease), in this process and in the fork server's children."""
    with moto_store() as store, pytest.MonkeyPatch.context() as env:
        env.setenv(storage.STORAGE_OPTIONS_ENV, json.dumps(store.options))
        env.setenv(storage.LOCK_LEASE_ENV, LEASE_SECONDS)
        yield store


def _left_over(store: Store, lake: Lake) -> list[str]:
    """Objects of the linkage stage's protocol still on the store: staged objects, a commit
    record, a lock object."""
    return [k for k in store.keys(lake) if k.rsplit("/", 1)[-1].startswith(".")]


@pytest.mark.slow
def test_linkage_on_the_store_equals_linkage_on_a_local_lake(
    s3: Store, small_lake: Lake, tmp_path: Path
) -> None:
    import shutil

    local = Lake(tmp_path / "lake")
    shutil.copytree(small_lake.root, local.root)
    remote = s3.upload(small_lake.root)
    assert not remote.is_local
    counts = {}
    for name, lake in (("local", local), ("s3", remote)):
        counts[name] = run_linkage(lake, run_id="r1", logical_date=DAY)
    assert counts["s3"] == counts["local"]
    assert counts["s3"]["records"] > 1000 and counts["s3"]["accept"] > 0
    want = snapshot(local)
    assert same(snapshot(remote), want)
    # Sharded on the store: the plan, each shard and the merge hand each other objects of the
    # lake's scratch prefix (any worker reaches them); the same tables again.
    on_shards = s3.upload(small_lake.root)
    sizes = shards.plan(on_shards, run_id="r1", logical_date=DAY, shards=2)
    assert all(len(v) == 2 for v in sizes.values()) and sum(sizes["person"]) > 0
    for i in range(2):
        shards.link_shard(on_shards, run_id="r1", shard=i)
    scratch = [k for k in s3.keys(on_shards) if k.startswith("work/linkage-shards/")]
    assert any(k.endswith("shard-0001.done.json") for k in scratch), scratch
    merged = shards.merge(on_shards, run_id="r1", logical_date=DAY)
    assert merged["linked_in_merge"] == 0, "every record came from a shard"
    assert same(snapshot(on_shards), want)
    assert not [k for k in s3.keys(on_shards) if k.startswith("work/")], "the scratch went"
    # A daily run with nothing new: every delta table gets a delta, on the store as locally.
    for lake in (local, remote):
        counts[lake.url] = run_linkage(lake, run_id="r2", logical_date=DAY)
    assert counts[remote.url] == counts[local.url]
    assert same(snapshot(remote), snapshot(local))
    keys = s3.keys(remote)
    assert "linkage/record_links/interval=delta-00000001/data.parquet" in keys
    assert "linkage/person_spine/interval=all/data.parquet" in keys
    assert not _left_over(s3, remote), "no staged object, commit record or lock object is left"
    runs = remote.read("linkage", "runs")
    assert set(runs["run_id"]) == {"r1", "r2"}
    # The catalog's views of the linkage tables, over the store, answer as locally.
    query = "SELECT band, count(*) FROM linkage.record_links GROUP BY band ORDER BY band"
    answers = []
    for lake in (local, remote):
        lake.refresh_catalog()
        with lake.open_catalog() as con:
            answers.append(con.sql(query).fetchall())
    assert answers[0] == answers[1] and sum(n for _, n in answers[0]) == counts["s3"]["records"]


@pytest.fixture(scope="module")
def on_store(s3: Store, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The two-day lake's r1 on a local lake, and r1 then r2 uninterrupted, locally: what a
    run on the store must equal."""
    root = tmp_path_factory.mktemp("linkage-store")
    first = two_day_lake(root / "r1", second_day=False)
    run_linkage(first, run_id="r1", logical_date=DAY)
    both = two_day_lake(s3.upload(first.root), second_day=True)
    run_linkage(both, run_id="r2", logical_date=DAY)
    return {"r1": first.root, "r1r2": snapshot(both)}


def test_a_daily_run_on_the_store_equals_the_same_run_locally(
    on_store: dict[str, object], tmp_path: Path
) -> None:
    import shutil

    local = tmp_path / "r1r2"
    shutil.copytree(on_store["r1"], local)  # type: ignore[arg-type]
    lake = two_day_lake(local, second_day=True)
    run_linkage(lake, run_id="r2", logical_date=DAY)
    assert same(snapshot(lake), on_store["r1r2"])
    assert on_store["r1r2"]["record_links"].height == 3  # type: ignore[index]


@pytest.fixture(scope="module")
def forker(s3: Store) -> Iterator[Forker]:
    f = Forker()  # started inside the s3 fixture's environment: the children reach the store
    yield f
    f.close()


@pytest.mark.slow
def test_a_kill_at_a_write_point_on_the_store_then_the_next_run_equals_an_uninterrupted_one(
    s3: Store, on_store: dict[str, object], forker: Forker
) -> None:
    """Killed at the first and the last staged object, the commit record, the first copy, a
    copy in the middle and the removal of the record (every point is killed on a local lake,
    tests/linkage/test_linkage_safety.py: the protocol is the same code)."""
    for k in (*KILL_POINTS, LAST_POINT + 1):
        lake = two_day_lake(s3.upload(on_store["r1"]), second_day=True)
        code = forker.run(lake.url, "r2", k)
        if k > LAST_POINT:  # past the last write point: the run completed
            assert code == 0, f"a run has more than {LAST_POINT} write points"
            assert same(snapshot(lake), on_store["r1r2"])
            break
        assert code == -9, f"run not killed at write point {k} (exit {code})"
        assert any(key.endswith("/.linkage.lock") for key in _left_over(s3, lake)), (
            "a killed run leaves its lock object"
        )
        run_linkage(lake, run_id="r2", logical_date=DAY)  # the retry: waits for the lease
        assert same(snapshot(lake), on_store["r1r2"]), f"killed at write point {k}"
        assert not _left_over(s3, lake), f"objects of the protocol left after a kill at {k}"


def test_a_run_whose_lock_was_taken_over_commits_nothing(s3: Store) -> None:
    lake = s3.lake()
    final = lake.partition_location("linkage", "review_queue", "all")
    tmp = temporary(final, "t1")
    with (
        pytest.raises(storage.LockLost, match="was lost while held"),
        stage_lock(lake.location, "linkage", "stalled-run"),
    ):
        write_staged(tmp, pl.DataFrame({"unique_id": ["a"]}))
        # the run stalls past its lease; another worker takes the lock object over
        lock = lake.location / "linkage" / ".linkage.lock"
        lock.fs.pipe_file(lock.path, b'{"holder": "another worker"}')
        commit(lake.location, "linkage", "stalled-run", [Replace(tmp, final)])
    keys = s3.keys(lake)
    assert (
        "linkage/.commit.json" not in keys
        and "linkage/review_queue/interval=all/data.parquet" not in keys
    )
    assert lake.read("linkage", "review_queue").is_empty()


def test_a_run_whose_lock_was_taken_over_while_applying_leaves_the_record(
    s3: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock object is taken over after the commit record was written: the stalled holder
    raises LockLost and leaves the record for the new holder, whose recovery completes it."""
    import credlink.etl.commit as unit

    lake = s3.lake()
    final = lake.partition_location("linkage", "review_queue", "all")
    tmp = temporary(final, "t2")
    lock = lake.location / "linkage" / ".linkage.lock"
    record = lake.location / "linkage" / ".commit.json"

    def taken_over_after_the_record(stage: str, label: str) -> None:
        if label == "commit record":  # the run stalls past its lease; another worker takes over
            lock.fs.pipe_file(lock.path, b'{"holder": "another worker"}')

    monkeypatch.setattr(unit, "write_point", taken_over_after_the_record)
    with (
        pytest.raises(storage.LockLost, match="was lost while held"),
        stage_lock(lake.location, "linkage", "stalled-run"),
    ):
        write_staged(tmp, pl.DataFrame({"unique_id": ["a"]}))
        commit(lake.location, "linkage", "stalled-run", [Replace(tmp, final)])
    assert record.exists(), "the stalled holder left the commit record"
    lock.fs.rm_file(lock.path)  # the other worker's lock, gone with it
    monkeypatch.undo()
    with stage_lock(lake.location, "linkage", "next-run"):
        assert recover(lake.location, "linkage") == "stalled-run"
    assert not record.exists()
    assert lake.read("linkage", "review_queue")["unique_id"].to_list() == ["a"]


def test_a_second_run_waits_for_the_lock_object_then_refuses(s3: Store) -> None:
    lake = two_day_lake(s3.lake(), second_day=False)
    with (
        stage_lock(lake.location, "linkage", "other-run"),
        pytest.raises(LinkageLockedError, match="other-run"),
    ):
        run_linkage(lake, run_id="r1", logical_date=DAY, lock_timeout=0.5)
    assert lake.read("linkage", "runs").is_empty(), "nothing was written"
    run_linkage(lake, run_id="r1", logical_date=DAY)
    assert set(lake.read("linkage", "runs")["run_id"]) == {"r1"}


@pytest.mark.slow
def test_the_linkage_and_publishing_tasks_run_on_an_object_store_lake(
    s3: Store, small_lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the DAGs' tasks run (credlink.orchestration.linkage_runtime, publish_runtime) with
    ``CREDLINK_LAKE=s3://...``, one after the other as a distributed executor would spread
    them: linkage unsharded, then a publishing run; and on a second copy both sharded (the
    plan, each shard, the merge). The counts agree, and the warehouses are equal, row for
    row."""
    from datetime import UTC, datetime

    from lakes import warehouse_tables

    from credlink.orchestration import linkage_runtime, publish_runtime
    from credlink.settings import ACCEPT, REVIEW

    results = {}
    for how in ("whole", "sharded"):
        lake = s3.upload(small_lake.root)
        monkeypatch.setenv("CREDLINK_LAKE", lake.url)
        monkeypatch.setenv("CREDLINK_DATA", str(tmp_path / how / "data"))
        warehouse = tmp_path / how / "warehouse" / "credlink.duckdb"
        monkeypatch.setenv("CREDLINK_WAREHOUSE", str(warehouse))
        run_id, asset_run = "scheduled__2025-07-01", "asset__2025-07-02"  # the same in both
        if how == "whole":
            linked = linkage_runtime.link(run_id=run_id, logical_date=DAY, accept=ACCEPT,
                                          review=REVIEW)  # fmt: skip
        else:
            for shard in linkage_runtime.plan_shards(run_id=run_id, logical_date=DAY,
                                                     accept=ACCEPT, review=REVIEW, full=False,
                                                     shards=2):  # fmt: skip
                linkage_runtime.link_shard(run_id=run_id, shard=shard)
            linked = linkage_runtime.merge_shards(run_id=run_id, logical_date=DAY, accept=ACCEPT,
                                                  review=REVIEW, full=False)  # fmt: skip
            assert linked.pop("shards") == 2 and linked.pop("linked_in_merge") == 0
        assert linkage_runtime.publish().startswith("s3://")  # the catalog, on the store
        # a run the linkage Asset triggered: no logical date, the day the lists are staged to
        after = datetime(2025, 7, 2, tzinfo=UTC)
        if how == "whole":
            published = publish_runtime.publish(run_id=asset_run, logical_date=None,
                                                run_after=after)  # fmt: skip
        else:
            for shard in publish_runtime.plan_shards(run_id=asset_run, logical_date=None,
                                                     run_after=after, shards=2):  # fmt: skip
                publish_runtime.publish_shard(run_id=asset_run, shard=shard)
            published = publish_runtime.merge_shards(run_id=asset_run, logical_date=None,
                                                     run_after=after)  # fmt: skip
            assert published.pop("published_in_merge") == 0
        assert published["restrictions"] > 0
        results[how] = (linked, published, warehouse_tables(warehouse))
        assert not _left_over(s3, lake)
        assert not [k for k in s3.keys(lake) if k.startswith("work/")], "the scratch went"
    (l1, p1, w1), (l2, p2, w2) = results["whole"], results["sharded"]
    assert l1 == l2 and p1 == p2
    assert w1.keys() == w2.keys()
    for name in w1:
        assert w1[name].equals(w2[name]), name
