"""The review queue: the open review-band records of a linkage run, with their evidence.

``linkage.review_queue`` (:data:`linkage.tables.REVIEW_QUEUE_COLUMNS`) holds one row per open
review-band record: its best candidate and the evidence (name agreement, the independent facts
that agree), both records' fields as JSON and the match weight of each comparison as JSON. The
linkage stage (:func:`linkage.stage.run_linkage`) builds it with :func:`review_queue` for the
records it links again and carries the previous rows of the records it keeps; the clerical
review (:mod:`linkage.review`) reads it with :func:`read_review_queue`.

Example:
    >>> queue = review_queue(links, resolution, records, spine)           # doctest: +SKIP
    >>> queue.columns[:2]                                                 # doctest: +SKIP
    ['unique_id', 'subject_type']
"""

from __future__ import annotations

import polars as pl

from credlink.etl.lake import Lake
from credlink.linkage.resolve import Resolution
from credlink.linkage.tables import LAYER, REVIEW_QUEUE, REVIEW_QUEUE_COLUMNS

__all__ = ["OPEN_ITEM_COLUMNS", "read_review_queue", "review_queue"]

#: A review item as one linkage run builds it: the columns of ``linkage.review_queue``
#: (:data:`~linkage.tables.REVIEW_QUEUE_COLUMNS`) but ``run_id``.
OPEN_ITEM_COLUMNS: dict[str, pl.DataType] = {
    k: v for k, v in REVIEW_QUEUE_COLUMNS.items() if k != "run_id"
}


def _json_rows(frame: pl.DataFrame, key: str, name: str) -> pl.DataFrame:
    """`key` and every other column of `frame` as one JSON object per row, in column `name`."""
    rest = [c for c in frame.columns if c != key]
    return frame.select(key, pl.struct(rest).struct.json_encode().alias(name))


def review_queue(
    links: pl.DataFrame, resolution: Resolution, records: pl.DataFrame, spine: pl.DataFrame
) -> pl.DataFrame:
    """The open review-band records of one subject type with their evidence
    (:data:`OPEN_ITEM_COLUMNS`); `links` after decisions."""
    open_ = links.filter((pl.col("band") == "review") & (pl.col("method") == "probabilistic"))
    if open_.is_empty() or resolution.model_result is None:
        return pl.DataFrame(schema=OPEN_ITEM_COLUMNS)
    pairs = resolution.model_result.pairs
    mw = [c for c in pairs.columns if c.startswith("mw_")]
    weights = pairs.join(
        open_.select("unique_id", pl.col("candidate_code").alias("spine_id")),
        on=["unique_id", "spine_id"],
        how="semi",
    ).select(
        "unique_id",
        pl.col("spine_id").alias("candidate_code"),
        pl.struct([pl.col(c).alias(c.removeprefix("mw_")) for c in mw])
        .struct.json_encode()
        .alias("comparison_weights"),
    )
    recs = _json_rows(
        records.join(open_.select("unique_id"), on="unique_id"), "unique_id", "record"
    )
    cands = _json_rows(
        spine.join(open_.select(pl.col("candidate_code").alias("unique_id")), on="unique_id"),
        "unique_id",
        "candidate",
    ).rename({"unique_id": "candidate_code"})
    holders = _json_rows(
        spine.join(open_.select(pl.col("conflict_code").alias("unique_id")), on="unique_id"),
        "unique_id",
        "conflict_candidate",
    ).rename({"unique_id": "conflict_code"})
    return (
        open_.select(
            "unique_id",
            "subject_type",
            "source",
            "table",
            "record_id",
            "candidate_code",
            "link_probability",
            "match_probability",
            "match_weight",
            "model_version",
            "reason",
            "name_agreement",
            "evidence",
            "conflict_code",
        )
        .join(recs, on="unique_id", how="left")
        .join(cands.unique("candidate_code"), on="candidate_code", how="left")
        .join(holders.unique("conflict_code"), on="conflict_code", how="left")
        .join(weights, on=["unique_id", "candidate_code"], how="left")
        .sort("unique_id")
    )


def read_review_queue(lake: Lake) -> pl.DataFrame:
    """``linkage.review_queue`` of the last run (empty before the first)."""
    return lake.read(LAYER, REVIEW_QUEUE)
