"""The big linkage tables as delta tables: a daily run writes only the rows it changed.

``linkage.record_links``, ``linkage.legal_representatives`` and the kept spines
(``linkage.person_spine``, ``linkage.organisation_spine``) hold a row per record, registry
entry or organisation: a million rows, of which a daily run changes a few hundred. They are
delta tables of the lake (:mod:`etl.lake`, "Delta tables"): a base partition ``interval=all``
and one partition ``interval=delta-<seq>`` per later run, holding the rows that run changed
and a tombstone per key that left the table. A reader (:meth:`etl.lake.Lake.read`, the
catalog's view) sees the current table: exactly the whole table a run would have written.

:func:`stage_table` stages one table of a run (under a temporary name; the linkage stage
commits every table of the run as one unit, :mod:`etl.commit`):

- a **delta** when the table has a base and the run's rows differ from the current table in
  a few rows: the changed and new rows (by a 128-bit hash of the row, the overlay columns
  aside) and tombstones of the keys gone; a run that changes nothing still writes an empty
  delta, so the overlay (the run that wrote the table) moves on;
- a new **base** otherwise (the first run, a full run, columns that changed) or when the
  deltas in force reach :data:`MAX_DELTAS` or :data:`MAX_DELTA_SHARE` of the base's rows (a
  compaction): the whole table, then the removal of every delta it folds in (the base names
  the last one, ``through``, so every step of the commit reads right).

Example:
    >>> ops = stage_table(lake, RECORD_LINKS_TABLE, previous, links, token,
    ...                   overlay={"run_id": "r2", "logical_date": "2026-01-01T00:00:00+00:00"})
    ...                                                                    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from credlink.etl.commit import Op, Remove, Replace, fsync_file, temporary, write_point
from credlink.etl.lake import (
    DELTA_DELETED,
    DELTA_PREFIX,
    WHOLE,
    Lake,
    delta_metadata,
    parquet_rows,
    write_staged,
)

__all__ = [
    "DELTA_TABLES",
    "MAX_DELTAS",
    "MAX_DELTA_SHARE",
    "DeltaTable",
    "delta_partition_name",
    "stage_table",
    "stage_whole",
]

LAYER = "linkage"
#: A run compacts a table (writes a new base) when this many deltas are in force...
MAX_DELTAS = 32
#: ... or when they hold more rows than this share of the table's, and more than
#: :data:`MIN_COMPACT_ROWS` (a small table has no cost to speak of either way).
MAX_DELTA_SHARE = 0.25
MIN_COMPACT_ROWS = 10_000


@dataclass(frozen=True)
class DeltaTable:
    """How one linkage table is kept: its key, row order and overlay columns."""

    dataset: str
    key: str
    sort: tuple[str, ...] = ()
    #: columns whose value is the writing run's on every row (the run that wrote the table)
    overlay: tuple[str, ...] = ()


DELTA_TABLES: dict[str, DeltaTable] = {
    t.dataset: t
    for t in (
        DeltaTable(
            "record_links", "unique_id", ("subject_type", "unique_id"), ("run_id", "logical_date")
        ),
        DeltaTable(
            # an organisation's terms in date order (their ids end with the term's start)
            "legal_representatives",
            "unique_id",
            ("organisation_code", "unique_id"),
            ("run_id", "logical_date"),
        ),
        DeltaTable("person_spine", "unique_id"),
        DeltaTable("organisation_spine", "unique_id"),
    )
}


def delta_partition_name(seq: int) -> str:
    """The partition key of the `seq`-th delta (``delta-00000012``)."""
    return f"{DELTA_PREFIX}{seq:08d}"


def _stage_file(
    lake: Lake, dataset: str, partition: str, frame: pl.DataFrame, token: str,
    metadata: dict[str, str],
) -> Replace:  # fmt: skip
    final = lake.partition_location(LAYER, dataset, partition)
    tmp = temporary(final, token)
    write_staged(tmp, frame, metadata)
    fsync_file(tmp)
    write_point(LAYER, f"staged {dataset} ({partition})")
    return Replace(tmp, final)


def stage_whole(lake: Lake, dataset: str, frame: pl.DataFrame, token: str) -> Replace:
    """`frame` as the whole of a table that is not a delta table (queue, manifest, runs)."""
    return _stage_file(lake, dataset, WHOLE, frame, token, {})


def _hash(frame: pl.DataFrame, key: str, columns: list[str]) -> pl.DataFrame:
    """`key` and a 128-bit hash (two seeds) of each row's `columns`."""
    rows = frame.select(columns)
    return pl.DataFrame(
        {key: frame[key], "_h0": rows.hash_rows(seed=0), "_h1": rows.hash_rows(seed=1)}
    )


def stage_table(
    lake: Lake,
    table: DeltaTable,
    frame: pl.DataFrame,
    token: str,
    *,
    previous: pl.DataFrame | None,
    overlay: dict[str, str],
    changes: Callable[[], tuple[pl.DataFrame, pl.DataFrame]] | None = None,
) -> list[Op]:
    """Stage `frame`, the whole new content of `table`, as a delta or a new base (module doc);
    the commit operations. `previous` is the current table (None: write a base); `changes`,
    when given, returns (rows new or changed, keys gone) without a comparison (the spine
    update knows them)."""
    files = lake.delta_files(LAYER, table.dataset)
    base = [d for d in files if d.seq == 0]
    deltas = [d for d in files if d.seq > 0]
    seq = lake.next_delta(LAYER, table.dataset)
    same_columns = previous is not None and previous.schema == frame.schema
    if not base or previous is None or not same_columns:
        return _stage_base(lake, table, frame, token, overlay, seq - 1)
    if changes is not None:
        upserts, gone = changes()
    else:
        columns = [c for c in frame.columns if c not in table.overlay]
        new_h, old_h = _hash(frame, table.key, columns), _hash(previous, table.key, columns)
        moved = new_h.join(old_h, on=[table.key, "_h0", "_h1"], how="anti").select(table.key)
        upserts = frame.join(moved, on=table.key, how="semi", maintain_order="left")
        gone = old_h.select(table.key).join(new_h.select(table.key), on=table.key, how="anti")
    in_deltas = sum(parquet_rows(d.location) for d in deltas) + upserts.height + gone.height
    share = in_deltas > MAX_DELTA_SHARE * frame.height and in_deltas > MIN_COMPACT_ROWS
    if len(deltas) + 1 > MAX_DELTAS or share:
        return _stage_base(lake, table, frame, token, overlay, seq - 1)
    tombstones = gone.select(table.key).with_columns(pl.lit(True).alias(DELTA_DELETED))
    rows = pl.concat(
        [upserts.with_columns(pl.lit(False).alias(DELTA_DELETED)), tombstones],
        how="diagonal_relaxed",
    ).select([*frame.columns, DELTA_DELETED])
    rows = rows.cast(frame.schema)
    meta = delta_metadata(table.key, sort=list(table.sort), overlay=overlay)
    return [_stage_file(lake, table.dataset, delta_partition_name(seq), rows, token, meta)]


def _stage_base(
    lake: Lake, table: DeltaTable, frame: pl.DataFrame, token: str, overlay: dict[str, str],
    through: int,
) -> list[Op]:  # fmt: skip
    """A new base folding in every delta up to `through`, then the removal of those deltas."""
    meta = delta_metadata(table.key, sort=list(table.sort), overlay=overlay, through=through)
    ops: list[Op] = [_stage_file(lake, table.dataset, WHOLE, frame, token, meta)]
    # every delta folder the base folds in (locally: any such folder, even one holding only a
    # killed run's temporary file, as before; on a store a folder exists only through objects)
    folder = lake.partition_location(LAYER, table.dataset, WHOLE).parent.parent
    if isinstance(folder, Path):
        stale = sorted(folder.glob(f"interval={DELTA_PREFIX}*")) if folder.is_dir() else []
        return ops + [Remove(p) for p in stale if p.is_dir()]
    deltas = [d.location.parent for d in lake.delta_files(LAYER, table.dataset) if d.seq > 0]
    return ops + [Remove(p) for p in deltas]
