"""The reviewer-decision store: ``linkage.decisions``, and how decisions override links.

Reviewer decisions live in ``linkage.decisions`` (:data:`linkage.tables.DECISION_COLUMNS`, one
row per decision, appended under a file lock by :func:`record_decision`). On every linkage run
(:func:`linkage.stage.run_linkage`) a decided record gets ``method='clerical'`` and the decided
outcome, whatever the model says (:func:`apply_decisions`): accepted onto the candidate a
reviewer accepted (latest decision per candidate, :func:`effective_decisions`), else rejected.
A candidate a reviewer rejected is never linked to that record, and a decided record leaves the
review queue.

Example:
    >>> record_decision(lake, "courts/SXBZXR/7", "110101198001010013", "reject",
    ...                 reviewer="li", decided_at=now, seen=key)          # doctest: +SKIP
    >>> apply_decisions(links, read_decisions(lake))                      # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from credlink.etl.catalog import conform
from credlink.etl.lake import Lake
from credlink.linkage.review_keys import DecisionConflict, ItemChanged, ItemKey, locked_check_append
from credlink.linkage.review_queue import read_review_queue
from credlink.linkage.tables import DECISION_COLUMNS, DECISIONS, LAYER

__all__ = [
    "DECISION_KINDS",
    "apply_decisions",
    "effective_decisions",
    "read_decisions",
    "record_decision",
]

DECISION_KINDS = ("accept", "reject")


def read_decisions(lake: Lake) -> pl.DataFrame:
    """Every decision recorded in the lake, in :data:`~linkage.tables.DECISION_COLUMNS`
    (maybe empty)."""
    frame = lake.read(LAYER, DECISIONS)
    if frame.is_empty():
        return pl.DataFrame(schema=DECISION_COLUMNS)
    return conform(frame, DECISION_COLUMNS)


def record_decision(
    lake: Lake,
    unique_id: str,
    candidate_code: str,
    decision: str,
    *,
    reviewer: str,
    decided_at: datetime,
    note: str | None = None,
    seen: ItemKey | None = None,
) -> pl.DataFrame:
    """Append one reviewer decision to ``linkage.decisions``; returns the row.

    `seen` is the key of the review item the reviewer was shown (:mod:`linkage.review_keys`).
    Under a lock, the decision is refused (:class:`~linkage.review_keys.ItemChanged`) unless
    that item is still the record's open item in ``linkage.review_queue`` (same candidate, same
    model version, same fields: same fingerprint) and `candidate_code` is one it showed, and
    refused (:class:`~linkage.review_keys.DecisionConflict`) when the record was decided
    already: two reviewers deciding at once get one decision and one conflict. Without `seen`
    the decision is a correction of a record outside the queue (e.g. rejecting an accepted
    link); a record in the queue is refused then: decide it by its key.

    Example: ``record_decision(lake, 'courts/SXBZXR/7', '110101198001010013', 'reject',
    reviewer='li', decided_at=datetime(2026, 1, 2, 9, tzinfo=UTC), seen=ItemKey.of(row))``.
    """
    if decision not in DECISION_KINDS:
        raise ValueError(f"decision must be one of {DECISION_KINDS}, got {decision!r}")
    if decided_at.tzinfo is None:
        raise ValueError("decided_at must be timezone-aware")
    if seen is not None and seen.unique_id != unique_id:
        raise ValueError(f"item key {seen} is not of record {unique_id!r}")

    def checked_row() -> pl.DataFrame:
        queue = read_review_queue(lake)
        items = queue.filter(pl.col("unique_id") == unique_id).to_dicts() if queue.height else []
        earlier = read_decisions(lake).filter(pl.col("unique_id") == unique_id)
        version = fingerprint = None
        if seen is None:
            if items and earlier.is_empty():
                raise ItemChanged(
                    f"{unique_id} is in the review queue (item {ItemKey.of(items[0])}): decide it "
                    "by its item key, as `credlink review show` prints it"
                )
        else:
            if not items:
                raise ItemChanged(f"{unique_id} is no longer in the review queue")
            item = items[0]
            now = ItemKey.of(item)
            if now != seen:
                raise ItemChanged(
                    f"item {seen} changed since it was shown: it is now {now} (candidate "
                    f"{item['candidate_code']}, identifier holder {item.get('conflict_code')}, "
                    f"model {item['model_version']}); look at it again (`credlink review show "
                    f"{now}`)"
                )
            shown = {item["candidate_code"], item.get("conflict_code")} - {None}
            if candidate_code not in shown:
                raise ValueError(
                    f"{candidate_code!r} is not a candidate of {unique_id} "
                    f"(candidates: {sorted(shown)})"
                )
            version, fingerprint = item["model_version"], now.fingerprint
        if seen is not None and earlier.height:
            last = earlier.sort("decided_at").row(-1, named=True)
            raise DecisionConflict(
                f"{unique_id} was decided already: {last['decision']} {last['candidate_code']} "
                f"by {last['reviewer']} at {last['decided_at']:%Y-%m-%d %H:%M:%S} UTC; "
                "no second decision recorded"
            )
        return pl.DataFrame(
            [[unique_id, candidate_code, decision, reviewer, decided_at, note, version,
              fingerprint]],
            schema=DECISION_COLUMNS,
            orient="row",
        )  # fmt: skip

    return locked_check_append(lake, LAYER, DECISIONS, checked_row)


def effective_decisions(decisions: pl.DataFrame) -> pl.DataFrame:
    """Per decided record: ``unique_id``, ``decision``, ``candidate_code``.

    The latest decision on each (record, candidate) counts. A record with an accepted candidate
    is accepted onto it (the latest accepted, if several), else it is rejected.
    """
    latest = (
        decisions.with_row_index("_order")
        .sort("decided_at", "_order")
        .unique(["unique_id", "candidate_code"], keep="last", maintain_order=True)
    )
    accepted = latest.filter(pl.col("decision") == "accept")
    rejected = latest.join(accepted.select("unique_id"), on="unique_id", how="anti")
    return (
        pl.concat([accepted, rejected])
        .sort("decided_at", "_order")
        .unique("unique_id", keep="last", maintain_order=True)
        .select("unique_id", "decision", "candidate_code")
    )


def apply_decisions(links: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """`links` (``record_links`` rows) with every decided record's outcome set by its decision:
    ``method='clerical'``; accepted -> band accept on the decided code; rejected -> band reject,
    no credit code."""
    eff = effective_decisions(decisions).rename(
        {"decision": "_decision", "candidate_code": "_decided_code"}
    )
    joined = links.join(eff, on="unique_id", how="left", maintain_order="left")
    decided = pl.col("_decision").is_not_null()
    accepted = pl.col("_decision") == "accept"
    return joined.with_columns(
        pl.when(decided)
        .then(pl.when(accepted).then("_decided_code"))
        .otherwise("credit_code")
        .alias("credit_code"),
        pl.when(decided).then("_decided_code").otherwise("candidate_code").alias("candidate_code"),
        pl.when(decided)
        .then(pl.when(accepted).then(pl.lit("accept")).otherwise(pl.lit("reject")))
        .otherwise("band")
        .alias("band"),
        pl.when(decided).then(pl.lit("clerical")).otherwise("method").alias("method"),
        pl.when(decided).then(pl.lit(None)).otherwise("matched_on").alias("matched_on"),
        # the evidence was of the candidate: it no longer describes another decided code
        *[
            pl.when(decided & (pl.col("_decided_code") != pl.col("candidate_code")).fill_null(True))
            .then(pl.lit(None))
            .otherwise(c)
            .alias(c)
            for c in ("name_agreement", "evidence")
            if c in links.columns
        ],
        pl.when(decided)
        .then(pl.format("reviewer decision: {}", "_decision"))
        .otherwise("reason")
        .alias("reason"),
    ).drop("_decision", "_decided_code")
