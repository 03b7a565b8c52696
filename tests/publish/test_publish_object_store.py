"""Publishing on a lake on an object store (``s3://``: moto's S3 server on 127.0.0.1,
tests/objectstore.py), the warehouse a local file of the worker (``CREDLINK_WAREHOUSE``):

- two daily runs on the store publish the same warehouse, counts, history, runs and carried
  basis as on a local lake, and leave no staged object, commit record or lock object;
- sharded on the store (plan, shards and merge handing each other objects of the lake's
  scratch prefix), the same warehouse again;
- a run killed with SIGKILL at write points before, at and after its commit record (the
  hand-made scenario of tests/publish/faultcase.py) is completed or undone by its retry, which
  takes the dead run's lock object over and equals an uninterrupted run;
- the mass-lift guard's hold and an operator's approval are kept on the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from faultcase import DAY1, DAY2, Forker, install
from lakes import warehouse_tables
from objectstore import Store, moto_store

from credlink.etl import storage
from credlink.etl.lake import Lake
from credlink.publish import shards
from credlink.publish.guard import approve_mass_lift, approved_lifts
from credlink.publish.stage import read_history, run_publish
from credlink.publish.warehouse import read_tables

pytest.importorskip(
    "moto.server", reason="moto[server] is missing: `uv sync` installs it (a dev dependency)"
)
pytest.importorskip("s3fs", reason="s3fs is missing: `uv sync` installs it")

DAYS = (("run-a", date(2025, 6, 15)), ("run-b", date(2025, 6, 30)))
#: write points of faultcase's run (tests/publish/test_publish_safety.py: 7 staged files, the
#: commit record at 8, 8 operations, the record removed at 17): staged files, the record, a
#: copy, the removal of the record
KILL_POINTS = (2, 8, 12, 17)
COMMIT_POINT, MID_APPLY = 8, 12
#: what publishing keeps in the lake
KEPT = ("restriction_history", "runs", "restriction_basis")


@pytest.fixture(scope="module")
def s3() -> Iterator[Store]:
    """moto's S3 server; a worker's environment for it (storage options, a short lease), in
    this process and in the fork server's children."""
    with moto_store() as store, pytest.MonkeyPatch.context() as env:
        env.setenv(storage.STORAGE_OPTIONS_ENV, json.dumps(store.options))
        env.setenv(storage.LOCK_LEASE_ENV, "2")
        yield store


def _kept(lake: Lake) -> dict[str, pl.DataFrame]:
    """The tables publishing keeps in the lake, rows sorted; the runs without the warehouse
    file's digest (the file's bytes depend on the order DuckDB wrote rows in)."""
    out = {}
    for name in KEPT:
        frame = lake.read("publish", name).drop("warehouse_sha256", strict=False)
        out[name] = frame.sort(frame.columns) if frame.width else frame
    return out


def _same_warehouse(a: Path, b: Path) -> None:
    ta, tb = warehouse_tables(a), warehouse_tables(b)
    assert ta.keys() == tb.keys()
    for name in ta:
        assert ta[name].equals(tb[name]), name


@pytest.mark.slow
def test_publishing_on_the_store_equals_publishing_on_a_local_lake(
    s3: Store, published_lake: Lake, lake_copy: Lake, tmp_path: Path
) -> None:
    remote = s3.upload(lake_copy.root)
    here, there = tmp_path / "local" / "credlink.duckdb", tmp_path / "s3" / "credlink.duckdb"
    counts: list[dict[str, int]] = []
    first_day: dict[str, pl.DataFrame] = {}
    for run_id, day in DAYS:
        want = run_publish(lake_copy, here, run_id, day)
        got = run_publish(remote, there, run_id, day)
        assert got == want and want["restrictions"] > 0
        _same_warehouse(here, there)
        counts.append(want)
        first_day = first_day or warehouse_tables(here)
    assert counts[1]["changes"] > 0, "the second run changed the history"
    kept_local, kept_remote = _kept(lake_copy), _kept(remote)
    for name in KEPT:
        assert kept_remote[name].equals(kept_local[name]), name
    assert "publish/restriction_basis/interval=all/data.parquet" in s3.keys(remote)
    assert not [k for k in s3.keys(remote) if k.rsplit("/", 1)[-1].startswith(".")], (
        "no staged object, commit record or lock object is left"
    )
    # Sharded, on another copy of the linked lake on the store: the first day's warehouse.
    sharded = s3.upload(published_lake.root)
    run_id, day = DAYS[0]
    sizes = shards.plan(sharded, run_id=run_id, as_of=day, shards=2)
    assert len(sizes) == 2 and all(n > 0 for n in sizes)
    for i in range(2):
        shards.publish_shard(sharded, run_id=run_id, shard=i)
    assert any(k.startswith("work/publish-shards/") for k in s3.keys(sharded))
    many = tmp_path / "many" / "credlink.duckdb"
    got = shards.merge(sharded, many, run_id=run_id)
    assert got.pop("published_in_merge") == 0, "every table came from the shards"
    assert got == counts[0]
    tables = warehouse_tables(many)
    assert tables.keys() == first_day.keys()
    for name, frame in first_day.items():
        assert tables[name].equals(frame), name
    assert not [k for k in s3.keys(sharded) if k.startswith("work/")], "the scratch went"


def test_an_approval_of_a_mass_lift_is_kept_on_the_store(s3: Store) -> None:
    lake = s3.lake()
    assert approved_lifts(lake, "run-x") is None
    with pytest.raises(ValueError, match="no held publish run"):
        approve_mass_lift(lake, "run-x", by="operator")
    where = approve_mass_lift(lake, "run-x", by="operator", lifts=120)
    assert approved_lifts(lake, "run-x") == 120
    assert s3.keys(lake) == ["publish/approvals/run-x.json"]
    assert str(where).startswith("s3://")


@pytest.fixture
def handmade(monkeypatch: pytest.MonkeyPatch) -> None:
    """The readers of publish.stage patched with faultcase's scenario, undone after the test."""
    import credlink.publish.stage as stage

    for name in ("read_listings", "read_record_links", "legal_representatives",
                 "registry_subjects"):  # fmt: skip
        monkeypatch.setattr(stage, name, getattr(stage, name))
    install()


def _state(lake: Lake, warehouse: Path) -> dict[str, pl.DataFrame]:
    """What a publishing run leaves: the warehouse's tables, the lake's history, runs and
    basis (the warehouse's own checksum aside, which the row order changes)."""
    out = read_tables(warehouse, {"publish.runs": ["warehouse_sha256"]})
    out["lake:history"] = read_history(lake).sort("seq", "restriction_id")
    out["lake:runs"] = lake.read("publish", "runs").drop("warehouse_sha256").sort("seq")
    out["lake:basis"] = lake.read("publish", "restriction_basis")
    return out


@pytest.mark.slow
def test_a_kill_on_the_store_is_completed_or_undone_by_the_next_run(
    s3: Store, handmade: None, tmp_path: Path
) -> None:
    """As tests/publish/test_publish_safety.py on a local lake: after r2 is killed, the next run
    (r3) equals r1, r2, r3 uninterrupted if r2 had reached its commit record, else r1, r3; and
    a retry of r2 killed while its commit was applied equals r1, r2."""
    import shutil

    def local(name: str, *runs: tuple[str, date]) -> dict[str, pl.DataFrame]:
        lake, warehouse = Lake(tmp_path / name / "lake"), tmp_path / name / "warehouse" / "w.duckdb"
        for run_id, day in runs:
            run_publish(lake, warehouse, run_id, day)
        return _state(lake, warehouse)

    r1 = ("r1", DAY1)
    want = {"r1r2": local("r1r2", r1, ("r2", DAY2)), "r1r3": local("r1r3", r1, ("r3", DAY2)),
            "r1r2r3": local("r1r2r3", r1, ("r2", DAY2), ("r3", DAY2))}  # fmt: skip
    start = tmp_path / "r1"
    run_publish(Lake(start / "lake"), start / "warehouse" / "w.duckdb", "r1", DAY1)

    def killed_copy(k: int, then: str) -> tuple[Lake, Path]:
        here = tmp_path / f"k{k}-{then}"
        shutil.copytree(start / "warehouse", here / "warehouse", symlinks=True)
        remote, wh = s3.upload(start / "lake"), here / "warehouse" / "w.duckdb"
        code = forker.run(remote.url, wh, "r2", DAY2, crash_after=k)
        assert code == -9, f"not killed at write point {k}"
        assert any(key.endswith("publish/.publish.lock") for key in s3.keys(remote))
        return remote, wh

    def check(remote: Lake, wh: Path, expected: dict[str, pl.DataFrame], k: int) -> None:
        got = _state(remote, wh)
        assert sorted(got) == sorted(expected)
        for name in expected:
            assert got[name].equals(expected[name]), f"{name}, killed at write point {k}"
        assert not [key for key in s3.keys(remote) if key.rsplit("/", 1)[-1].startswith(".")]
        assert not list(wh.parent.rglob(".*tmp*")), f"temporaries after a kill at {k}"

    forker = Forker()  # started in the store's environment: its children reach the store
    try:
        for k in KILL_POINTS:
            remote, wh = killed_copy(k, "r3")
            run_publish(remote, wh, "r3", DAY2)  # takes the dead run's lock over after its lease
            check(remote, wh, want["r1r2r3"] if k >= COMMIT_POINT else want["r1r3"], k)
        remote, wh = killed_copy(MID_APPLY, "r2")
        run_publish(remote, wh, "r2", DAY2)  # the retry of the killed run (Airflow's)
        check(remote, wh, want["r1r2"], MID_APPLY)
    finally:
        forker.close()
