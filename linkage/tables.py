"""The tables of the lake's ``linkage`` layer that the linkage stage writes: names and columns.

Each table's columns are a dict of Polars dtypes, in the order the table holds them:

``linkage.record_links``  one row per source record (:data:`RECORD_LINKS_COLUMNS`): its credit
                          code (accept band only, else null), band, probabilities, method
                          (``deterministic`` / ``probabilistic`` / ``clerical``, or ``none`` for
                          records never modelled: passports), the model version and the run.
``linkage.review_queue``  one row per open review-band record (:data:`REVIEW_QUEUE_COLUMNS`):
                          its best candidate and the evidence, both records' fields (JSON) and
                          the match weight of each comparison (JSON); built by
                          :mod:`linkage.review_queue`.
``linkage.decisions``     one row per reviewer decision (:data:`DECISION_COLUMNS`), appended by
                          :func:`linkage.decisions.record_decision`.
``linkage.runs``          one row per run and subject type (:data:`RUNS_COLUMNS`), written from
                          :class:`linkage.runs.LinkageRun`.
``linkage.legal_representatives``
                          one row per organisation of the legal-entity registry
                          (:data:`linkage.representatives.LEGAL_REPRESENTATIVES_COLUMNS`).

Example:
    >>> conform(pl.DataFrame({"decision": ["accept"]}), DECISION_COLUMNS).columns[:3]
    ['unique_id', 'candidate_code', 'decision']
"""

from __future__ import annotations

import polars as pl

from credlink.etl.lake import Lake
from credlink.linkage.resolve import RECORD_LINK_COLUMNS

__all__ = [
    "DECISIONS",
    "DECISION_COLUMNS",
    "LAYER",
    "LEGAL_REPRESENTATIVES",
    "RECORD_LINKS",
    "RECORD_LINKS_COLUMNS",
    "REVIEW_QUEUE",
    "REVIEW_QUEUE_COLUMNS",
    "RUNS",
    "RUNS_COLUMNS",
    "conform",
    "read_record_links",
]

LAYER = "linkage"
RECORD_LINKS = "record_links"
REVIEW_QUEUE = "review_queue"
DECISIONS = "decisions"
RUNS = "runs"
LEGAL_REPRESENTATIVES = "legal_representatives"

#: ``linkage.record_links``: one row per source record.
RECORD_LINKS_COLUMNS: dict[str, pl.DataType] = {
    **RECORD_LINK_COLUMNS,  # method: deterministic / probabilistic / clerical / none
    "record_fingerprint": pl.UInt64(),  # of the record's linkage fields (incremental runs)
    "linked_run_id": pl.String(),  # the run that computed this link
    "run_id": pl.String(),  # the run that wrote the table
    "logical_date": pl.Datetime("us", "UTC"),
}

#: ``linkage.runs``: one row per run and subject type: what it linked again and why.
RUNS_COLUMNS: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "logical_date": pl.Datetime("us", "UTC"),
    "subject_type": pl.String(),
    "mode": pl.String(),  # full / incremental
    "full_reason": pl.String(),
    "model_version": pl.String(),
    "accept": pl.Float64(),
    "review": pl.Float64(),
    "evidence_policy": pl.String(),  # digest of the identity-evidence policy (linkage.evidence)
    "fingerprint_scheme": pl.String(),
    "records": pl.Int64(),
    "spine_entries": pl.Int64(),
    "spine_mode": pl.String(),  # unchanged / updated / rebuilt (linkage.spine_store)
    "spine_changed": pl.Int64(),  # spine entries new or changed since the last run
    "relinked": pl.Int64(),
    "kept": pl.Int64(),
    "relinked_new": pl.Int64(),
    "relinked_changed": pl.Int64(),
    "relinked_spine_changed": pl.Int64(),
    "relinked_not_accepted": pl.Int64(),
    "seconds": pl.Float64(),
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
    "reason": pl.String(),  # why it is in review (e.g. an identifier conflict, evidence short)
    "name_agreement": pl.String(),  # of the candidate (linkage.evidence)
    "evidence": pl.List(pl.String()),  # independent facts that agree with the candidate
    "conflict_code": pl.String(),  # identifier conflict: the identifier's registry holder
    "record": pl.String(),  # JSON: the record's fields (linkage.spine columns)
    "candidate": pl.String(),  # JSON: the candidate spine entry's fields
    "conflict_candidate": pl.String(),  # JSON: the identifier holder's spine entry's fields
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
    # what the reviewer was shown (linkage.review_keys); null in decisions recorded before
    # review keys, and in corrections of records that were not in the review queue
    "model_version": pl.String(),
    "item_fingerprint": pl.String(),
}


def conform(frame: pl.DataFrame, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """`frame` as exactly `columns`, in their order: each cast to its dtype, a missing one null,
    any other dropped."""
    return frame.select(
        [
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in columns.items()
        ]
    )


def read_record_links(lake: Lake) -> pl.DataFrame:
    """``linkage.record_links`` of the last run (empty before the first)."""
    return lake.read(LAYER, RECORD_LINKS)
