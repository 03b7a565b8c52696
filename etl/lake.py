"""The lake: staged, quarantined and bookkeeping data as Parquet partitions, one per interval.

    <root>/staging/<source>__<table>/interval=<key>/data.parquet
    <root>/quarantine/<source>__<table>/interval=<key>/data.parquet
    <root>/ops/ingest_runs/interval=<key>/<source>__<table>.parquet
    <root>/catalog.duckdb        views over all of it, for DuckDB users:
                                 staging."<source>__<table>" (every version staged),
                                 staging."<source>__<table>__current" (latest version),
                                 quarantine."<source>__<table>", ops.ingest_runs,
                                 linkage."<table>" (record_links, review_queue, decisions)
    <root>/linkage/<table>/interval=all/data.parquet   whole tables, replaced by each run

Why this layout: every ingest task writes only its own files, replaced atomically (write a
temporary file, then rename), so any number of DAG runs write in parallel without locks, and
re-running an interval replaces exactly what that interval wrote. Readers see whole files only.
The DuckDB catalog holds views, not data: it is rebuilt into a new file and renamed into place,
so a user holding the old one open in the DuckDB CLI blocks nothing.

Example:
    >>> lake = Lake(Path("data/lake"))                                     # doctest: +SKIP
    >>> lake.write("staging", "courts__SXBZXR", interval.key, frame)       # doctest: +SKIP
    >>> lake.refresh_catalog()                                             # doctest: +SKIP
"""

from __future__ import annotations

import fcntl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

LAYERS = ("staging", "quarantine", "linkage")
#: The partition key of a table that is replaced whole, not by interval (e.g. linkage tables).
WHOLE = "all"
OPS_RUNS = "ops/ingest_runs"


@dataclass(frozen=True)
class Lake:
    """The lake under `root`."""

    root: Path

    def partition(self, layer: str, dataset: str, interval_key: str) -> Path:
        """The file holding `dataset`'s rows of one interval in `layer`."""
        return self.root / layer / dataset / f"interval={interval_key}" / "data.parquet"

    def write(self, layer: str, dataset: str, interval_key: str, frame: pl.DataFrame) -> Path:
        """Replace `dataset`'s partition for the interval with `frame` (atomically)."""
        return _atomic_parquet(self.partition(layer, dataset, interval_key), frame)

    def write_whole(self, layer: str, dataset: str, frame: pl.DataFrame) -> Path:
        """Replace the whole of `dataset` (a table not partitioned by interval), atomically."""
        return self.write(layer, dataset, WHOLE, frame)

    def append_locked(self, layer: str, dataset: str, frame: pl.DataFrame) -> Path:
        """Append `frame` to a whole table under a file lock (read, concatenate, replace):
        concurrent appenders wait for each other and readers see whole files only."""
        base = self.root / layer / dataset
        base.mkdir(parents=True, exist_ok=True)
        with _locked(base / ".append.lock"):
            path = self.partition(layer, dataset, WHOLE)
            old = pl.read_parquet(path) if path.exists() else None
            new = frame if old is None else pl.concat([old, frame], how="diagonal_relaxed")
            return _atomic_parquet(path, new)

    def write_run(self, dataset: str, interval_key: str, frame: pl.DataFrame) -> Path:
        """Replace the bookkeeping row(s) of one table's run over an interval."""
        path = self.root / OPS_RUNS / f"interval={interval_key}" / f"{dataset}.parquet"
        return _atomic_parquet(path, frame)

    def read(self, layer: str, dataset: str) -> pl.DataFrame:
        """All partitions of a dataset (empty frame when there are none)."""
        files = sorted((self.root / layer / dataset).glob("interval=*/data.parquet"))
        if not files:
            return pl.DataFrame()
        return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")

    def read_runs(self) -> pl.DataFrame:
        """Every table run's bookkeeping row."""
        files = sorted((self.root / OPS_RUNS).glob("interval=*/*.parquet"))
        if not files:
            return pl.DataFrame()
        return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")

    def datasets(self, layer: str) -> list[str]:
        """Datasets present in a layer."""
        base = self.root / layer
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.exists() else []

    @property
    def catalog_path(self) -> Path:
        return self.root / "catalog.duckdb"

    def refresh_catalog(self) -> Path:
        """Rebuild the DuckDB catalog of views and rename it into place."""
        self.root.mkdir(parents=True, exist_ok=True)
        with _locked(self.root / ".catalog.lock"):
            tmp = self.root / f".catalog-{uuid.uuid4().hex}.duckdb"
            con = duckdb.connect(str(tmp))
            try:
                for sql in self.catalog_sql():
                    con.execute(sql)
            finally:
                con.close()
            tmp.replace(self.catalog_path)
        return self.catalog_path

    def catalog_sql(self) -> list[str]:
        """The statements that define the catalog's views (plan apart from execution)."""
        stmts = ["SET autoinstall_known_extensions = false"]
        for layer in LAYERS:
            stmts.append(f"CREATE SCHEMA IF NOT EXISTS {layer}")
            for dataset in self.datasets(layer):
                glob = self.root / layer / dataset / "interval=*" / "data.parquet"
                if not any((self.root / layer / dataset).glob("interval=*/data.parquet")):
                    continue
                stmts.append(
                    f'CREATE OR REPLACE VIEW {layer}."{dataset}" AS SELECT * FROM '
                    f"read_parquet('{glob}', union_by_name = true)"
                )
                if layer == "staging":
                    # The latest staged version of each source record.
                    stmts.append(
                        f'CREATE OR REPLACE VIEW staging."{dataset}__current" AS '
                        "SELECT * EXCLUDE (_version) FROM (SELECT *, row_number() OVER ("
                        "PARTITION BY _record_id ORDER BY _updated_utc DESC, _interval DESC"
                        f') AS _version FROM staging."{dataset}") WHERE _version = 1'
                    )
        runs = self.root / OPS_RUNS / "interval=*" / "*.parquet"
        stmts.append("CREATE SCHEMA IF NOT EXISTS ops")
        if any((self.root / OPS_RUNS).glob("interval=*/*.parquet")):
            stmts.append(
                "CREATE OR REPLACE VIEW ops.ingest_runs AS SELECT * FROM "
                f"read_parquet('{runs}', union_by_name = true)"
            )
        return stmts


def _atomic_parquet(path: Path, frame: pl.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        frame.write_parquet(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    with lock_file.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
