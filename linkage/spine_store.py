"""The spines kept between linkage runs, so that a daily run does not rebuild the registries.

Building a spine reads a whole registry (a million persons, several versions each). The
linkage stage keeps each spine in the lake (``linkage.person_spine``,
``linkage.organisation_spine``): the spine columns, the version of the registry row behind each
entry (``_updated_utc``, ``_interval``) and a ``fingerprint`` of the entry
(:func:`linkage.incremental.fingerprints`). Beside them, ``linkage.spine_manifest`` lists the
staged registry partitions (file, modification time, size) the kept spine was built from.

:func:`update_spine` compares the registry's partitions with the manifest:

- nothing new: the kept spine is used as it is (``unchanged``);
- only new partitions, later than every partition seen: the spine is built from their rows
  alone and merged into the kept one, the newer version of each registry row winning
  (``updated``): the cost follows the registry's new rows, not its size;
- anything else (a partition replaced or removed by a backfill, one older than the newest
  seen, no kept spine, a new fingerprint scheme): the spine is rebuilt from the whole
  registry (``rebuilt``).

It returns the spine and which entries changed (new fingerprints against the ones they
replace), which :func:`linkage.incremental.plan` takes to decide what to link again.

Example:
    >>> update = update_spine(lake, "person")                            # doctest: +SKIP
    >>> update.mode, update.changed.height                               # doctest: +SKIP
    ('updated', 37)
    >>> write_spine(lake, update)                                        # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import polars as pl

from credlink.etl.catalog import columns
from credlink.etl.lake import DeltaFile, Lake, current_rows
from credlink.linkage.incremental import FINGERPRINT_SCHEME, fingerprints
from credlink.linkage.spine import (
    ORGANISATION_COLUMNS,
    ORGANISATION_DATASET,
    PERSON_COLUMNS,
    PERSON_DATASET,
    organisation_spine,
    person_spine,
    recall,
    remember,
)

__all__ = [
    "LAKE_SOURCE",
    "MANIFEST_COLUMNS",
    "LakeSpine",
    "SpineUpdate",
    "lake_spine",
    "spine_tables",
    "update_spine",
    "write_spine",
]

LAYER = "linkage"
MANIFEST = "spine_manifest"
VERSION = ("_updated_utc", "_interval")

#: ``linkage.spine_manifest``: the staged registry partitions behind each kept spine.
MANIFEST_COLUMNS = columns("linkage.spine_manifest")

_SUBJECTS: dict[str, tuple[str, Callable[[pl.DataFrame], pl.DataFrame], dict[str, pl.DataType]]] = {
    "person": (PERSON_DATASET, person_spine, PERSON_COLUMNS),
    "organisation": (ORGANISATION_DATASET, organisation_spine, ORGANISATION_COLUMNS),
}


@dataclass(frozen=True)
class LakeSpine:
    """Where the rows of a run's spine are in the lake, for an engine that reads the lake's
    Parquet itself (Spark, :mod:`linkage.backend`): the kept spine's table (its partitions in
    force, :attr:`files`, are the ones the run read: the run holds the linkage lock, so no
    one else writes them) and, for a spine the run updates, its changes that the run's commit
    will write as the next delta (:meth:`SpineUpdate.delta`: rows new or changed, keys gone).
    Folding the partitions, then the changes, as :meth:`etl.lake.Lake.read` folds a delta
    table, gives the run's spine."""

    lake: Lake
    dataset: str
    key: str
    pending: Callable[[], tuple[pl.DataFrame, pl.DataFrame]] | None = None

    @property
    def files(self) -> list[DeltaFile]:
        """The kept spine's partitions in force (read when asked: only Spark asks)."""
        return self.lake.delta_files(LAYER, self.dataset)


#: The name under which a spine frame's :class:`LakeSpine` is kept (:func:`lake_spine`).
LAKE_SOURCE = "lake-spine"


def lake_spine(frame: pl.DataFrame) -> LakeSpine | None:
    """Where the rows of `frame` (a run's spine, :attr:`SpineUpdate.columns`) are in the lake,
    or None (a spine rebuilt by the run, or built elsewhere)."""
    found = recall(frame, LAKE_SOURCE)
    return found if isinstance(found, LakeSpine) else None


@dataclass
class SpineUpdate:
    """One subject type's spine for this run and what changed in it."""

    subject_type: str
    mode: str  # unchanged / updated / rebuilt
    spine: pl.DataFrame  # the spine columns, version columns and fingerprint
    changed: pl.DataFrame  # unique_id, fingerprint: entries new or changed in this run
    replaced: pl.DataFrame  # unique_id, fingerprint: the kept entries they replace or remove
    manifest: pl.DataFrame  # MANIFEST_COLUMNS, of this run
    #: the kept spine this run started from (an ``updated`` spine is written as its delta)
    kept: pl.DataFrame | None = None
    #: the lake the kept spine was read from (``unchanged`` and ``updated``)
    lake: Lake | None = None

    def delta(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """An ``updated`` spine against the kept one: (entries new or changed, the unique ids
        of the kept entries it no longer holds), without comparing a million rows."""
        return _delta(self.spine, self.changed, self.replaced)

    @cached_property
    def columns(self) -> pl.DataFrame:
        """The spine in exactly the spine columns (what the engine links against); one frame
        per run, so that what the engine derives from it is derived once
        (:func:`linkage.spine.derived`)."""
        _, _, cols = _SUBJECTS[self.subject_type]
        frame = self.spine.select(list(cols))
        if self.mode != "rebuilt" and self.lake is not None:
            # (what is kept of the frame must not hold the frame: not `self.delta`)
            spine, changed, replaced = self.spine, self.changed, self.replaced
            pending = (lambda: _delta(spine, changed, replaced)) if self.mode == "updated" else None
            source = LakeSpine(self.lake, f"{self.subject_type}_spine", "unique_id", pending)
            remember(frame, LAKE_SOURCE, source)
        return frame


def _delta(
    spine: pl.DataFrame, changed: pl.DataFrame, replaced: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:meth:`SpineUpdate.delta` of an updated `spine`."""
    ids = changed.select("unique_id")
    upserts = spine.join(ids, on="unique_id", how="semi", maintain_order="left")
    gone = replaced.select("unique_id").unique().join(ids, on="unique_id", how="anti")
    return upserts, gone


def _partitions(lake: Lake, subject: str, dataset: str) -> pl.DataFrame:
    rows = [(subject, dataset, key, stamp, size, FINGERPRINT_SCHEME)
            for key, stamp, size in lake.partition_stamps("staging", dataset)]  # fmt: skip
    return pl.DataFrame(rows, schema=MANIFEST_COLUMNS, orient="row")


def _end(key: pl.Expr) -> pl.Expr:
    """The end stamp of an interval key ('history_20251231T000000Z' -> '20251231T000000Z')."""
    return key.str.split("_").list.last()


def _build(rows: pl.DataFrame, subject: str) -> pl.DataFrame:
    """Spine entries of staged registry rows, with their versions and fingerprints."""
    _, build, cols = _SUBJECTS[subject]
    current = current_rows(rows)
    spine = build(current)
    if spine.is_empty():
        schema = {**cols, "_updated_utc": pl.Datetime("us", "UTC"), "_interval": pl.String()}
        return pl.DataFrame(schema={**schema, "fingerprint": pl.UInt64()})
    versions = current.select(
        pl.col("_record_id").alias("record_id"),
        *[(pl.col(c) if c in current.columns else pl.lit(None)).alias(c) for c in VERSION],
    ).unique("record_id", keep="last")
    with_fp = spine.join(fingerprints(spine), on="unique_id", how="left")
    return with_fp.join(versions, on="record_id", how="left").select(
        *cols, pl.col("_updated_utc").cast(pl.Datetime("us", "UTC")),
        pl.col("_interval").cast(pl.String), "fingerprint",
    )  # fmt: skip


def _read_kept(lake: Lake, subject: str) -> pl.DataFrame:
    return lake.read(LAYER, f"{subject}_spine")


def update_spine(lake: Lake, subject: str, *, rebuild: bool = False) -> SpineUpdate:
    """This run's spine of `subject` ('person' / 'organisation'); see the module doc."""
    dataset = _SUBJECTS[subject][0]
    now = _partitions(lake, subject, dataset)
    seen = lake.read(LAYER, MANIFEST)
    seen = (
        seen.filter(pl.col("subject_type") == subject)
        if not seen.is_empty()
        else pl.DataFrame(schema=MANIFEST_COLUMNS)
    )
    kept = _read_kept(lake, subject) if not seen.is_empty() else pl.DataFrame()
    key = ["partition", "mtime_ns", "size"]
    new = now.join(seen, on=key, how="anti")
    gone = seen.join(now, on=key, how="anti")
    replaced_or_removed = (
        gone.join(new, on="partition", how="semi").height
        + gone.join(now, on="partition", how="anti").height
    )
    later = (
        seen.is_empty()
        or new.is_empty()
        or new.select(_end(pl.col("partition")).min()).item()
        > seen.select(_end(pl.col("partition")).max()).item()
    )
    fresh_scheme = seen.is_empty() or (seen["fingerprint_scheme"] == FINGERPRINT_SCHEME).all()
    empty_ids = pl.DataFrame(schema={"unique_id": pl.String(), "fingerprint": pl.UInt64()})
    if (
        rebuild
        or kept.is_empty()
        or replaced_or_removed
        or not later
        or not fresh_scheme
        or "fingerprint" not in kept.columns
    ):
        spine = _build(lake.read("staging", dataset), subject)
        previous = (
            kept.select("unique_id", "fingerprint") if "fingerprint" in kept.columns else empty_ids
        )
        return SpineUpdate(subject, "rebuilt", spine, spine.select("unique_id", "fingerprint"),
                           previous, now)  # fmt: skip
    if new.is_empty():
        return SpineUpdate(subject, "unchanged", kept, empty_ids, empty_ids, now,
                           lake=lake)  # fmt: skip
    parts = [lake.read_partition("staging", dataset, k) for k in new["partition"]]
    rows = pl.concat([f for f in parts if f is not None], how="diagonal_relaxed")
    incoming = _build(rows, subject)
    # The newer version of each registry row wins (by _updated_utc, then interval).
    old = kept.join(incoming.select("record_id"), on="record_id", how="semi")
    both = pl.concat([old, incoming.select(old.columns)], how="vertical_relaxed")
    winners = both.sort(list(VERSION), nulls_last=False, maintain_order=True).unique(
        "record_id", keep="last", maintain_order=True
    )
    winners = winners.join(old.select("record_id", "fingerprint"), on=["record_id", "fingerprint"],
                           how="anti")  # fmt: skip
    # A new entry takes its citizen ID / USCC from any kept entry that had it.
    displaced = kept.join(winners.select("unique_id"), on="unique_id", how="semi")
    out = kept.join(winners.select("record_id"), on="record_id", how="anti").join(
        winners.select("unique_id"), on="unique_id", how="anti"
    )
    spine = pl.concat([out, winners.select(out.columns)], how="vertical_relaxed")
    replaced = pl.concat([old.join(winners.select("record_id"), on="record_id", how="semi"),
                          displaced]).select("unique_id", "fingerprint").unique()  # fmt: skip
    return SpineUpdate(subject, "updated", spine, winners.select("unique_id", "fingerprint"),
                       replaced, now, kept, lake)  # fmt: skip


def spine_tables(updates: list[SpineUpdate]) -> dict[str, pl.DataFrame]:
    """The tables a run keeps (``linkage.<dataset>``): the spines that changed and the
    manifest of all."""
    out = {f"{u.subject_type}_spine": u.spine for u in updates if u.mode != "unchanged"}
    out[MANIFEST] = pl.concat([u.manifest for u in updates])
    return out


def write_spine(lake: Lake, updates: list[SpineUpdate]) -> None:
    """Keep the spines that changed and the manifest of all, each file atomically (the
    linkage stage commits them with its other tables as one unit instead)."""
    for dataset, frame in spine_tables(updates).items():
        lake.write_whole(LAYER, dataset, frame)
