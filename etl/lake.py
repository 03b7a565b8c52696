"""The lake: staged, quarantined and bookkeeping data as Parquet partitions, one per interval.

    <root>/staging/<source>__<table>/interval=<key>/data.parquet
    <root>/quarantine/<source>__<table>/interval=<key>/data.parquet
    <root>/conformed/<dataset>/interval=<key>/data.parquet   the staged rows in business names
                                 (etl.conform), one partition per staged partition:
                                 subjects__<source>__<table>, listings__<list>, events__<name>
    <root>/ops/ingest_runs/interval=<key>/<source>__<table>.parquet
    <root>/catalog.duckdb        views over all of it, for DuckDB users:
                                 staging."<source>__<table>" (every version staged),
                                 staging."<source>__<table>__current" (latest version),
                                 quarantine."<source>__<table>",
                                 conformed."<dataset>" (+ "<dataset>__current"), ops.ingest_runs,
                                 linkage."<table>" (record_links, review_queue, decisions)
    <root>/linkage/<table>/interval=all/data.parquet   whole tables, replaced by each run, or the
                                 base of a delta table, with its deltas beside it:
    <root>/linkage/<table>/interval=delta-<seq>/data.parquet
                                 the rows one run changed (see "Delta tables" below)

Why this layout: every ingest task writes only its own files, replaced atomically (write a
temporary file, then rename), so any number of DAG runs write in parallel without locks, and
re-running an interval replaces exactly what that interval wrote. Readers see whole files only.
The DuckDB catalog holds views, not data: it is rebuilt into a new file and renamed into place,
so a user holding the old one open in the DuckDB CLI blocks nothing.

Where the lake lives (:mod:`credlink.etl.storage`, docs/storage.md): ``<root>`` is a local
folder (a :class:`~pathlib.Path`, the default: every file as above) or an object-store URL
(``s3://bucket/prefix``: the same keys, read and written through fsspec), so that workers on
several machines share one lake. What "atomically" means there: locally, a temporary file
renamed over the partition; on an object store, which has no rename, the final key written in
one PUT (readers see the old object or the new one, never a part). The locks below (snapshot,
append, catalog) are ``fcntl`` locks on a local lake and lock objects taken with S3
conditional writes on an object store. The catalog of an object-store lake is built locally
and uploaded whole; its views read the lake through the fsspec filesystem registered in
DuckDB (:meth:`Lake.open_catalog`), since DuckDB's httpfs extension is not available here.
:attr:`Lake.root` is the local folder and raises
:class:`~credlink.etl.storage.ObjectStoreUnsupported` on an object store: code that needs a
folder (publishing, Data Docs) says so instead of half-working.

Delta tables (the big linkage tables: a daily run changes a few rows of a million): a base
partition ``interval=all`` and delta partitions ``interval=delta-<seq>`` (zero-padded, one per
run that changed rows), each holding whole rows that replace the rows of the same key, and
tombstones (``_delta_deleted`` true: the key left the table). Every partition carries its
:data:`DELTA_META` (Parquet key-value metadata, JSON): the key column, the sort order, the
columns whose value is the last writer's for every row (``overlay``: e.g. the run that wrote
the table), and in a base the last delta it folds in (``through``; a delta at or below it is
superseded, so a compaction that replaces the base and then removes its deltas is right at
every step). :meth:`Lake.read` (and the catalog's view) returns the current table: per key the
row of the latest partition, tombstones dropped, overlay applied, rows in the sort order:
exactly the table a writer of whole tables would have left.

Example:
    >>> lake = Lake(Path("data/lake"))                                     # doctest: +SKIP
    >>> lake.write("staging", "courts__SXBZXR", interval.key, frame)       # doctest: +SKIP
    >>> lake.refresh_catalog()                                             # doctest: +SKIP
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from credlink.etl import storage
from credlink.etl.storage import Location, ObjectStoreUnsupported, object_lock, put_object

if TYPE_CHECKING:
    import pyarrow as pa
    from polars._typing import PolarsDataType

LAYERS = ("staging", "quarantine", "conformed", "linkage")
#: The layers whose tables keep every version of a source record (catalog: a `__current` view).
VERSIONED = ("staging", "conformed")
#: Which version of a record is the latest: the last update, then the last interval (the
#: catalog's `__current` views and :func:`current_rows` both order by it).
VERSION_ORDER = ("_updated_utc", "_interval")
#: The partition key of a table that is replaced whole, not by interval (e.g. linkage tables).
WHOLE = "all"
OPS_RUNS = "ops/ingest_runs"
#: Parquet key-value metadata naming the moment a snapshot partition describes.
SNAPSHOT_AS_OF = "credlink.as_of"
#: A temporary file of an interrupted write is removed by the next write beside it once its
#: writer is gone (same host) or it is older than this (seconds).
STALE_TMP_SECONDS = 3600.0
#: Delta tables (module doc): the partition name prefix of a delta, the tombstone column and
#: the Parquet key-value metadata describing the table.
DELTA_PREFIX = "delta-"
DELTA_DELETED = "_delta_deleted"
DELTA_META = "credlink.delta"


@dataclass(frozen=True)
class DeltaFile:
    """One partition of a delta table: its sequence number (0: the base) and metadata."""

    location: Location
    seq: int
    meta: dict[str, object]

    @property
    def path(self) -> Path:
        """The partition's local file (:class:`ObjectStoreUnsupported` on an object store)."""
        return _local(self.location, "DeltaFile.path")


def delta_metadata(
    key: str,
    *,
    sort: list[str] | None = None,
    overlay: dict[str, str] | None = None,
    through: int = 0,
) -> dict[str, str]:
    """The Parquet key-value metadata of a delta table's partition (module doc); `overlay`
    values are text (ISO 8601 for datetimes)."""
    doc = {"key": key, "sort": sort or [], "overlay": overlay or {}, "through": through}
    return {DELTA_META: json.dumps(doc, sort_keys=True)}


class CatalogError(RuntimeError):
    """The rebuilt catalog is not complete (e.g. a full disk); the previous one stays."""


def _local(loc: Location, what: str) -> Path:
    """`loc` as a local path, or :class:`ObjectStoreUnsupported` naming `what` asked for it."""
    if isinstance(loc, Path):
        return loc
    raise ObjectStoreUnsupported(
        f"{what}: the lake is on an object store ({loc}), which has no local folder; the code "
        "asking for it works on local lakes only (docs/storage.md says which stages run on "
        "an object-store lake)"
    )


@dataclass(frozen=True, init=False)
class Lake:
    """The lake at `location`: a local folder (a :class:`~pathlib.Path`, the default), or a
    URL of an object store (``s3://bucket/prefix``, a text or a :class:`upath.UPath`; see
    :mod:`credlink.etl.storage`).

    Example:
        >>> Lake(Path("/srv/lake")).root
        PosixPath('/srv/lake')
        >>> Lake("s3://credlink/prod").is_local   # doctest: +SKIP
        False
    """

    location: Location

    def __init__(self, location: Location | str) -> None:
        object.__setattr__(self, "location", storage.location(location))

    @property
    def is_local(self) -> bool:
        """Whether the lake is a local folder (not on an object store)."""
        return isinstance(self.location, Path)

    @property
    def root(self) -> Path:
        """The lake's local folder. On an object store there is none: code that needs the
        lake as a folder raises :class:`~credlink.etl.storage.ObjectStoreUnsupported`
        (clearly, before writing anything) instead of half-working; use :attr:`location`."""
        return _local(self.location, "Lake.root")

    @property
    def url(self) -> str:
        """The lake's location as text: a folder, or ``s3://bucket/prefix``."""
        return str(self.location)

    def partition_location(self, layer: str, dataset: str, interval_key: str) -> Location:
        """The file (or object) holding `dataset`'s rows of one interval in `layer`."""
        return self.location / layer / dataset / f"interval={interval_key}" / "data.parquet"

    def partition(self, layer: str, dataset: str, interval_key: str) -> Path:
        """The local file holding `dataset`'s rows of one interval in `layer` (a local lake's;
        :meth:`partition_location` for any lake)."""
        return _local(self.partition_location(layer, dataset, interval_key), "Lake.partition")

    def partition_files(self, layer: str, dataset: str) -> list[Location]:
        """Every partition file of a dataset, in the order of their interval keys."""
        return _glob(self.location / layer / dataset, "interval=*/data.parquet")

    def partition_stamps(self, layer: str, dataset: str) -> list[tuple[str, int, int]]:
        """(interval key, stamp, size in bytes) of every partition file of a dataset, in key
        order: what changes when a partition is written again. Locally the stamp is the file's
        modification time in nanoseconds. On an object store it is the object's
        ``Last-Modified`` (whole seconds) in nanoseconds, plus, in the sub-second digits, a
        hash of its ETag below 10⁹: an object rewritten within the same second, with the same
        size but other bytes, has another stamp."""
        base = self.location / layer / dataset
        out = []
        if isinstance(base, Path):
            for path in sorted(base.glob("interval=*/data.parquet")):
                st = path.stat()
                out.append((path.parent.name.removeprefix("interval="), st.st_mtime_ns,
                            st.st_size))  # fmt: skip
            return out
        found: dict[str, dict[str, Any]] = base.fs.find(base.path, detail=True)
        for key, info in found.items():
            folder, _, name = key.rpartition("/")
            interval = folder.rpartition("/")[2]
            if name != "data.parquet" or not interval.startswith("interval="):
                continue
            etag = str(info.get("ETag", "")).strip('"')
            seconds = int(info["LastModified"].timestamp())
            digest = int.from_bytes(hashlib.sha256(etag.encode()).digest()[:8]) % 1_000_000_000
            out.append((interval.removeprefix("interval="), seconds * 1_000_000_000 + digest,
                        int(info["size"])))  # fmt: skip
        return sorted(out)

    def has_data(self, layer: str, dataset: str) -> bool:
        """Whether the dataset has at least one partition."""
        return any((self.location / layer / dataset).glob("interval=*/data.parquet"))

    def write(self, layer: str, dataset: str, interval_key: str, frame: pl.DataFrame) -> Location:
        """Replace `dataset`'s partition for the interval with `frame` (atomically)."""
        return _atomic_parquet(self.partition_location(layer, dataset, interval_key), frame)

    def read_partition(self, layer: str, dataset: str, interval_key: str) -> pl.DataFrame | None:
        """One partition of a dataset, or None when it was never written."""
        path = self.partition_location(layer, dataset, interval_key)
        return _read_parquet(path) if path.is_file() else None

    def write_snapshot(
        self, layer: str, dataset: str, name: str, frame: pl.DataFrame, as_of: str
    ) -> bool:
        """Replace the partition `name` of `dataset` with `frame`, a snapshot of the state as of
        `as_of` (a sortable text, e.g. an interval end), unless the partition already holds a
        later snapshot: a backfill of an old interval never replaces today's view. Returns
        whether it was written."""
        path = self.partition_location(layer, dataset, name)
        base = self.location / layer / dataset
        with self.lock(base / f".{name}.lock", f"snapshot {layer}.{dataset} {name}"):
            stored = self.snapshot_as_of(layer, dataset, name)
            if stored is not None and stored > as_of:
                return False
            _atomic_parquet(path, frame, metadata={SNAPSHOT_AS_OF: as_of})
        return True

    def snapshot_as_of(self, layer: str, dataset: str, name: str) -> str | None:
        """The `as_of` of a snapshot partition (None when there is none)."""
        path = self.partition_location(layer, dataset, name)
        if not path.is_file():
            return None
        meta = parquet_metadata(path)
        value = meta.get(SNAPSHOT_AS_OF.encode())
        return value.decode() if value is not None else None

    def write_whole(self, layer: str, dataset: str, frame: pl.DataFrame) -> Location:
        """Replace the whole of `dataset` (a table not partitioned by interval), atomically."""
        return self.write(layer, dataset, WHOLE, frame)

    def append_locked(self, layer: str, dataset: str, frame: pl.DataFrame) -> Location:
        """Append `frame` to a whole table under a lock (read, concatenate, replace):
        concurrent appenders wait for each other and readers see whole files only."""
        base = self.location / layer / dataset
        with self.lock(base / ".append.lock", f"append to {layer}.{dataset}"):
            path = self.partition_location(layer, dataset, WHOLE)
            old = _read_parquet(path) if path.exists() else None
            new = frame if old is None else pl.concat([old, frame], how="diagonal_relaxed")
            return _atomic_parquet(path, new)

    def lock(self, lock_file: Location, holder: str = "") -> AbstractContextManager[object]:
        """An exclusive lock for writers of the same files: a local ``fcntl`` lock
        (:func:`locked`) on a local lake, a lock object (:func:`~credlink.etl.storage.
        object_lock`, S3 conditional writes) on an object store."""
        if isinstance(lock_file, Path):
            return locked(lock_file)
        return object_lock(lock_file, holder or f"pid {os.getpid()}")

    def write_run(self, dataset: str, interval_key: str, frame: pl.DataFrame) -> Location:
        """Replace the bookkeeping row(s) of one table's run over an interval."""
        path = self.location / OPS_RUNS / f"interval={interval_key}" / f"{dataset}.parquet"
        return _atomic_parquet(path, frame)

    def read(self, layer: str, dataset: str, columns: list[str] | None = None) -> pl.DataFrame:
        """All partitions of a dataset (empty frame when there are none); of a delta table,
        the current table (module doc). Only `columns` (those present) when given."""
        files = self.partition_files(layer, dataset)
        if not files:
            return pl.DataFrame()
        if any(f.parent.name.startswith(f"interval={DELTA_PREFIX}") for f in files):
            return _merge_delta(self.delta_files(layer, dataset), columns)
        if columns is not None:
            frames = [
                _read_parquet(f, columns=[c for c in _parquet_schema(f).names if c in columns])
                for f in files
            ]
            return pl.concat(frames, how="diagonal_relaxed")
        return pl.concat([_read_parquet(f) for f in files], how="diagonal_relaxed")

    def delta_files(self, layer: str, dataset: str) -> list[DeltaFile]:
        """The partitions of a delta table that are in force: the base (if any) and the
        deltas after the last one it folds in, in order."""
        out: list[DeltaFile] = []
        for f in self.partition_files(layer, dataset):
            name = f.parent.name.removeprefix("interval=")
            raw = parquet_metadata(f).get(DELTA_META.encode())
            meta = json.loads(raw) if raw else {}
            seq = int(name.removeprefix(DELTA_PREFIX)) if name.startswith(DELTA_PREFIX) else 0
            out.append(DeltaFile(f, seq, meta))
        through = max((int(str(d.meta.get("through", 0))) for d in out if d.seq == 0), default=0)
        return sorted((d for d in out if d.seq == 0 or d.seq > through), key=lambda d: d.seq)

    def next_delta(self, layer: str, dataset: str) -> int:
        """The sequence number of the next delta of a table (one more than any in force)."""
        files = self.delta_files(layer, dataset)
        through = max((int(str(d.meta.get("through", 0))) for d in files), default=0)
        return max([through, *(d.seq for d in files)]) + 1

    def scan(self, files: Sequence[Location], schema: Mapping[str, PolarsDataType]) -> pl.LazyFrame:
        """A lazy scan of `files` (partitions of this lake) with exactly the columns of
        `schema`: those a file lacks are nulls, the others are not read. On an object store
        the files are fetched first (concurrently, through fsspec)."""
        sources: list[Path] | list[bytes]
        if all(isinstance(f, Path) for f in files):
            sources = [f for f in files if isinstance(f, Path)]
        else:
            sources = _fetch(files)
        return pl.scan_parquet(
            sources,
            schema=dict(schema),
            missing_columns="insert",
            extra_columns="ignore",
            hive_partitioning=False,
        )

    def read_column(self, layer: str, dataset: str, column: str) -> pl.Series:
        """One text column (e.g. `_record_id`) of every partition of a dataset, read in one scan
        (empty when there is none); partitions without the column give nulls."""
        files = self.partition_files(layer, dataset)
        if not files:
            return pl.Series(column, [], dtype=pl.String)
        return self.scan(files, {column: pl.String}).collect().to_series()

    def read_runs(self) -> pl.DataFrame:
        """Every table run's bookkeeping row."""
        files = _glob(self.location / OPS_RUNS, "interval=*/*.parquet")
        if not files:
            return pl.DataFrame()
        return pl.concat([_read_parquet(f) for f in files], how="diagonal_relaxed")

    def datasets(self, layer: str) -> list[str]:
        """Datasets present in a layer."""
        base = self.location / layer
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.exists() else []

    @property
    def catalog_location(self) -> Location:
        """Where the catalog is: ``<lake>/catalog.duckdb`` (a file, or an object)."""
        return self.location / "catalog.duckdb"

    @property
    def catalog_path(self) -> Path:
        """The catalog's local file (a local lake's; :meth:`open_catalog` for any lake)."""
        return _local(self.catalog_location, "Lake.catalog_path")

    def refresh_catalog(self) -> Location:
        """Rebuild the DuckDB catalog of views and rename it into place (on an object store:
        build it in a local temporary folder, check it, upload it in one PUT)."""
        if not isinstance(self.location, Path):
            return self._refresh_remote_catalog()
        root = self.location
        root.mkdir(parents=True, exist_ok=True)
        with locked(root / ".catalog.lock"):
            for stale in root.glob(".catalog-*.duckdb*"):
                stale.unlink(missing_ok=True)  # left by an interrupted refresh (we hold the lock)
            tmp = root / f".catalog-{uuid.uuid4().hex}.duckdb"
            try:
                self._build_catalog(tmp)
                tmp.replace(self.catalog_path)
            finally:
                tmp.unlink(missing_ok=True)
                Path(f"{tmp}.wal").unlink(missing_ok=True)
        return self.catalog_path

    def _refresh_remote_catalog(self) -> Location:
        import tempfile

        target = self.catalog_location
        with (
            self.lock(self.location / ".catalog.lock", "catalog refresh"),
            tempfile.TemporaryDirectory(prefix="credlink-catalog-") as folder,
        ):
            tmp = Path(folder) / "catalog.duckdb"
            self._build_catalog(tmp)
            put_object(target, tmp.read_bytes())  # type: ignore[arg-type]
        return target

    def _connect(self, path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection to a catalog file that can read this lake's files: on an object
        store, with the lake's fsspec filesystem registered (DuckDB has no httpfs here)."""
        con = duckdb.connect(str(path), read_only=read_only)
        if not isinstance(self.location, Path):
            con.execute("SET autoinstall_known_extensions = false")
            con.register_filesystem(self.location.fs)
        return con

    def _build_catalog(self, tmp: Path) -> None:
        statements = self.catalog_sql()
        expected = sum(s.startswith("CREATE OR REPLACE VIEW") for s in statements)
        where = self.catalog_location
        try:
            con = self._connect(tmp)
            try:
                for sql in statements:
                    con.execute(sql)
                # Everything into the main file before the rename: no WAL may be left behind.
                con.execute("CHECKPOINT")
            finally:
                con.close()
            con = self._connect(tmp, read_only=True)
            try:
                row = con.sql("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()
            finally:
                con.close()
            views = int(row[0]) if row else 0
            if views != expected:
                raise CatalogError(
                    f"catalog {where}: the rebuilt catalog has {views} views, "
                    f"expected {expected}; the previous catalog is kept"
                )
            if Path(f"{tmp}.wal").exists():
                raise CatalogError(f"catalog {where}: a WAL was left after checkpoint")
        except duckdb.Error as exc:
            raise CatalogError(
                f"catalog {where}: cannot rebuild it ({exc.__class__.__name__}: "
                f"{exc}); the previous catalog is kept"
            ) from exc

    @contextmanager
    def open_catalog(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The catalog, open read-only, for a query from Python: the local file itself, or
        (object store) a downloaded copy with the lake's filesystem registered, so that its
        views read the lake's objects.

        Example:
            >>> with lake.open_catalog() as con:                              # doctest: +SKIP
            ...     con.sql("SELECT count(*) FROM ops.ingest_runs").fetchone()
        """
        if isinstance(self.location, Path):
            con = self._connect(self.catalog_path, read_only=True)
            try:
                yield con
            finally:
                con.close()
            return
        import tempfile

        with tempfile.TemporaryDirectory(prefix="credlink-catalog-") as folder:
            copy = Path(folder) / "catalog.duckdb"
            copy.write_bytes(self.catalog_location.read_bytes())
            con = self._connect(copy, read_only=True)
            try:
                yield con
            finally:
                con.close()

    def catalog_sql(self) -> list[str]:
        """The statements that define the catalog's views (plan apart from execution)."""
        stmts = ["SET autoinstall_known_extensions = false"]
        for layer in LAYERS:
            stmts.append(f"CREATE SCHEMA IF NOT EXISTS {layer}")
            for dataset in self.datasets(layer):
                folder = self.location / layer / dataset
                glob = _sql_text(str(folder / "interval=*" / "data.parquet"))
                view = _sql_ident(dataset)
                current = _sql_ident(f"{dataset}__current")
                if not any(folder.glob("interval=*/data.parquet")):
                    continue
                pattern = f"interval={DELTA_PREFIX}*/data.parquet"
                if layer == "linkage" and any(folder.glob(pattern)):
                    latest = self.delta_files(layer, dataset)[-1]
                    stmts.append(_delta_view_sql(layer, dataset, glob, latest))
                    continue
                stmts.append(
                    f"CREATE OR REPLACE VIEW {layer}.{view} AS SELECT * FROM "
                    f"read_parquet({glob}, union_by_name = true)"
                )
                if layer in VERSIONED:
                    # The latest staged version of each source record.
                    stmts.append(
                        f"CREATE OR REPLACE VIEW {layer}.{current} AS "
                        "SELECT * EXCLUDE (_version) FROM (SELECT *, row_number() OVER ("
                        "PARTITION BY _record_id ORDER BY "
                        + ", ".join(f"{c} DESC" for c in VERSION_ORDER)
                        + f") AS _version FROM {layer}.{view}) WHERE _version = 1"
                    )
        runs = _sql_text(str(self.location / OPS_RUNS / "interval=*" / "*.parquet"))
        stmts.append("CREATE SCHEMA IF NOT EXISTS ops")
        if any((self.location / OPS_RUNS).glob("interval=*/*.parquet")):
            stmts.append(
                "CREATE OR REPLACE VIEW ops.ingest_runs AS SELECT * FROM "
                f"read_parquet({runs}, union_by_name = true)"
            )
        return stmts


def current_rows(staged: pl.DataFrame) -> pl.DataFrame:
    """The latest version of each source record in a versioned table (staged or conformed; by
    :data:`VERSION_ORDER`), in the order staged: what the catalog's ``<table>__current`` views
    show, in Polars.

    Example: two versions of `_record_id` '7' (updated 2024-01-01 and 2025-03-01) -> the
    2025 one only. Records staged once (nearly all) pass through without sorting.
    """
    if staged.is_empty():
        return staged
    dup = staged.get_column("_record_id").is_duplicated()
    if not dup.any():
        return staged
    order = [c for c in VERSION_ORDER if c in staged.columns]
    latest = (
        staged.select("_record_id", *order)
        .with_row_index("_row")
        .filter(dup)
        .sort(order, nulls_last=False, maintain_order=True)
        .unique("_record_id", keep="last")
        .get_column("_row")
    )
    return staged.filter(~dup | pl.int_range(pl.len(), dtype=pl.UInt32).is_in(latest.implode()))


def _texts(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _merge_delta(files: list[DeltaFile], columns: list[str] | None = None) -> pl.DataFrame:
    """The current table of a delta table's partitions in force (module doc); only `columns`
    (all when None)."""
    if not files:
        return pl.DataFrame()
    last = files[-1].meta
    key = str(last.get("key") or "unique_id")

    def read(d: DeltaFile) -> pl.DataFrame:
        wanted = None
        if columns is not None:
            names = _parquet_schema(d.location).names
            wanted = [c for c in names if c in {*columns, key, DELTA_DELETED}]
        return _read_parquet(d.location, columns=wanted)

    frames = [read(d) for d in files]
    base_columns = [c for c in frames[0].columns if c != DELTA_DELETED]
    has_base = files[0].seq == 0
    if has_base and len(frames) == 1:  # the deltas beside it are folded in (a compaction)
        current = frames[0]
    else:
        deltas = [f.with_columns(pl.lit(d.seq).alias("_delta_seq"))
                  for f, d in zip(frames, files, strict=True) if d.seq > 0]  # fmt: skip
        changed = pl.concat(deltas, how="diagonal_relaxed")
        if DELTA_DELETED not in changed.columns:
            changed = changed.with_columns(pl.lit(False).alias(DELTA_DELETED))
        # the latest row of each key the deltas name (few), then the base's other rows (many)
        latest = changed.filter(pl.col("_delta_seq") == pl.col("_delta_seq").max().over(key))
        live = latest.filter(~pl.col(DELTA_DELETED).fill_null(False))
        extra = [c for c in live.columns if c not in base_columns
                 and c not in ("_delta_seq", DELTA_DELETED)]  # fmt: skip
        live = live.select(
            *[pl.col(c) if c in live.columns else pl.lit(None).alias(c) for c in base_columns],
            *extra,
        )
        if has_base:
            kept = frames[0].join(latest.select(key), on=key, how="anti", maintain_order="left")
            current = pl.concat([kept, live], how="diagonal_relaxed")
        else:
            current = live
    if columns is not None:
        current = current.select([c for c in current.columns if c in columns])
    overlay = last.get("overlay") or {}
    assert isinstance(overlay, dict)
    for column, value in overlay.items():
        if column in current.columns:
            dtype = current.schema[column]
            lit = pl.Series(column, [value], dtype=pl.String)
            if isinstance(dtype, pl.Datetime):
                lit = lit.str.to_datetime(time_unit=dtype.time_unit, time_zone=dtype.time_zone)
            current = current.with_columns(pl.lit(lit.cast(dtype)[0], dtype).alias(column))
    order = [c for c in _texts(last.get("sort")) if c in current.columns]
    return current.sort(order, maintain_order=True) if order else current


def _delta_view_sql(layer: str, dataset: str, glob: str, latest: DeltaFile) -> str:
    """The catalog view of a delta table: the current table, as :func:`_merge_delta` reads it
    (the overlay values from the metadata of the latest partition, read when queried)."""
    import pyarrow as pa

    meta = latest.meta
    key = _sql_ident(str(meta.get("key") or "unique_id"))
    seq = (
        "coalesce(TRY_CAST(regexp_extract(filename, "
        f"'interval={DELTA_PREFIX}([0-9]+)/data[.]parquet$', 1) AS BIGINT), 0)"
    )
    kv = f"parquet_kv_metadata({glob})"
    through = (
        f"(SELECT coalesce(max(TRY_CAST(json_extract_string(decode(value), '$.through') AS "
        f"BIGINT)), 0) FROM {kv} WHERE decode(key) = '{DELTA_META}' "
        "AND file_name LIKE '%/interval=all/data.parquet')"
    )
    newest = (
        f"(SELECT decode(value) FROM {kv} WHERE decode(key) = '{DELTA_META}' "
        "ORDER BY file_name DESC LIMIT 1)"
    )
    schema = _parquet_schema(latest.location)
    overlay = meta.get("overlay") or {}
    assert isinstance(overlay, dict)
    replaced = []
    for c in overlay:
        if c not in schema.names:
            continue
        t = schema.field(c).type
        sql_type = (
            ("TIMESTAMPTZ" if t.tz else "TIMESTAMP") if pa.types.is_timestamp(t) else "VARCHAR"
        )
        value = f"json_extract_string({newest}, {_sql_text('$.overlay.' + c)})"
        replaced.append(
            f"coalesce(CAST({value} AS {sql_type}), {_sql_ident(c)}) AS {_sql_ident(c)}"
        )
    # DuckDB reads the partition folder as a column, as in the views of whole tables: 'all'
    replaced.append(f"{_sql_text(WHOLE)} AS interval")
    sort = [_sql_ident(c) for c in _texts(meta.get("sort"))]
    return (
        f"CREATE OR REPLACE VIEW {layer}.{_sql_ident(dataset)} AS "
        f"WITH f AS (SELECT *, {seq} AS _delta_seq FROM read_parquet({glob}, "
        "union_by_name = true, filename = true)), "
        f"live AS (SELECT * FROM f WHERE _delta_seq = 0 OR _delta_seq > {through}), "
        "cur AS (SELECT * FROM live QUALIFY _delta_seq = max(_delta_seq) OVER "
        f"(PARTITION BY {key})) "
        f"SELECT * EXCLUDE (filename, _delta_seq, {DELTA_DELETED})"
        f" REPLACE ({', '.join(replaced)}) "
        f"FROM cur WHERE NOT coalesce({DELTA_DELETED}, false)"
        f"{' ORDER BY ' + ', '.join(sort) if sort else ''}"
    )


def _sql_text(value: str) -> str:
    """A SQL string literal (a folder named o'brien stays one literal)."""
    return "'" + value.replace("'", "''") + "'"


def _sql_ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _writer_gone(tmp: Path) -> bool:
    """Whether the process that wrote a temporary file (its pid is in the name) is gone, or the
    file is old enough to be abandoned whoever wrote it."""
    try:
        age = time.time() - tmp.stat().st_mtime
    except FileNotFoundError:
        return False
    if age > STALE_TMP_SECONDS:
        return True
    parts = tmp.name.split(".")
    pid = int(parts[-3]) if len(parts) >= 4 and parts[-3].isdigit() else None
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def clean_stray_tmp(folder: Path) -> list[Path]:
    """Remove the temporary files of interrupted writes in `folder` (see `_writer_gone`)."""
    removed = []
    for tmp in folder.glob(".*.tmp") if folder.is_dir() else ():
        if _writer_gone(tmp):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _read_parquet(path: Location, columns: list[str] | None = None) -> pl.DataFrame:
    """A partition file read whole (only `columns` when given), from a folder or a store."""
    if isinstance(path, Path):
        return pl.read_parquet(path, columns=columns)
    return pl.read_parquet(_get(path), columns=columns)


def parquet_metadata(path: Location) -> dict[bytes, bytes]:
    """A Parquet file's key-value metadata (locally its footer only is read; an object is
    read in one GET)."""
    import pyarrow.parquet as pq

    if isinstance(path, Path):
        return pq.read_metadata(path).metadata or {}
    return pq.read_metadata(io.BytesIO(_get(path))).metadata or {}


def write_staged(
    path: Location, frame: pl.DataFrame, metadata: dict[str, str] | None = None
) -> None:
    """`frame` written whole as the Parquet file `path`, under that name (a file a commit stages
    under its temporary name, :mod:`credlink.etl.commit`): a local file (its folder created),
    or one object written in one PUT."""
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(path, metadata=metadata)
        return
    buffer = io.BytesIO()
    frame.write_parquet(buffer, metadata=metadata)
    put_object(path, buffer.getvalue())


def read_parquet_file(path: Location, columns: list[str] | None = None) -> pl.DataFrame:
    """A Parquet file read whole (only `columns` when given): a local file, or an object in
    one GET."""
    return _read_parquet(path, columns)


def parquet_rows(path: Location) -> int:
    """The number of rows of a Parquet file (from its footer; an object is read in one GET)."""
    import pyarrow.parquet as pq

    source = path if isinstance(path, Path) else io.BytesIO(_get(path))
    return int(pq.read_metadata(source).num_rows)


def _parquet_schema(path: Location) -> pa.Schema:
    """A Parquet file's schema (its footer only is read)."""
    import pyarrow.parquet as pq

    if isinstance(path, Path):
        return pq.read_schema(path)
    return pq.read_schema(io.BytesIO(_get(path)))


def _get(path: Location) -> bytes:
    """An object's bytes in one GET: one version of it, whole, even while a writer replaces
    it (reading it in ranges could mix or, as s3fs guards, fail on two versions)."""
    assert not isinstance(path, Path)
    data: bytes = path.fs.cat_file(path.path)
    return data


def _glob(base: Location, pattern: str) -> list[Location]:
    """The files under `base` matching `pattern`, in path order (by parts, as pathlib sorts)."""
    if isinstance(base, Path):
        return list(sorted(base.glob(pattern)))
    return sorted(base.glob(pattern), key=lambda p: tuple(p.parts))


def _fetch(files: Sequence[Location]) -> list[bytes]:
    """The bytes of `files` on an object store, fetched concurrently (one request each)."""
    remote = [f for f in files if not isinstance(f, Path)]
    if not remote:
        return []
    fs = remote[0].fs
    paths = [f.path for f in remote]
    got: Any = fs.cat(paths)
    return [got[p] for p in paths] if isinstance(got, dict) else [got]


def _atomic_parquet(
    path: Location, frame: pl.DataFrame, metadata: dict[str, str] | None = None
) -> Location:
    if not isinstance(path, Path):
        # An object store has no rename: the final key, written in one PUT (storage module).
        buffer = io.BytesIO()
        frame.write_parquet(buffer, metadata=metadata)
        put_object(path, buffer.getvalue())
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stray_tmp(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        frame.write_parquet(tmp, metadata=metadata)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive `fcntl` lock on `lock_file` (created, with its folder, when missing)
    for the block: writers of the same file in other processes wait."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
