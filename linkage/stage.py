"""The linkage stage: staged records and spines of the lake in, linkage tables out.

One run (:func:`run_linkage`) reads every staged agency record and both spines from the lake,
resolves the records that need it (:func:`linkage.resolve.resolve`: deterministic pass, then
the current trained model of its subject type) and keeps the links of the rest: a daily run
links only new and changed records and those a registry change concerns
(:mod:`linkage.incremental`). Reviewer decisions override the result
(:mod:`linkage.decisions`), and the run commits the tables of the lake's ``linkage`` layer as
one unit (:mod:`etl.commit`); the big ones (``record_links``, ``legal_representatives``, the
spines) are delta tables (:mod:`linkage.partitions`): a daily run adds one partition holding the
rows it changed, and every reader sees the whole current table. The tables and their columns
are in :mod:`linkage.tables`:

``linkage.record_links``  one row per source record: its credit code (accept band only, else
                          null), band, probabilities, method, the model version and the run.
``linkage.review_queue``  replaced: one row per open review-band record, with its evidence
                          (:mod:`linkage.review_queue`).
``linkage.legal_representatives``
                          one row per organisation of the legal-entity registry and term of
                          office of its legal representative, linked to the population
                          registry like a record (:mod:`linkage.representatives`).
``linkage.person_spine``, ``linkage.organisation_spine``, ``linkage.spine_manifest``
                          the spines kept between runs and the registry partitions behind
                          them: a daily run merges the registries' new rows only
                          (:mod:`linkage.spine_store`).
``linkage.runs``          appended: one row per run and subject type, full or incremental and
                          why, records linked again and kept, seconds (:mod:`linkage.runs`).

This module is the orchestration only: it reads what the previous run left and plans each
kind of record (:func:`prepare_run`, :func:`plan_kind`), resolves the records to link again
(a :data:`Resolver`: :func:`resolve_here` in this process by default), finishes each kind
(:func:`finish_kind`: decisions, corroboration, the queue, the run row) and commits the run's
tables. A sharded run (:mod:`linkage.shards`) resolves in separate tasks and merges here, with
the same result: a record's resolution depends on that record and the whole spine only.

Example:
    >>> counts = run_linkage(Lake(Path("data/lake")), run_id="manual__2026-01-01",
    ...                      logical_date=datetime(2026, 1, 1, tzinfo=UTC))   # doctest: +SKIP
    >>> counts["accept"], counts["review_queue"]                            # doctest: +SKIP
    (18211, 96)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from credlink.etl.catalog import conform
from credlink.etl.commit import (
    StageLockedError,
    commit,
    new_token,
    recover,
    stage_lock,
)
from credlink.etl.lake import Lake
from credlink.linkage.corroborate import case_references, corroborate
from credlink.linkage.decisions import apply_decisions, read_decisions
from credlink.linkage.deterministic import namesakes
from credlink.linkage.evidence import EvidencePolicy, load_policy, policy_digest
from credlink.linkage.incremental import (
    FINGERPRINT_SCHEME,
    Plan,
    fingerprints,
    full_reason,
    plan,
)
from credlink.linkage.model import MODELS_DIR, LinkageModel, current_model_path, load_model
from credlink.linkage.partitions import DELTA_TABLES, stage_table, stage_whole
from credlink.linkage.records import organisation_records, person_records, read_subject_tables
from credlink.linkage.representatives import (
    LEGAL_REPRESENTATIVES_COLUMNS,
    REPRESENTATIVE_KIND,
    TERMS_DATASET,
    representative_records,
    with_organisations,
)
from credlink.linkage.resolve import RECORD_LINK_COLUMNS, Resolution, resolve
from credlink.linkage.review_queue import OPEN_ITEM_COLUMNS, read_review_queue, review_queue
from credlink.linkage.runs import LinkageRun, read_runs, runs_frame
from credlink.linkage.spine import ORGANISATION_DATASET
from credlink.linkage.spine_store import MANIFEST, SpineUpdate, update_spine
from credlink.linkage.tables import (
    LAYER,
    LEGAL_REPRESENTATIVES,
    RECORD_LINKS,
    RECORD_LINKS_COLUMNS,
    REVIEW_QUEUE,
    REVIEW_QUEUE_COLUMNS,
    RUNS,
    read_record_links,
)
from credlink.settings import ACCEPT, REVIEW

__all__ = [
    "KINDS",
    "KindWork",
    "LinkageLockedError",
    "PreparedRun",
    "Resolver",
    "RunShared",
    "Thresholds",
    "finish_kind",
    "plan_kind",
    "prepare_run",
    "resolve_here",
    "resolve_records",
    "run_linkage",
]

log = logging.getLogger(__name__)

SUBJECTS = {
    "person": person_records,
    "organisation": organisation_records,
}


@dataclass(frozen=True)
class Thresholds:
    """Link probability bands: ``accept`` from `accept`, ``review`` from `review`."""

    accept: float = ACCEPT
    review: float = REVIEW

    def __post_init__(self) -> None:
        if not 0 <= self.review <= self.accept <= 1:
            raise ValueError(f"need 0 <= review <= accept <= 1, got {self}")


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
            queue=conform(read_review_queue(lake), REVIEW_QUEUE_COLUMNS).drop("run_id"),
            runs=read_runs(lake),
            stored_links=stored_links,
            stored_representatives=stored_reps,
        )

    def run(self, kind: str) -> dict[str, object] | None:
        """The last ``linkage.runs`` row of `kind`, as stored (None before its first run)."""
        mine = self.runs.filter(pl.col("subject_type") == kind)
        return mine.row(-1, named=True) if mine.height else None


@dataclass(frozen=True)
class RunShared:
    """What every kind's linking in one run shares."""

    run_id: str
    logical_date: datetime
    th: Thresholds
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
    run: LinkageRun


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


def _plan(
    records_fp: pl.DataFrame,
    prev_links: pl.DataFrame,
    spine: SpineUpdate,
    subject: str,
    why_full: str | None,
) -> Plan:
    """What to link again and what to keep: everything anew in a full run (`why_full` set),
    else the incremental plan (:func:`linkage.incremental.plan`) with the namesakes' links."""
    if why_full is not None:
        return Plan(
            relink=records_fp.select("unique_id"),
            keep=records_fp.head(0),
            reasons={"new": records_fp.height},
        )
    incremental = plan(records_fp, prev_links, spine.changed, spine.replaced)
    return _relink_namesakes(incremental, prev_links, spine.columns, subject)


@dataclass
class KindWork:
    """One kind's share of a run, planned (:func:`plan_kind`): its records, the spine they link
    to, the previous links, the model, and what to link again (`to_link`) or keep."""

    kind: str
    subject: str
    records: pl.DataFrame
    records_fp: pl.DataFrame
    spine: SpineUpdate
    prev_links: pl.DataFrame
    model: LinkageModel
    why_full: str | None
    plan: Plan
    #: the records to link again, in the records' columns
    to_link: pl.DataFrame
    #: the seconds planning took
    plan_seconds: float


#: How a run resolves the records it links again (:func:`resolve_here`, or the shards'
#: results, :mod:`linkage.shards`): the resolution (None: nothing to link) and the seconds it
#: took elsewhere (added to the kind's ``linkage.runs`` row).
Resolver = Callable[[KindWork, RunShared], tuple[Resolution | None, float]]


def plan_kind(
    kind: str,
    records: pl.DataFrame,
    spine: SpineUpdate,
    prev_links: pl.DataFrame,
    *,
    subject: str,
    model: LinkageModel,
    run: RunShared,
) -> KindWork:
    """What one kind of record (`subject` records, or legal representatives) links again and
    keeps in this run: in full or incrementally (:mod:`linkage.incremental`)."""
    started = time.perf_counter()
    th, previous = run.th, run.previous
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
    the_plan = _plan(records_fp, prev_links, spine, subject, why_full)
    to_link = records.join(the_plan.relink, on="unique_id", how="semi")
    return KindWork(kind, subject, records, records_fp, spine, prev_links, model, why_full,
                    the_plan, to_link, time.perf_counter() - started)  # fmt: skip


def resolve_records(
    records: pl.DataFrame,
    entries: pl.DataFrame,
    subject: str,
    model: LinkageModel,
    th: Thresholds,
    policy: EvidencePolicy,
) -> Resolution:
    """:func:`linkage.resolve.resolve` of `records` against the spine `entries` as a run does
    it: thresholds `th`, evidence `policy`. Each record's row depends on that record and the
    whole spine only (the deterministic pass, the best candidate, the prior and the term
    frequencies), never on which other records are resolved with it: what lets a run resolve
    its records in shards (:mod:`linkage.shards`)."""
    return resolve(
        records,
        entries,
        subject,
        model,
        accept=th.accept,
        review=th.review,
        count_blocking_pairs=False,
        policy=policy,
    )


def resolve_here(work: KindWork, run: RunShared) -> tuple[Resolution | None, float]:
    """The default :data:`Resolver`: every record of `work` resolved in this process."""
    if work.to_link.is_empty():
        return None, 0.0
    res = resolve_records(work.to_link, work.spine.columns, work.subject, work.model, run.th,
                          run.policy)  # fmt: skip
    return res, 0.0


def finish_kind(work: KindWork, res: Resolution | None, run: RunShared, spent: float) -> _Linked:
    """One kind's links, queue and ``linkage.runs`` row from its plan and the resolution of
    the records it links again (`res`); `spent` the seconds planning and resolving took (in
    this process and in shards)."""
    started = time.perf_counter()
    kind, records, spine, to_link = work.kind, work.records, work.spine, work.to_link
    th, previous, the_plan, why_full = run.th, run.previous, work.plan, work.why_full
    entries = spine.columns
    kept = work.prev_links.join(the_plan.keep, on="unique_id", how="semi").select(
        [*RECORD_LINK_COLUMNS, "linked_run_id"]
    )
    fresh = pl.DataFrame(schema=RECORD_LINK_COLUMNS) if res is None else res.links
    links = apply_decisions(
        pl.concat(
            [fresh.with_columns(linked_run_id=pl.lit(run.run_id)), kept], how="vertical_relaxed"
        ),
        run.decisions,
    ).join(
        work.records_fp.rename({"fingerprint": "record_fingerprint"}), on="unique_id", how="left"
    )
    links = corroborate(links, run.references, run.policy.rule(work.subject))
    # The queue: fresh evidence for relinked records, the previous evidence for kept ones.
    queue = (
        review_queue(links.join(the_plan.relink, on="unique_id", how="semi"), res, to_link, entries)
        if res is not None
        else pl.DataFrame(schema=OPEN_ITEM_COLUMNS)
    )
    still_open = links.filter(
        (pl.col("band") == "review") & (pl.col("method") == "probabilistic")
    ).join(the_plan.keep, on="unique_id", how="semi")
    if not previous.queue.is_empty():
        carried = previous.queue.join(still_open.select("unique_id"), on="unique_id", how="semi")
        queue = pl.concat([queue, carried.select(queue.columns)], how="vertical_relaxed")
    reasons = the_plan.reasons
    row = LinkageRun(
        run_id=run.run_id,
        logical_date=run.logical_date,
        subject_type=kind,
        mode="full" if why_full else "incremental",
        full_reason=why_full,
        model_version=work.model.version,
        accept=th.accept,
        review=th.review,
        evidence_policy=run.policy_digest,
        fingerprint_scheme=FINGERPRINT_SCHEME,
        records=records.height,
        spine_entries=entries.height,
        spine_mode=spine.mode,
        spine_changed=spine.changed.height,
        relinked=to_link.height,
        kept=kept.height,
        relinked_new=reasons.get("new"),
        relinked_changed=reasons.get("changed"),
        relinked_spine_changed=reasons.get("spine_changed"),
        relinked_not_accepted=reasons.get("not_accepted"),
        seconds=round(time.perf_counter() - started + spent, 3),
    )
    log.info(
        "%s: %s run%s, spine %s (%d changed): %d records, %d relinked %s, %d kept, %.1f s",
        kind,
        row.mode,
        f" ({why_full})" if why_full else "",
        spine.mode,
        spine.changed.height,
        records.height,
        to_link.height,
        reasons,
        kept.height,
        row.seconds,
    )
    return _Linked(links, queue, row)


def _resolved(work: KindWork, run: RunShared, resolver: Resolver) -> _Linked:
    """`work` resolved by `resolver` and finished (:func:`finish_kind`), timed."""
    t = time.perf_counter()
    res, elsewhere = resolver(work, run)
    return finish_kind(work, res, run, work.plan_seconds + time.perf_counter() - t + elsewhere)


def run_linkage(
    lake: Lake,
    *,
    run_id: str,
    logical_date: datetime,
    models_dir: Path | None = None,
    thresholds: Thresholds | None = None,
    full: bool = False,
    lock_timeout: float | None = 3600.0,
    resolver: Resolver | None = None,
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
    type is used. `resolver` resolves the records each kind links again (default: here,
    :func:`resolve_here`; a sharded run's merge passes the shards' results,
    :mod:`linkage.shards`). Example result: ``{'records': 20480, 'relinked': 112, 'kept': 20368,
    'accept': 20110, 'review': 96, 'reject': 274, 'deterministic': 17002,
    'probabilistic': 3381, 'clerical': 3, 'none': 94, 'review_queue': 96, 'decisions': 3,
    'legal_representatives': 2003, 'legal_representatives_linked': 2001}``.
    """
    with stage_lock(lake.location, LAYER, run_id, lock_timeout, error=LinkageLockedError):
        if recover(lake.location, LAYER) == run_id:
            # this very run was killed after its commit record: it has happened (a retry)
            log.warning("linkage run %s was committed before it was killed: done", run_id)
            return _counts_of_stored(lake, run_id)
        return _run_linkage(lake, run_id, logical_date, models_dir, thresholds, full,
                            resolver or resolve_here)  # fmt: skip


class LinkageLockedError(StageLockedError):
    """Another linkage run holds the lake's linkage lock and did not finish within the wait."""


def _current_model(subject: str, models_dir: Path | None) -> LinkageModel:
    """The production model of `subject` in `models_dir` (default ``linkage/models``)."""
    return load_model(current_model_path(subject, models_dir or MODELS_DIR))


@dataclass
class PreparedRun:
    """A run read from the lake and planned (:func:`prepare_run`): what its kinds share, the
    spines of this run, and each kind's work (persons, organisations, legal representatives;
    :data:`KINDS`)."""

    run: RunShared
    spines: dict[str, SpineUpdate]
    works: list[KindWork]
    registry: pl.DataFrame
    terms: pl.DataFrame


#: The kinds of record a run links, in this order: each subject type, then the legal
#: representatives (linked to the person spine).
KINDS = (*SUBJECTS, REPRESENTATIVE_KIND)


def prepare_run(
    lake: Lake,
    run_id: str,
    logical_date: datetime,
    models_dir: Path | None = None,
    thresholds: Thresholds | None = None,
    full: bool = False,
) -> PreparedRun:
    """Read what a linkage run needs from the lake (decisions, the previous run's tables, the
    spines updated with the registries' new rows, the staged records) and plan each kind
    (:func:`plan_kind`); writes nothing."""
    th = thresholds or Thresholds()
    decisions = read_decisions(lake)
    previous = _Previous.read(lake)
    spines = {subject: update_spine(lake, subject, rebuild=full) for subject in SUBJECTS}
    staged = read_subject_tables(lake)  # every agency table, read once for both subject types
    common = RunShared(run_id, logical_date, th, decisions, previous, full, load_policy(),
                  policy_digest(), case_references(staged))  # fmt: skip
    works = []
    for subject, subject_records in SUBJECTS.items():
        prev = previous.links.filter(pl.col("subject_type") == subject)
        works.append(plan_kind(subject, subject_records(staged), spines[subject], prev,
                               subject=subject, model=_current_model(subject, models_dir),
                               run=common))  # fmt: skip
    registry = lake.read("staging", ORGANISATION_DATASET)
    terms = lake.read("staging", TERMS_DATASET)
    works.append(
        plan_kind(
            REPRESENTATIVE_KIND,
            representative_records(registry, terms),
            spines["person"],
            previous.representatives.select(
                [*RECORD_LINK_COLUMNS, "record_fingerprint", "linked_run_id"]
            ),
            subject="person",
            model=_current_model("person", models_dir),
            run=common,
        )
    )
    return PreparedRun(common, spines, works, registry, terms)


def _run_linkage(
    lake: Lake,
    run_id: str,
    logical_date: datetime,
    models_dir: Path | None,
    thresholds: Thresholds | None,
    full: bool,
    resolver: Resolver = resolve_here,
) -> dict[str, int]:
    prep = prepare_run(lake, run_id, logical_date, models_dir, thresholds, full)
    common, spines, registry, terms = prep.run, prep.spines, prep.registry, prep.terms
    previous, decisions = common.previous, common.decisions
    linked = []
    while prep.works:  # each kind's records let go once it is linked, as before the split
        linked.append(_resolved(prep.works.pop(0), common, resolver))
    *results, reps = linked
    run = {"run_id": pl.lit(run_id), "logical_date": pl.lit(logical_date)}
    record_links = conform(
        pl.concat([r.links for r in results], how="vertical_relaxed").with_columns(**run),
        RECORD_LINKS_COLUMNS,
    ).sort("subject_type", "unique_id")
    representatives = conform(
        with_organisations(reps.links, registry, terms).with_columns(**run),
        LEGAL_REPRESENTATIVES_COLUMNS,
    ).sort("organisation_code", "unique_id")  # a term's id ends with its start: in term order
    queue = conform(
        pl.concat([r.queue for r in [*results, reps]], how="vertical_relaxed").with_columns(
            run_id=pl.lit(run_id)
        ),
        REVIEW_QUEUE_COLUMNS,
    ).sort("unique_id")
    runs = pl.concat(
        [
            # a retry of the same run (Airflow's) replaces that run's rows
            read_runs(lake).filter(pl.col("run_id") != run_id),
            runs_frame([r.run for r in [*results, reps]]),
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
    commit(lake.location, LAYER, run_id, ops)
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
