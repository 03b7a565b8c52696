"""The tables of the lake's ``linkage`` layer that the linkage stage writes: names and columns.

Each table's columns are those of its contract (``schemas/linkage/tables/``, :mod:`etl.catalog`),
as Polars types in the order the table holds them:

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
``linkage.review_rounds`` one row per reviewer decision in a round of review
                          (:data:`REVIEW_ROUNDS_COLUMNS`): blind double review and the quality
                          sample's verdicts, appended by :func:`linkage.decisions.record_round`.
``linkage.review_sample`` one row per accepted link drawn into a blind quality sample
                          (:data:`REVIEW_SAMPLE_COLUMNS`, :mod:`linkage.estimated_quality`).
``linkage.estimated_quality``
                          precision estimated from the sample's verdicts, per stratum and
                          overall, with confidence intervals (:data:`ESTIMATED_QUALITY_COLUMNS`).

Example:
    >>> list(DECISION_COLUMNS)[:3]
    ['unique_id', 'candidate_code', 'decision']
"""

from __future__ import annotations

import polars as pl

from credlink.etl.catalog import columns
from credlink.etl.lake import Lake

__all__ = [
    "DECISIONS",
    "DECISION_COLUMNS",
    "ESTIMATED_QUALITY",
    "ESTIMATED_QUALITY_COLUMNS",
    "LAYER",
    "LEGAL_REPRESENTATIVES",
    "RECORD_LINKS",
    "RECORD_LINKS_COLUMNS",
    "REVIEW_QUEUE",
    "REVIEW_QUEUE_COLUMNS",
    "REVIEW_ROUNDS",
    "REVIEW_ROUNDS_COLUMNS",
    "REVIEW_SAMPLE",
    "REVIEW_SAMPLE_COLUMNS",
    "RUNS",
    "RUNS_COLUMNS",
    "read_record_links",
]

LAYER = "linkage"
RECORD_LINKS = "record_links"
REVIEW_QUEUE = "review_queue"
DECISIONS = "decisions"
RUNS = "runs"
LEGAL_REPRESENTATIVES = "legal_representatives"
REVIEW_ROUNDS = "review_rounds"
REVIEW_SAMPLE = "review_sample"
ESTIMATED_QUALITY = "estimated_quality"

#: ``linkage.record_links``: one row per source record.
RECORD_LINKS_COLUMNS = columns("linkage.record_links")

#: ``linkage.runs``: one row per run and subject type: what it linked again and why.
RUNS_COLUMNS = columns("linkage.runs")

#: ``linkage.review_queue``: one row per open review-band record and its best candidate.
REVIEW_QUEUE_COLUMNS = columns("linkage.review_queue")

#: ``linkage.decisions``: one row per reviewer decision.
DECISION_COLUMNS = columns("linkage.decisions")

#: ``linkage.review_rounds``: one row per reviewer decision in a round of review.
REVIEW_ROUNDS_COLUMNS = columns("linkage.review_rounds")

#: ``linkage.review_sample``: one row per accepted link drawn into a blind quality sample.
REVIEW_SAMPLE_COLUMNS = columns("linkage.review_sample")

#: ``linkage.estimated_quality``: estimated precision per sample and stratum, and overall.
ESTIMATED_QUALITY_COLUMNS = columns("linkage.estimated_quality")


def read_record_links(lake: Lake) -> pl.DataFrame:
    """``linkage.record_links`` of the last run (empty before the first)."""
    return lake.read(LAYER, RECORD_LINKS)
