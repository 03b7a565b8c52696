"""The lake on an object store (``s3://``), against a real S3-compatible server: moto's, on a
free port of 127.0.0.1, with s3fs pointed at it (no internet needed). Partitions written and
read, a partition replaced atomically under a concurrent reader, delta tables, lock objects
(S3 conditional writes), the catalog's views over the store, one source ingested end to end
into an ``s3://`` lake giving the same rows as a local lake (and re-conformed whole), and what
needs a local folder refusing the store (linkage and publishing on the store:
tests/linkage/test_linkage_object_store.py, tests/publish/test_publish_object_store.py)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from objectstore import BUCKET, Store, moto_store

from credlink.etl import storage
from credlink.etl.lake import DELTA_DELETED, WHOLE, Lake, delta_metadata
from credlink.world.generate import WorldSummary

moto_server = pytest.importorskip(
    "moto.server", reason="moto[server] is missing: `uv sync` installs it (a dev dependency)"
)
pytest.importorskip("s3fs", reason="s3fs is missing: `uv sync` installs it")

#: the small world's last day; the interval ingested is the day before it plus all history.
END = datetime(2025, 6, 30, 16, tzinfo=UTC)


@pytest.fixture(scope="module")
def s3() -> Iterator[Store]:
    """moto's S3 server, for the module's tests (tests/objectstore.py)."""
    with moto_store() as store:
        yield store


def _frame(n: int, tag: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_record_id": [f"{tag}{i}" for i in range(n)],
            "_updated_utc": list(range(n)),
            "_interval": [tag] * n,
            "amount": [float(i) for i in range(n)],
        }
    )


def test_partitions_are_written_and_read_on_the_store(s3: Store, tmp_path: Path) -> None:
    lake, local = s3.lake(), Lake(tmp_path / "lake")
    for each in (lake, local):
        each.write("staging", "courts__SXBZXR", "k1", _frame(3, "a"))
        each.write("staging", "courts__SXBZXR", "k2", _frame(2, "b"))
        each.write("quarantine", "courts__SXBZXR", "k1", _frame(1, "q"))
        each.write_run("courts__SXBZXR", "k1", pl.DataFrame({"staged": [3]}))
    assert not lake.is_local and lake.url.startswith(f"s3://{BUCKET}/lake-")
    assert s3.keys(lake) == [
        "ops/ingest_runs/interval=k1/courts__SXBZXR.parquet",
        "quarantine/courts__SXBZXR/interval=k1/data.parquet",
        "staging/courts__SXBZXR/interval=k1/data.parquet",
        "staging/courts__SXBZXR/interval=k2/data.parquet",
    ], "the final keys only: no temporary object is ever written"
    assert lake.read("staging", "courts__SXBZXR").equals(local.read("staging", "courts__SXBZXR"))
    got = lake.read_partition("staging", "courts__SXBZXR", "k2")
    assert got is not None and got.equals(_frame(2, "b"))
    assert lake.read_partition("staging", "courts__SXBZXR", "k9") is None
    assert lake.read("staging", "nothing").is_empty()
    assert lake.read("staging", "courts__SXBZXR", columns=["amount"]).columns == ["amount"]
    assert lake.read_column("staging", "courts__SXBZXR", "_record_id").to_list() == [
        "a0", "a1", "a2", "b0", "b1",
    ]  # fmt: skip
    assert lake.datasets("staging") == ["courts__SXBZXR"] == local.datasets("staging")
    assert lake.read_runs().equals(local.read_runs())
    assert lake.has_data("quarantine", "courts__SXBZXR")
    assert not lake.has_data("quarantine", "tax__QSXX")


def test_a_replaced_partition_is_seen_old_or_new_never_in_part(s3: Store) -> None:
    """A reader polling a partition while it is replaced 30 times sees, each time, exactly the
    old content or exactly the new one: the write is one PUT of the final key."""
    lake = s3.lake()
    old, new = _frame(20_000, "old"), _frame(30_000, "new")
    lake.write("staging", "a__b", "k1", old)
    seen: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                got = lake.read_partition("staging", "a__b", "k1")
            except BaseException as exc:  # a torn object would not parse (Polars panics)
                failures.append(f"{exc.__class__.__name__}: {exc}")
                return
            if got is not None and got.equals(old):
                seen.append("old")
            elif got is not None and got.equals(new):
                seen.append("new")
            else:
                failures.append(
                    f"a partition that is neither: {None if got is None else got.shape}"
                )

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(30):
            lake.write("staging", "a__b", "k1", new if i % 2 == 0 else old)
    finally:
        stop.set()
        thread.join()
    assert not failures, failures[:3]
    assert len(seen) > 1, "the reader read while the partition was replaced"
    final = lake.read_partition("staging", "a__b", "k1")
    assert final is not None and final.equals(old)
    assert s3.keys(lake) == ["staging/a__b/interval=k1/data.parquet"]


def _delta_writes(lake: Lake) -> None:
    """A base of four keys, a delta changing one and removing another, a second delta adding
    one (each partition with its delta metadata)."""
    meta = delta_metadata("unique_id", sort=["unique_id"], overlay={"run_id": "r3"})
    base = pl.DataFrame({"unique_id": ["1", "2", "3", "4"], "band": ["a", "a", "r", "a"],
                         "run_id": ["r1"] * 4})  # fmt: skip
    d1 = pl.DataFrame({"unique_id": ["2", "3"], "band": ["v", None], "run_id": ["r2"] * 2,
                       DELTA_DELETED: [False, True]})  # fmt: skip
    d2 = pl.DataFrame({"unique_id": ["0"], "band": ["a"], "run_id": ["r3"],
                       DELTA_DELETED: [False]})  # fmt: skip
    _write_meta(lake, WHOLE, base, meta)
    _write_meta(lake, "delta-0001", d1, meta)
    _write_meta(lake, "delta-0002", d2, meta)


def _write_meta(lake: Lake, key: str, frame: pl.DataFrame, meta: dict[str, str]) -> None:
    """A partition with Parquet key-value metadata, written as the lake writes (atomically;
    linkage's delta writer stages these through its commit, which needs a local lake)."""
    import credlink.etl.lake as lake_module

    where = lake.partition_location("linkage", "record_links", key)
    lake_module._atomic_parquet(where, frame, metadata=meta)


def test_delta_tables_fold_on_the_store_as_locally(s3: Store, tmp_path: Path) -> None:
    lake, local = s3.lake(), Lake(tmp_path / "lake")
    _delta_writes(lake)
    _delta_writes(local)
    current = lake.read("linkage", "record_links")
    assert current.equals(local.read("linkage", "record_links"))
    assert current.to_dicts() == [
        {"unique_id": "0", "band": "a", "run_id": "r3"},
        {"unique_id": "1", "band": "a", "run_id": "r3"},
        {"unique_id": "2", "band": "v", "run_id": "r3"},
        {"unique_id": "4", "band": "a", "run_id": "r3"},
    ]
    assert [d.seq for d in lake.delta_files("linkage", "record_links")] == [0, 1, 2]
    assert lake.next_delta("linkage", "record_links") == 3
    # A compaction: a new base folding in delta 1 supersedes it without removing it.
    folded = local.read("linkage", "record_links").filter(pl.col("unique_id") != "0")
    meta = delta_metadata("unique_id", sort=["unique_id"], overlay={"run_id": "r3"}, through=1)
    for each in (lake, local):
        _write_meta(each, WHOLE, folded, meta)
    assert [d.seq for d in lake.delta_files("linkage", "record_links")] == [0, 2]
    assert lake.read("linkage", "record_links").equals(local.read("linkage", "record_links"))
    # The catalog's view over the store gives the same current table.
    lake.refresh_catalog()
    with lake.open_catalog() as con:
        view = con.sql(
            'SELECT unique_id, band, run_id FROM linkage."record_links" ORDER BY unique_id'
        ).pl()
    assert view.equals(lake.read("linkage", "record_links"))


def test_snapshots_keep_the_latest_and_appends_add_up(s3: Store) -> None:
    lake = s3.lake()
    assert lake.write_snapshot("quarantine", "a__b", "check", _frame(2, "x"), "20250601")
    assert not lake.write_snapshot("quarantine", "a__b", "check", _frame(5, "y"), "20250501")
    assert lake.snapshot_as_of("quarantine", "a__b", "check") == "20250601"
    got = lake.read_partition("quarantine", "a__b", "check")
    assert got is not None and got.height == 2
    threads = [
        threading.Thread(
            target=lake.append_locked, args=("linkage", "decisions", _frame(1, f"t{i}"))
        )
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    appended = lake.read("linkage", "decisions")
    assert sorted(appended["_record_id"]) == ["t00", "t10", "t20", "t30"], (
        "four concurrent appenders under the lock object: no append is lost"
    )
    assert not [k for k in s3.keys(lake) if k.endswith(".lock")], "every lock was released"


def test_a_lock_object_excludes_waits_and_is_taken_over_when_its_holder_died(
    s3: Store,
) -> None:
    lock = s3.url(f"locks-{uuid.uuid4().hex[:8]}/.stage.lock")
    order: list[str] = []
    with storage.object_lock(lock, "first"):
        with (
            pytest.raises(storage.LockTimeout, match="held by first, host"),
            storage.object_lock(lock, "second", timeout=0.5),
        ):
            pass

        def second() -> None:
            with storage.object_lock(lock, "second", timeout=30):
                order.append("second")

        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.5)
        order.append("first")
    waiter.join()
    assert order == ["first", "second"], "the second holder waited for the first"
    assert not lock.exists()
    # A holder that died (its lock object is never renewed) is taken over after the lease, as
    # the store's clock says (Last-Modified has a resolution of one second).
    lock.fs.pipe_file(lock.path, b'{"holder": "a worker that died"}')
    started = time.monotonic()
    with storage.object_lock(lock, "third", lease=1.0, timeout=30):
        took = time.monotonic() - started
    assert 0.5 < took < 10
    # A holder whose lock was taken over while it held it (it stalled) says so, loudly.
    with (
        pytest.raises(storage.LockLost, match="was lost while held"),
        storage.object_lock(lock, "fourth", lease=30.0),
    ):
        lock.fs.pipe_file(lock.path, b'{"holder": "someone who broke in"}')


def test_storage_options_and_locations_come_from_the_environment(
    s3: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from credlink import settings

    assert storage.lease_seconds({}) == storage.LOCK_LEASE_SECONDS == 60.0
    assert storage.lease_seconds({storage.LOCK_LEASE_ENV: "7.5"}) == 7.5
    for bad in ("0", "-3", "soon"):
        with pytest.raises(storage.StorageError, match="CREDLINK_LOCK_LEASE_SECONDS"):
            storage.lease_seconds({storage.LOCK_LEASE_ENV: bad})
    monkeypatch.delenv("CREDLINK_LAKE", raising=False)
    assert settings.lake_dir() == settings.data_dir() / "lake", "the default is unchanged"
    monkeypatch.setenv("CREDLINK_LAKE", str(tmp_path / "elsewhere"))
    assert settings.lake_dir() == tmp_path / "elsewhere"
    monkeypatch.setenv("CREDLINK_LAKE", f"s3://{BUCKET}/from-env")
    options = {"endpoint_url": s3.endpoint, "key": "testing", "secret": "testing"}
    monkeypatch.setenv("CREDLINK_STORAGE_OPTIONS", json.dumps(options))
    lake = Lake(settings.lake_dir())
    lake.write("staging", "a__b", "k1", _frame(1, "e"))
    assert Lake(s3.url("from-env")).read("staging", "a__b").height == 1
    monkeypatch.setenv("CREDLINK_STORAGE_OPTIONS", "[1, 2]")
    with pytest.raises(storage.StorageError, match="CREDLINK_STORAGE_OPTIONS must be a JSON"):
        settings.lake_dir()
    monkeypatch.setenv("CREDLINK_STORAGE_OPTIONS", "{endpoint")
    with pytest.raises(storage.StorageError, match="CREDLINK_STORAGE_OPTIONS is not valid JSON"):
        settings.lake_dir()
    monkeypatch.setenv("CREDLINK_WAREHOUSE", f"s3://{BUCKET}/warehouse.duckdb")
    monkeypatch.delenv("CREDLINK_STORAGE_OPTIONS")
    with pytest.raises(storage.ObjectStoreUnsupported, match="CREDLINK_WAREHOUSE=s3://"):
        settings.warehouse_path()
    assert str(settings.warehouse_location()) == f"s3://{BUCKET}/warehouse.duckdb"


def test_what_needs_a_local_folder_refuses_the_store(s3: Store) -> None:
    lake = s3.lake()
    lake.write("staging", "a__b", "k1", _frame(1, "s"))
    with pytest.raises(storage.ObjectStoreUnsupported, match=r"Lake\.root"):
        _ = lake.root
    with pytest.raises(storage.ObjectStoreUnsupported, match=r"Lake\.partition"):
        lake.partition("staging", "a__b", "k1")
    with pytest.raises(storage.ObjectStoreUnsupported, match=r"DeltaFile\.path"):
        _ = lake.delta_files("staging", "a__b")[0].path


def _contents(lake: Lake) -> dict[str, pl.DataFrame]:
    """Every dataset of the ingest layers and the run rows, in a canonical order (the Data
    Docs path, which names the lake's docs folder, left out)."""
    out = {"runs": lake.read_runs().drop("docs_index").sort("table", "interval")}
    for layer in ("staging", "quarantine", "conformed"):
        for dataset in lake.datasets(layer):
            frame = lake.read(layer, dataset)
            key = [c for c in ("_record_id", "_updated_utc", "_interval") if c in frame.columns]
            out[f"{layer}.{dataset}"] = frame.sort(key, nulls_last=True) if key else frame
    return out


@pytest.mark.slow
def test_one_source_ingested_into_s3_equals_a_local_lake(
    s3: Store, small_world: WorldSummary, tmp_path: Path
) -> None:
    from credlink.etl.ingest.run import RunContext, ingest_sources

    lake, local = s3.lake(), Lake(tmp_path / "lake")
    reports = {}
    for name, each in (("s3", lake), ("local", local)):
        ctx = RunContext(run_id="objstore", logical_date=END, docs_root=tmp_path / name / "docs",
                         quarantine_limit=1.0)  # fmt: skip
        reports[name] = ingest_sources(
            small_world.out, each, END - timedelta(days=1), END, initial=True, ctx=ctx,
            sources=["courts"],
        )  # fmt: skip
    report = reports["s3"]
    assert report == reports["local"]
    assert report.extracted > 0 and report.extracted == report.staged + report.quarantined
    runs = lake.read_runs()
    assert runs["extracted"].sum() == report.extracted
    assert runs["staged"].sum() == report.staged
    assert runs["quarantined"].sum() == report.quarantined
    assert (runs["extracted"] == runs["staged"] + runs["quarantined"]).all()
    checked = runs.filter(pl.col("source_rows").is_not_null())
    assert not checked.is_empty() and (checked["unaccounted"] == 0).all()
    got, want = _contents(lake), _contents(local)
    assert sorted(got) == sorted(want)
    assert any(k.startswith("conformed.") for k in got), "the conform step ran"
    for name, frame in want.items():
        assert got[name].equals(frame), f"{name} differs between the s3 and the local lake"
    staged = sum(got[k].height for k in got if k.startswith("staging."))
    assert staged == report.staged
    # Conforming the whole lake again (after a mapping change) gives the same conformed rows.
    from credlink.etl.conform.apply import conform_lake

    assert conform_lake(lake) == conform_lake(local) > 0
    again_conformed = _contents(lake)
    for name, frame in want.items():
        if name.startswith("conformed."):
            assert again_conformed[name].equals(frame), f"{name} differs after conform_lake"
    # The catalog, uploaded to the store, answers through the lake's filesystem.
    assert "catalog.duckdb" in s3.keys(lake)
    with lake.open_catalog() as con:
        row = con.sql("SELECT sum(staged), sum(quarantined) FROM ops.ingest_runs").fetchone()
        views = con.sql(
            "SELECT count(*) FROM duckdb_views() WHERE NOT internal AND schema_name = 'staging'"
        ).fetchone()
    assert row == (report.staged, report.quarantined)
    assert views is not None and views[0] == 2 * len(
        [k for k in got if k.startswith("staging.")]
    ), "every staged table has its view and its __current view"
    # A second run of the same interval replaces what the first wrote: the same rows again
    # (the run rows too, but for the reconciliation of the history interval, which a later
    # snapshot now skips, as for a backfill on a local lake: etl.ingest.run).
    ctx = RunContext(run_id="objstore", logical_date=END, docs_root=tmp_path / "again" / "docs",
                     quarantine_limit=1.0)  # fmt: skip
    again = ingest_sources(
        small_world.out, lake, END - timedelta(days=1), END, initial=True, ctx=ctx,
        sources=["courts"],
    )  # fmt: skip
    assert again.staged == report.staged
    counts = ["table", "interval", "extracted", "staged", "quarantined", "kept", "status"]
    after = _contents(lake)
    assert after.pop("runs").select(counts).equals(got.pop("runs").select(counts))
    for name, frame in after.items():
        differ = [c for c in frame.columns if not frame[c].equals(got[name][c])]
        assert frame.equals(got[name]), f"{name} changed on a re-run ({differ}): {frame[differ]}"


@pytest.mark.slow
def test_an_ingest_task_runs_on_an_object_store_lake(
    s3: Store, small_world: WorldSummary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ingest DAGs' task functions with ``CREDLINK_LAKE=s3://...``: the rows go to the
    store, counts add up, the Data Docs go to the worker's local data folder (GX writes HTML
    files), and the catalog is uploaded."""
    from credlink.orchestration import runtime

    data = tmp_path / "data"
    data.mkdir()
    (data / "world").symlink_to(small_world.out)
    monkeypatch.setenv("CREDLINK_DATA", str(data))
    monkeypatch.setenv("CREDLINK_LAKE", f"s3://{BUCKET}/task-lake")
    monkeypatch.setenv("CREDLINK_STORAGE_OPTIONS", json.dumps(s3.options))
    out = runtime.ingest(
        "courts", "SXBZXR", run_id="task", logical_date=END, start=END - timedelta(days=1),
        end=END, initial_load=True, quarantine_limit=1.0,
    )  # fmt: skip
    lake = Lake(s3.url("task-lake"))
    intervals = out["intervals"]
    assert intervals, "the task ingested its intervals"
    extracted = sum(i["extracted"] for i in intervals)
    assert extracted > 0
    assert extracted == sum(i["staged"] + i["quarantined"] for i in intervals)
    runs = lake.read_runs()
    assert runs["extracted"].sum() == extracted
    assert all(i["conformed"] for i in intervals), "each staged partition was conformed"
    keys = s3.keys(lake)
    assert any(k.startswith("staging/courts__SXBZXR/") for k in keys)
    assert not any(k.startswith("docs/") for k in keys), "no Data Docs on the store"
    docs = [Path(i["data_docs"]) for i in intervals if i["data_docs"]]
    assert docs and all(d.is_file() and d.is_relative_to(data / "docs") for d in docs)
    runtime.publish("courts")
    assert "catalog.duckdb" in s3.keys(lake)
    # The command line's report of the same lake names the store and how to query it.
    from typer.testing import CliRunner

    from credlink.cli import app

    shown = CliRunner().invoke(app, ["staging"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert f"s3://{BUCKET}/task-lake" in shown.output and "open_catalog()" in shown.output
    assert "courts" in shown.output
