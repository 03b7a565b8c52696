"""Publishing recomputes the restrictions of the subjects whose inputs changed, and carries the
rest over from the previous run.

The restrictions of a subject (:func:`publish.rules.restrictions`) are a function of its rows of
:func:`publish.rules.targeted` alone: the listings that bind it, their links, the legal
representative's link, the memoranda's measures and the trigger window on the run's day. Each
run keeps, in the lake, a digest of those rows per subject (``credit_code``, the sums of two
row hashes, the row count) with the subject's restrictions: ``<lake>/publish/
restriction_basis``, committed with the warehouse as one unit (:mod:`publish.commit`), written
by the publisher alone (never read back from the warehouse, which a user with the
publisher's rights could have changed). The next run digests its own rows and:

- a subject whose digest is the basis's keeps its restrictions from the basis (same rows in,
  same restrictions out);
- every other subject (new listings or links, a link that changed band or evidence, a trigger
  that ended or began on this day, a representative re-linked, a memorandum edited) is
  recomputed; a subject without rows any more has no restrictions.

The result equals a full recompute: the basis is a memo of a pure function, whichever run
wrote it. It is used only under this digest scheme (Polars' row hash, the columns, this
module's version); otherwise every subject is recomputed (the first run, a Polars upgrade).

Example:
    >>> carry = read_carry(lake)                                           # doctest: +SKIP
    >>> current, basis, recomputed = carried_restrictions(bound, carry)    # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from credlink.etl.lake import WHOLE, Lake, parquet_metadata, read_parquet_file
from credlink.publish.rules import RESTRICTION_COLUMNS, TARGETED_COLUMNS, restrictions

if TYPE_CHECKING:
    from credlink.etl.storage import Location

__all__ = ["BASIS_DATASET", "BASIS_SCHEME", "Carry", "carried_restrictions", "digests",
           "read_carry"]  # fmt: skip

log = logging.getLogger(__name__)

LAYER = "publish"
BASIS_DATASET = "restriction_basis"
#: Parquet key-value metadata of the basis: the run that wrote it and the scheme.
BASIS_META = "credlink.restriction_basis"
#: Digests are Polars row hashes (stable within one Polars version) of these columns.
BASIS_SCHEME = f"polars-{pl.__version__}-rows-v2-" + ",".join(TARGETED_COLUMNS)

BASIS_COLUMNS: dict[str, pl.DataType] = {
    "credit_code": pl.String(),
    "a": pl.Int64(),
    "b": pl.Int64(),
    "c": pl.Int64(),
    "d": pl.Int64(),
    "rows": pl.UInt32(),
}


@dataclass(frozen=True)
class Carry:
    """What a run may carry over: the previous warehouse's restrictions and their basis."""

    restrictions: pl.DataFrame  # RESTRICTION_COLUMNS
    basis: pl.DataFrame  # BASIS_COLUMNS


def digests(bound: pl.DataFrame) -> pl.DataFrame:
    """Per subject (``target_code``), a digest of its :func:`publish.rules.targeted` rows,
    order-free: the sums of the 32-bit halves of two row hashes, and the row count;
    :data:`BASIS_COLUMNS`."""
    if bound.is_empty():
        return pl.DataFrame(schema=BASIS_COLUMNS)
    rows = bound.select([pl.col(c).cast(t) for c, t in TARGETED_COLUMNS.items()])
    hashes = pl.DataFrame({"h0": rows.hash_rows(seed=0), "h1": rows.hash_rows(seed=1)})
    halves = 0xFFFFFFFF
    frame = hashes.select(
        bound["target_code"].alias("credit_code"),
        (pl.col("h0") // (halves + 1)).cast(pl.Int64).alias("a"),
        (pl.col("h0") % (halves + 1)).cast(pl.Int64).alias("b"),
        (pl.col("h1") // (halves + 1)).cast(pl.Int64).alias("c"),
        (pl.col("h1") % (halves + 1)).cast(pl.Int64).alias("d"),
    )
    return (
        frame.group_by("credit_code")
        .agg(pl.col("a", "b", "c", "d").sum(), pl.len().cast(pl.UInt32).alias("rows"))
        .select([pl.col(c).cast(t) for c, t in BASIS_COLUMNS.items()])
        .sort("credit_code")
    )


def carried_restrictions(
    bound: pl.DataFrame, carry: Carry | None
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """The restrictions of `bound` (as :func:`publish.rules.restrictions`), recomputing only the
    subjects whose digest differs from `carry`'s basis; the new basis (:func:`basis_table`
    of them); how many subjects were not carried over (changed, new or without rows now)."""
    digest = digests(bound)
    if carry is None:
        out = restrictions(bound)
        return out, basis_table(digest, out), digest.height
    same = digest.join(carry.basis, on=list(BASIS_COLUMNS), how="semi").select("credit_code")
    dirty = bound.join(same.rename({"credit_code": "target_code"}), on="target_code", how="anti")
    fresh = restrictions(dirty)
    kept = carry.restrictions.join(same, on="credit_code", how="semi")
    out = pl.concat(
        [fresh, kept.select([pl.col(c).cast(t) for c, t in RESTRICTION_COLUMNS.items()])],
        how="vertical",
    ).sort("restriction_id")
    gone = carry.basis.join(digest, on="credit_code", how="anti").height
    return out, basis_table(digest, out), digest.height - same.height + gone


def basis_table(digest: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """One row per restriction with its subject's digest, and one row (restriction columns
    null) per subject with rows but no restriction in force: what the next run carries."""
    rest = current.select([pl.col(c).cast(t) for c, t in RESTRICTION_COLUMNS.items()])
    return digest.join(rest, on="credit_code", how="left", maintain_order="left")


def basis_metadata(run_id: str, seq: int) -> dict[str, str]:
    """The Parquet metadata of a run's basis: the run, the scheme."""
    return {BASIS_META: json.dumps({"run_id": run_id, "seq": seq, "scheme": BASIS_SCHEME})}


def basis_path(lake: Lake) -> Location:
    return lake.partition_location(LAYER, BASIS_DATASET, WHOLE)


def read_carry(lake: Lake) -> Carry | None:
    """The basis the last run left (module doc), or None when there is none or it is of
    another scheme."""
    path = basis_path(lake)
    if not path.is_file():
        return None
    raw = parquet_metadata(path).get(BASIS_META.encode())
    meta = json.loads(raw) if raw else {}
    if meta.get("scheme") != BASIS_SCHEME:
        log.info("restriction basis of another scheme: every subject recomputed")
        return None
    frame = read_parquet_file(path)
    basis = frame.select([pl.col(c).cast(t) for c, t in BASIS_COLUMNS.items()]).unique(
        "credit_code", keep="first"
    )
    rest = frame.filter(pl.col("restriction_id").is_not_null()).select(
        [pl.col(c).cast(t) for c, t in RESTRICTION_COLUMNS.items()]
    )
    return Carry(restrictions=rest, basis=basis)
