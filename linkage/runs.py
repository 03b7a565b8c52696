"""Run bookkeeping: ``linkage.runs``, one row per linkage run and subject type.

Each linkage run (:func:`linkage.stage.run_linkage`) records, per subject type and for the
legal representatives, what it linked again and why as a :class:`LinkageRun`; :func:`runs_frame`
is the one place such rows become a frame in :data:`linkage.tables.RUNS_COLUMNS`, and the
stage appends them to ``linkage.runs``. The next run reads its predecessor's row
(:func:`read_runs`) to decide whether an incremental run will do
(:func:`linkage.incremental.full_reason`).

Example:
    >>> read_runs(lake).select("subject_type", "mode", "relinked", "kept")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from credlink.etl.catalog import conform
from credlink.etl.lake import Lake
from credlink.linkage.tables import LAYER, RUNS, RUNS_COLUMNS

__all__ = ["LinkageRun", "read_runs", "runs_frame"]


@dataclass(frozen=True)
class LinkageRun:
    """One row of ``linkage.runs``: one subject type's linking in one run (the fields are
    :data:`linkage.tables.RUNS_COLUMNS`, in order)."""

    run_id: str
    logical_date: datetime
    #: person / organisation / legal_representative
    subject_type: str
    #: full / incremental
    mode: str
    #: why the run was a full one (None: incremental)
    full_reason: str | None
    model_version: str
    accept: float
    review: float
    #: digest of the identity-evidence policy (linkage.evidence)
    evidence_policy: str
    fingerprint_scheme: str
    records: int
    spine_entries: int
    #: unchanged / updated / rebuilt (linkage.spine_store)
    spine_mode: str
    #: spine entries new or changed since the last run
    spine_changed: int
    relinked: int
    kept: int
    #: records linked again, by reason (linkage.incremental.plan; a full run counts all as new)
    relinked_new: int | None
    relinked_changed: int | None
    relinked_spine_changed: int | None
    relinked_not_accepted: int | None
    seconds: float


def runs_frame(runs: Sequence[LinkageRun]) -> pl.DataFrame:
    """`runs` as rows of ``linkage.runs`` (:data:`~linkage.tables.RUNS_COLUMNS`)."""
    return pl.DataFrame(
        {column: [getattr(run, column) for run in runs] for column in RUNS_COLUMNS},
        schema=RUNS_COLUMNS,
    )


def read_runs(lake: Lake) -> pl.DataFrame:
    """``linkage.runs``: one row per linkage run and subject type (maybe empty)."""
    frame = lake.read(LAYER, RUNS)
    if frame.is_empty():
        return pl.DataFrame(schema=RUNS_COLUMNS)
    return conform(frame, RUNS_COLUMNS)
