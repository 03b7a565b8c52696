"""The linkage stage: staged records and spines of the lake in, linkage tables out.

One run (:func:`run_linkage`) reads every staged agency record and both spines from the lake,
resolves each record (:func:`linkage.resolve.resolve`: deterministic pass, then the current
trained model of its subject type), lets reviewer decisions override the result, and replaces,
atomically, two whole tables of the lake's ``linkage`` layer:

``linkage.record_links``  one row per source record (:data:`RECORD_LINKS_COLUMNS`): its credit
                          code (accept band only, else null), band, probabilities, method
                          (``deterministic`` / ``probabilistic`` / ``clerical``, or ``none`` for
                          records never modelled: passports), the model version and the run.
``linkage.review_queue``  one row per open review-band record (:data:`REVIEW_QUEUE_COLUMNS`):
                          its best candidate and the evidence, both records' fields (JSON) and
                          the match weight of each comparison (JSON).

Reviewer decisions live in ``linkage.decisions`` (:data:`DECISION_COLUMNS`, one row per
decision, appended under a file lock by :func:`record_decision`). On every run a decided record
gets ``method='clerical'`` and the decided outcome, whatever the model says: accepted onto the
candidate a reviewer accepted (latest decision per candidate), else rejected. A candidate a
reviewer rejected is never linked to that record, and a decided record leaves the queue.

Example:
    >>> counts = run_linkage(Lake(Path("data/lake")), run_id="manual__2026-01-01",
    ...                      logical_date=datetime(2026, 1, 1, tzinfo=UTC))   # doctest: +SKIP
    >>> counts["accept"], counts["review_queue"]                            # doctest: +SKIP
    (18211, 96)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from etl.lake import Lake
from linkage.model import MODELS_DIR, current_model_path
from linkage.records import read_organisation_records, read_person_records
from linkage.resolve import RECORD_LINK_COLUMNS, Resolution, resolve
from linkage.spine import read_organisation_spine, read_person_spine

__all__ = [
    "DECISION_COLUMNS",
    "RECORD_LINKS_COLUMNS",
    "REVIEW_QUEUE_COLUMNS",
    "Thresholds",
    "apply_decisions",
    "read_decisions",
    "read_record_links",
    "read_review_queue",
    "record_decision",
    "review_queue",
    "run_linkage",
]

log = logging.getLogger(__name__)

LAYER = "linkage"
RECORD_LINKS = "record_links"
REVIEW_QUEUE = "review_queue"
DECISIONS = "decisions"

#: ``linkage.record_links``: one row per source record.
RECORD_LINKS_COLUMNS: dict[str, pl.DataType] = {
    **RECORD_LINK_COLUMNS,  # method: deterministic / probabilistic / clerical / none
    "run_id": pl.String(),
    "logical_date": pl.Datetime("us", "UTC"),
}

#: ``linkage.review_queue``: one row per open review-band record and its best candidate.
REVIEW_QUEUE_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "subject_type": pl.String(),
    "source": pl.String(),
    "table": pl.String(),
    "record_id": pl.String(),
    "candidate_code": pl.String(),
    "link_probability": pl.Float64(),
    "match_probability": pl.Float64(),
    "match_weight": pl.Float64(),
    "model_version": pl.String(),
    "record": pl.String(),  # JSON: the record's fields (linkage.spine columns)
    "candidate": pl.String(),  # JSON: the candidate spine entry's fields
    "comparison_weights": pl.String(),  # JSON: {comparison: partial match weight}
    "run_id": pl.String(),
}

#: ``linkage.decisions``: one row per reviewer decision.
DECISION_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),  # the record ('<source>/<table>/<record id>')
    "candidate_code": pl.String(),  # the credit code decided on
    "decision": pl.String(),  # accept / reject
    "reviewer": pl.String(),
    "decided_at": pl.Datetime("us", "UTC"),
    "note": pl.String(),
}

DECISION_KINDS = ("accept", "reject")


@dataclass(frozen=True)
class Thresholds:
    """Link probability bands: ``accept`` from `accept`, ``review`` from `review`."""

    accept: float = 0.99
    review: float = 0.3

    def __post_init__(self) -> None:
        if not 0 <= self.review <= self.accept <= 1:
            raise ValueError(f"need 0 <= review <= accept <= 1, got {self}")


def _conform(frame: pl.DataFrame, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    return frame.select(
        [
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in columns.items()
        ]
    )


def read_decisions(lake: Lake) -> pl.DataFrame:
    """Every decision recorded in the lake, in :data:`DECISION_COLUMNS` (maybe empty)."""
    frame = lake.read(LAYER, DECISIONS)
    if frame.is_empty():
        return pl.DataFrame(schema=DECISION_COLUMNS)
    return _conform(frame, DECISION_COLUMNS)


def record_decision(
    lake: Lake,
    unique_id: str,
    candidate_code: str,
    decision: str,
    *,
    reviewer: str,
    decided_at: datetime,
    note: str | None = None,
) -> pl.DataFrame:
    """Append one reviewer decision to ``linkage.decisions`` (under a file lock); returns the row.

    Example: ``record_decision(lake, 'courts/SXBZXR/7', '110101198001010013', 'reject',
    reviewer='li', decided_at=datetime(2026, 1, 2, 9, tzinfo=UTC))``.
    """
    if decision not in DECISION_KINDS:
        raise ValueError(f"decision must be one of {DECISION_KINDS}, got {decision!r}")
    if decided_at.tzinfo is None:
        raise ValueError("decided_at must be timezone-aware")
    row = pl.DataFrame(
        [[unique_id, candidate_code, decision, reviewer, decided_at, note]],
        schema=DECISION_COLUMNS,
        orient="row",
    )
    lake.append_locked(LAYER, DECISIONS, row)
    return row


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
        pl.when(decided)
        .then(pl.format("reviewer decision: {}", "_decision"))
        .otherwise("reason")
        .alias("reason"),
    ).drop("_decision", "_decided_code")


def _json_rows(frame: pl.DataFrame, key: str, name: str) -> pl.DataFrame:
    """`key` and every other column of `frame` as one JSON object per row, in column `name`."""
    rest = [c for c in frame.columns if c != key]
    return frame.select(key, pl.struct(rest).struct.json_encode().alias(name))


def review_queue(
    links: pl.DataFrame, resolution: Resolution, records: pl.DataFrame, spine: pl.DataFrame
) -> pl.DataFrame:
    """The open review-band records of one subject type with their evidence
    (:data:`REVIEW_QUEUE_COLUMNS` without ``run_id``); `links` after decisions."""
    open_ = links.filter((pl.col("band") == "review") & (pl.col("method") == "probabilistic"))
    if open_.is_empty() or resolution.model_result is None:
        return pl.DataFrame(schema={k: v for k, v in REVIEW_QUEUE_COLUMNS.items() if k != "run_id"})
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
        )
        .join(recs, on="unique_id", how="left")
        .join(cands.unique("candidate_code"), on="candidate_code", how="left")
        .join(weights, on=["unique_id", "candidate_code"], how="left")
        .sort("unique_id")
    )


SUBJECTS = {
    "person": (read_person_records, read_person_spine),
    "organisation": (read_organisation_records, read_organisation_spine),
}


def run_linkage(
    lake: Lake,
    *,
    run_id: str,
    logical_date: datetime,
    models_dir: Path | None = None,
    thresholds: Thresholds | None = None,
) -> dict[str, int]:
    """Link every staged record of the lake and replace ``linkage.record_links`` and
    ``linkage.review_queue`` (see the module doc); returns counts (small, for XCom).

    `models_dir` holds the trained models (default ``linkage/models``); the current one of
    each subject type is used. Example result: ``{'records': 20480, 'accept': 20110,
    'review': 96, 'reject': 274, 'deterministic': 17002, 'probabilistic': 3381,
    'clerical': 3, 'none': 94, 'review_queue': 96, 'decisions': 3}``.
    """
    th = thresholds or Thresholds()
    decisions = read_decisions(lake)
    links, queues = [], []
    for subject, (read_records, read_spine) in SUBJECTS.items():
        records, spine = read_records(lake), read_spine(lake)
        if records.is_empty():
            continue
        model = current_model_path(subject, models_dir or MODELS_DIR)
        res = resolve(
            records,
            spine,
            subject,
            model,
            accept=th.accept,
            review=th.review,
            count_blocking_pairs=False,
        )
        decided = apply_decisions(res.links, decisions)
        links.append(decided)
        queues.append(review_queue(decided, res, records, spine))
    run = {"run_id": pl.lit(run_id), "logical_date": pl.lit(logical_date)}
    record_links = _conform(
        (pl.concat(links) if links else pl.DataFrame(schema=RECORD_LINK_COLUMNS)).with_columns(
            **run
        ),
        RECORD_LINKS_COLUMNS,
    )
    queue = _conform(
        (pl.concat(queues) if queues else pl.DataFrame(schema=REVIEW_QUEUE_COLUMNS)).with_columns(
            run_id=pl.lit(run_id)
        ),
        REVIEW_QUEUE_COLUMNS,
    )
    lake.write_whole(LAYER, RECORD_LINKS, record_links)
    lake.write_whole(LAYER, REVIEW_QUEUE, queue)
    counts = {"records": record_links.height}
    for col in ("band", "method"):
        counts.update({str(k): int(v) for k, v in record_links[col].value_counts().iter_rows()})
    counts["review_queue"] = queue.height
    counts["decisions"] = decisions.height
    log.info("linkage run %s: %s", run_id, counts)
    return counts


def read_record_links(lake: Lake) -> pl.DataFrame:
    """``linkage.record_links`` of the last run (empty before the first)."""
    return lake.read(LAYER, RECORD_LINKS)


def read_review_queue(lake: Lake) -> pl.DataFrame:
    """``linkage.review_queue`` of the last run (empty before the first)."""
    return lake.read(LAYER, REVIEW_QUEUE)
