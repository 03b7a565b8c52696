"""The linkage stage: staged records and spines of the lake in, linkage tables out.

One run (:func:`run_linkage`) reads every staged agency record and both spines from the lake,
resolves the records that need it (:func:`linkage.resolve.resolve`: deterministic pass, then
the current trained model of its subject type) and keeps the links of the rest: a daily run
links only new and changed records and those a registry change concerns
(:mod:`linkage.incremental`). Reviewer decisions override the result, and the run commits
the tables of the lake's ``linkage`` layer as one unit (:mod:`etl.commit`); the big ones
(``record_links``, ``legal_representatives``, the spines) are delta tables
(:mod:`linkage.partitions`): a daily run adds one partition holding the rows it changed, and
every reader sees the whole current table:

``linkage.record_links``  one row per source record (:data:`RECORD_LINKS_COLUMNS`): its credit
                          code (accept band only, else null), band, probabilities, method
                          (``deterministic`` / ``probabilistic`` / ``clerical``, or ``none`` for
                          records never modelled: passports), the model version and the run.
``linkage.review_queue``  one row per open review-band record (:data:`REVIEW_QUEUE_COLUMNS`):
                          its best candidate and the evidence, both records' fields (JSON) and
                          the match weight of each comparison (JSON).
``linkage.legal_representatives``
                          one row per organisation of the legal-entity registry: its legal
                          representative linked to the population registry like a record
                          (:mod:`linkage.representatives`).
``linkage.person_spine``, ``linkage.organisation_spine``, ``linkage.spine_manifest``
                          the spines kept between runs and the registry partitions behind
                          them: a daily run merges the registries' new rows only
                          (:mod:`linkage.spine_store`).
``linkage.runs``          appended: one row per run and subject type (:data:`RUNS_COLUMNS`),
                          full or incremental and why, records linked again and kept, seconds.

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
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from credlink.etl.commit import (
    StageLockedError,
    commit,
    new_token,
    recover,
    stage_lock,
)
from credlink.etl.lake import Lake
from credlink.linkage.corroborate import case_references, corroborate
from credlink.linkage.deterministic import namesakes
from credlink.linkage.evidence import EvidencePolicy, load_policy, policy_digest
from credlink.linkage.incremental import (
    FINGERPRINT_SCHEME,
    Plan,
    fingerprints,
    full_reason,
    plan,
)
from credlink.linkage.model import MODELS_DIR, current_model_path, load_model
from credlink.linkage.partitions import DELTA_TABLES, stage_table, stage_whole
from credlink.linkage.records import organisation_records, person_records, read_staged
from credlink.linkage.representatives import (
    LEGAL_REPRESENTATIVES_COLUMNS,
    REPRESENTATIVE_KIND,
    representative_records,
    with_organisations,
)
from credlink.linkage.resolve import RECORD_LINK_COLUMNS, Resolution, resolve
from credlink.linkage.review_keys import DecisionConflict, ItemChanged, ItemKey, locked_check_append
from credlink.linkage.spine import ORGANISATION_DATASET
from credlink.linkage.spine_store import MANIFEST, SpineUpdate, update_spine
from credlink.settings import ACCEPT, REVIEW

__all__ = [
    "DECISION_COLUMNS",
    "RECORD_LINKS_COLUMNS",
    "REVIEW_QUEUE_COLUMNS",
    "RUNS_COLUMNS",
    "LinkageLockedError",
    "Thresholds",
    "apply_decisions",
    "read_decisions",
    "read_record_links",
    "read_review_queue",
    "read_runs",
    "record_decision",
    "review_queue",
    "run_linkage",
]

log = logging.getLogger(__name__)

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

DECISION_KINDS = ("accept", "reject")


@dataclass(frozen=True)
class Thresholds:
    """Link probability bands: ``accept`` from `accept`, ``review`` from `review`."""

    accept: float = ACCEPT
    review: float = REVIEW

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


SUBJECTS = {
    "person": person_records,
    "organisation": organisation_records,
}


def read_runs(lake: Lake) -> pl.DataFrame:
    """``linkage.runs``: one row per linkage run and subject type (maybe empty)."""
    frame = lake.read(LAYER, RUNS)
    if frame.is_empty():
        return pl.DataFrame(schema=RUNS_COLUMNS)
    return _conform(frame, RUNS_COLUMNS)


@dataclass
class _Previous:
    """What the previous run left: links, open queue and run rows."""

    links: pl.DataFrame
    representatives: pl.DataFrame
    queue: pl.DataFrame
    runs: pl.DataFrame
    #: the stored tables as read (what this run's deltas are computed against)
    stored_links: pl.DataFrame
    stored_representatives: pl.DataFrame

    @classmethod
    def read(cls, lake: Lake) -> _Previous:
        links = stored_links = read_record_links(lake)
        reps = stored_reps = lake.read(LAYER, LEGAL_REPRESENTATIVES)
        if not {"record_fingerprint", "linked_run_id", "evidence"} <= set(links.columns):
            # a lake from before fingerprints or identity evidence: link everything again
            links = pl.DataFrame(schema=RECORD_LINKS_COLUMNS)
        if not {"record_fingerprint", "evidence"} <= set(reps.columns):
            reps = pl.DataFrame(schema=LEGAL_REPRESENTATIVES_COLUMNS)
        return cls(
            links=links,
            representatives=reps,
            queue=_conform(read_review_queue(lake), REVIEW_QUEUE_COLUMNS).drop("run_id"),
            runs=read_runs(lake),
            stored_links=stored_links,
            stored_representatives=stored_reps,
        )

    def run(self, kind: str) -> dict[str, object] | None:
        mine = self.runs.filter(pl.col("subject_type") == kind)
        return mine.row(-1, named=True) if mine.height else None


@dataclass(frozen=True)
class _Run:
    """What every kind's linking in one run shares."""

    run_id: str
    th: Thresholds
    models_dir: Path | None
    decisions: pl.DataFrame
    previous: _Previous
    full: bool
    policy: EvidencePolicy
    policy_digest: str
    #: case numbers of the staged records (linkage.corroborate)
    references: pl.DataFrame


@dataclass
class _Linked:
    """One kind's result: links, open review queue and its ``linkage.runs`` row."""

    links: pl.DataFrame
    queue: pl.DataFrame
    run_row: dict[str, object]


def _relink_namesakes(
    the_plan: Plan, prev_links: pl.DataFrame, entries: pl.DataFrame, subject: str
) -> Plan:
    """`the_plan` with the kept links onto an entry that has gained a registry namesake linked
    again: its own entry did not change, yet the name no longer tells it apart (a reviewer's
    link stays)."""
    twins = namesakes(entries, subject)["unique_id"]
    if twins.is_empty() or the_plan.keep.is_empty():
        return the_plan
    moved = (
        prev_links.filter(
            (pl.col("band") == "accept")
            & (pl.col("method") != "clerical")
            & pl.col("credit_code").is_in(twins.implode())
        )
        .select("unique_id")
        .join(the_plan.keep, on="unique_id", how="semi")
    )
    if moved.is_empty():
        return the_plan
    reasons = dict(the_plan.reasons)
    reasons["spine_changed"] = reasons.get("spine_changed", 0) + moved.height
    return Plan(
        relink=pl.concat([the_plan.relink, moved]),
        keep=the_plan.keep.join(moved, on="unique_id", how="anti"),
        reasons=reasons,
    )


def _link_kind(
    kind: str,
    records: pl.DataFrame,
    spine: SpineUpdate,
    prev_links: pl.DataFrame,
    *,
    subject: str,
    run: _Run,
) -> _Linked:
    """Link one kind of record (`subject` records, or legal representatives) to `spine`:
    in full or incrementally (:mod:`linkage.incremental`), decisions applied."""
    started = time.perf_counter()
    run_id, th, models_dir, previous = run.run_id, run.th, run.models_dir, run.previous
    decisions = run.decisions
    model = load_model(current_model_path(subject, models_dir or MODELS_DIR))
    records_fp = fingerprints(records)
    why_full = full_reason(
        previous.run(kind),
        model_version=model.version,
        accept=th.accept,
        review=th.review,
        evidence_policy=run.policy_digest,
        has_previous_links=prev_links.height > 0,
        full=run.full,
    )
    if why_full is None:
        the_plan = plan(
            records_fp,
            prev_links,
            spine.changed,
            spine.replaced,
        )
        the_plan = _relink_namesakes(the_plan, prev_links, spine.columns, subject)
    else:
        the_plan = Plan(relink=records_fp.select("unique_id"), keep=records_fp.head(0))
        the_plan.reasons = {"new": records_fp.height}
    to_link = records.join(the_plan.relink, on="unique_id", how="semi")
    entries = spine.columns
    kept = prev_links.join(the_plan.keep, on="unique_id", how="semi").select(
        [*RECORD_LINK_COLUMNS, "linked_run_id"]
    )
    fresh = pl.DataFrame(schema=RECORD_LINK_COLUMNS)
    res = None
    if not to_link.is_empty():
        res = resolve(
            to_link,
            entries,
            subject,
            model,
            accept=th.accept,
            review=th.review,
            count_blocking_pairs=False,
            policy=run.policy,
        )
        fresh = res.links
    links = apply_decisions(
        pl.concat([fresh.with_columns(linked_run_id=pl.lit(run_id)), kept], how="vertical_relaxed"),
        decisions,
    ).join(records_fp.rename({"fingerprint": "record_fingerprint"}), on="unique_id", how="left")
    links = corroborate(links, run.references, run.policy.rule(subject))
    # The queue: fresh evidence for relinked records, the previous evidence for kept ones.
    queue = (
        review_queue(links.join(the_plan.relink, on="unique_id", how="semi"), res, to_link, entries)
        if res is not None
        else pl.DataFrame(schema={k: v for k, v in REVIEW_QUEUE_COLUMNS.items() if k != "run_id"})
    )
    still_open = links.filter(
        (pl.col("band") == "review") & (pl.col("method") == "probabilistic")
    ).join(the_plan.keep, on="unique_id", how="semi")
    if not previous.queue.is_empty():
        carried = previous.queue.join(still_open.select("unique_id"), on="unique_id", how="semi")
        queue = pl.concat([queue, carried.select(queue.columns)], how="vertical_relaxed")
    run_row: dict[str, object] = {
        "subject_type": kind,
        "mode": "full" if why_full else "incremental",
        "full_reason": why_full,
        "model_version": model.version,
        "accept": th.accept,
        "review": th.review,
        "evidence_policy": run.policy_digest,
        "fingerprint_scheme": FINGERPRINT_SCHEME,
        "records": records.height,
        "spine_entries": entries.height,
        "spine_mode": spine.mode,
        "spine_changed": spine.changed.height,
        "relinked": to_link.height,
        "kept": kept.height,
        **{f"relinked_{k}": v for k, v in the_plan.reasons.items()},
        "seconds": round(time.perf_counter() - started, 3),
    }
    log.info(
        "%s: %s run%s, spine %s (%d changed): %d records, %d relinked %s, %d kept, %.1f s",
        kind,
        run_row["mode"],
        f" ({why_full})" if why_full else "",
        spine.mode,
        spine.changed.height,
        records.height,
        to_link.height,
        the_plan.reasons,
        kept.height,
        run_row["seconds"],
    )
    return _Linked(links, queue, run_row)


def run_linkage(
    lake: Lake,
    *,
    run_id: str,
    logical_date: datetime,
    models_dir: Path | None = None,
    thresholds: Thresholds | None = None,
    full: bool = False,
    lock_timeout: float | None = 3600.0,
) -> dict[str, int]:
    """Link the staged records of the lake and update ``linkage.record_links``,
    ``linkage.legal_representatives`` and the kept spines (a partition of the rows this run
    changed, :mod:`linkage.partitions`), replace ``linkage.review_queue``; append to
    ``linkage.runs`` (see the module doc); returns counts (small, for XCom).

    The run holds the lake's linkage lock (a second run waits for it, up to `lock_timeout`
    seconds, then :class:`LinkageLockedError`), and its tables change together
    (:mod:`etl.commit`): a run killed at any write point is completed or undone by the next
    run, which then equals an uninterrupted one.

    Incremental by default (:mod:`linkage.incremental`): only new and changed records, and
    those a spine change concerns, are linked; `full` links everything again. `models_dir`
    holds the trained models (default ``linkage/models``); the current one of each subject
    type is used. Example result: ``{'records': 20480, 'relinked': 112, 'kept': 20368,
    'accept': 20110, 'review': 96, 'reject': 274, 'deterministic': 17002,
    'probabilistic': 3381, 'clerical': 3, 'none': 94, 'review_queue': 96, 'decisions': 3,
    'legal_representatives': 2003, 'legal_representatives_linked': 2001}``.
    """
    with stage_lock(lake.root, LAYER, run_id, lock_timeout, error=LinkageLockedError):
        if recover(lake.root, LAYER) == run_id:
            # this very run was killed after its commit record: it has happened (a retry)
            log.warning("linkage run %s was committed before it was killed: done", run_id)
            return _counts_of_stored(lake, run_id)
        return _run_linkage(lake, run_id, logical_date, models_dir, thresholds, full)


class LinkageLockedError(StageLockedError):
    """Another linkage run holds the lake's linkage lock and did not finish within the wait."""


def _run_linkage(
    lake: Lake,
    run_id: str,
    logical_date: datetime,
    models_dir: Path | None,
    thresholds: Thresholds | None,
    full: bool,
) -> dict[str, int]:
    th = thresholds or Thresholds()
    decisions = read_decisions(lake)
    previous = _Previous.read(lake)
    results: list[_Linked] = []
    spines = {subject: update_spine(lake, subject, rebuild=full) for subject in SUBJECTS}
    staged = read_staged(lake)  # every agency table, read once for both subject types
    common = _Run(run_id, th, models_dir, decisions, previous, full, load_policy(),
                  policy_digest(), case_references(staged))  # fmt: skip
    for subject, subject_records in SUBJECTS.items():
        prev = previous.links.filter(pl.col("subject_type") == subject)
        records = subject_records(staged)
        results.append(
            _link_kind(subject, records, spines[subject], prev, subject=subject, run=common)
        )
    registry = lake.read("staging", ORGANISATION_DATASET)
    reps = _link_kind(
        REPRESENTATIVE_KIND,
        representative_records(registry),
        spines["person"],
        previous.representatives.select(
            [*RECORD_LINK_COLUMNS, "record_fingerprint", "linked_run_id"]
        ),
        subject="person",
        run=common,
    )
    run = {"run_id": pl.lit(run_id), "logical_date": pl.lit(logical_date)}
    record_links = _conform(
        pl.concat([r.links for r in results], how="vertical_relaxed").with_columns(**run),
        RECORD_LINKS_COLUMNS,
    ).sort("subject_type", "unique_id")
    representatives = _conform(
        with_organisations(reps.links, registry).with_columns(**run),
        LEGAL_REPRESENTATIVES_COLUMNS,
    ).sort("organisation_code")
    queue = _conform(
        pl.concat([r.queue for r in [*results, reps]], how="vertical_relaxed").with_columns(
            run_id=pl.lit(run_id)
        ),
        REVIEW_QUEUE_COLUMNS,
    ).sort("unique_id")
    run_rows = [r.run_row for r in [*results, reps]]
    runs = pl.concat(
        [
            # a retry of the same run (Airflow's) replaces that run's rows
            read_runs(lake).filter(pl.col("run_id") != run_id),
            _conform(pl.DataFrame(run_rows).with_columns(**run), RUNS_COLUMNS),
        ],
        how="vertical_relaxed",
    )
    # One unit (etl.commit): every table staged, then one commit record, then the renames; a
    # run killed anywhere is completed or undone by the next run's recovery. The big tables
    # as deltas: only the rows this run changed (linkage.partitions).
    token = new_token()
    overlay = {"run_id": run_id, "logical_date": logical_date.isoformat()}
    ops = []
    for name, frame, before in (
        (RECORD_LINKS, record_links, previous.stored_links),
        (LEGAL_REPRESENTATIVES, representatives, previous.stored_representatives),
    ):
        ops += stage_table(lake, DELTA_TABLES[name], frame, token,
                           previous=None if full or before.is_empty() else before,
                           overlay=overlay)  # fmt: skip
    ops.append(stage_whole(lake, REVIEW_QUEUE, queue, token))
    for update in spines.values():
        if update.mode != "unchanged":
            kept = update.kept if update.mode == "updated" else None
            ops += stage_table(lake, DELTA_TABLES[f"{update.subject_type}_spine"], update.spine,
                               token, previous=kept, overlay={},
                               changes=update.delta)  # fmt: skip
    manifest = pl.concat([u.manifest for u in spines.values()])
    ops.append(stage_whole(lake, MANIFEST, manifest, token))
    ops.append(stage_whole(lake, RUNS, runs, token))
    commit(lake.root, LAYER, run_id, ops)
    counts = _counts(record_links, runs.filter(pl.col("run_id") == run_id), queue,
                     decisions, representatives)  # fmt: skip
    log.info("linkage run %s: %s", run_id, counts)
    return counts


def _counts(
    record_links: pl.DataFrame,
    run_rows: pl.DataFrame,
    queue: pl.DataFrame,
    decisions: pl.DataFrame,
    representatives: pl.DataFrame,
) -> dict[str, int]:
    """What :func:`run_linkage` returns, from the tables of its run."""
    subjects = run_rows.filter(pl.col("subject_type").is_in(list(SUBJECTS)))
    counts = {
        "records": record_links.height,
        "relinked": int(subjects["relinked"].sum()),
        "kept": int(subjects["kept"].sum()),
    }
    for col in ("band", "method"):
        counts.update({str(k): int(v) for k, v in record_links[col].value_counts().iter_rows()})
    counts["review_queue"] = queue.height
    counts["decisions"] = decisions.height
    counts["legal_representatives"] = representatives.height
    counts["legal_representatives_linked"] = int(representatives["credit_code"].is_not_null().sum())
    return counts


def _counts_of_stored(lake: Lake, run_id: str) -> dict[str, int]:
    """:func:`_counts` of a run already committed (its tables are the lake's)."""
    runs = read_runs(lake)
    return _counts(read_record_links(lake), runs.filter(pl.col("run_id") == run_id),
                   read_review_queue(lake), read_decisions(lake),
                   lake.read(LAYER, LEGAL_REPRESENTATIVES))  # fmt: skip


def read_record_links(lake: Lake) -> pl.DataFrame:
    """``linkage.record_links`` of the last run (empty before the first)."""
    return lake.read(LAYER, RECORD_LINKS)


def read_review_queue(lake: Lake) -> pl.DataFrame:
    """``linkage.review_queue`` of the last run (empty before the first)."""
    return lake.read(LAYER, REVIEW_QUEUE)
