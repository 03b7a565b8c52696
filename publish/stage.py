"""The publishing stage: linked listings x memoranda -> restrictions, history, enforcement lists.

One run (:func:`run_publish`) on the run's day `as_of`:

1. reads the listings of every source list known on that day (:mod:`publish.listings`) and,
   by their catalog names, only the tables the last linkage run published: its links
   (``linkage.record_links``), the legal representatives (``linkage.legal_representatives``)
   and the names of the registries' subjects (``linkage.person_spine``,
   ``linkage.organisation_spine``); then every memorandum file (:mod:`publish.memoranda`);
2. applies the memoranda (:mod:`publish.rules`): triggers, bound subjects, restrictions in force
   (recomputed for the subjects whose rows changed since the warehouse in place, the rest
   carried over from it: :mod:`publish.carry`);
3. compares them with the recorded history (kept in the lake, ``publish/restriction_history``)
   and appends this run's changes (:mod:`publish.history`);
4. holds a run that would lift too many restrictions at once (:mod:`publish.guard`);
5. writes the warehouse (:mod:`publish.warehouse`), a new sealed DuckDB file renamed over the
   old one after holding every table to its contract in ``schemas/publish/tables/``, the
   per-agency extracts ``enforce/<agency>.parquet`` and the checksums ``<warehouse>.sha256``,
   with the history and runs of the lake, as one unit under the lake's publishing lock
   (:mod:`publish.commit`: a kill at any point is completed or undone by the next run):

``publish.subjects``             one row per credit code seen (linked or bound): type, name, region
``publish.memoranda``            one row per memorandum file
``publish.measures``             one row per memorandum measure, with its enforcing agency
``publish.listings``             one row per listing record that meets a memorandum's target
                                 list conditions: its link and its ``outcome`` (restricting /
                                 awaiting_review / unlinked / ended)
``publish.pending_links``        the listings that would restrict someone but wait for a reviewer:
                                 their link is in the review band, or it lacks the identity
                                 evidence some measure demands (``evidence_held``); the
                                 measures they would impose; nobody is restricted by them
                                 until a reviewer decides
``publish.restrictions``         one row per subject per memorandum per measure in force
``publish.restriction_history``  every change, with the run that made it
``publish.runs``                 one row per publish run
``enforce.<agency>``             per enforcing agency: who is restricted from what, from when
                                 to when; nothing of the basis (data minimisation)

Example:
    >>> counts = run_publish(Lake(Path("data/lake")), Path("data/warehouse/credlink.duckdb"),
    ...                      run_id="manual__2025-07-01", as_of=date(2025, 7, 1))
    ...                                                                   # doctest: +SKIP
    >>> counts["active"], counts["pending"]                               # doctest: +SKIP
    (1529, 12)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from credlink.etl.catalog import columns, conform, read_table
from credlink.etl.lake import WHOLE, Lake, write_staged
from credlink.linkage.evidence import EvidencePolicy, load_policy
from credlink.publish.carry import (
    Carry,
    basis_metadata,
    basis_path,
    carried_restrictions,
    read_carry,
)
from credlink.publish.cases import CaseEffects, Cases, case_effects, read_cases
from credlink.publish.commit import (
    PublishLockedError,
    Remove,
    Replace,
    commit,
    fsync_file,
    new_token,
    publish_lock,
    recover,
    temporary,
    write_point,
)
from credlink.publish.guard import (
    LiftLimits,
    MassLiftHeld,
    approved_lifts,
    check_lifts,
    record_hold,
)
from credlink.publish.history import changes, latest_state
from credlink.publish.incentives import blacklisted_subjects, incentive_tables, load_incentives
from credlink.publish.listings import LISTING_COLUMNS, TIMEZONE, read_listings
from credlink.publish.measures_list import measure_basis, measures_list_table
from credlink.publish.memoranda import MEMORANDA_DIR, Memorandum, enforcing_agencies, load_memoranda
from credlink.publish.publication import (
    PUBLICATION_COLUMNS,
    Publication,
    listing_identifiers,
    public_disclosure,
    with_publication,
)
from credlink.publish.rules import (
    UNIVERSAL_LIFTS,
    agency_rows,
    check_policy,
    targeted,
    triggers,
)
from credlink.publish.warehouse import (
    EXTRACTS,
    build_warehouse,
    read_only,
    remove_unused_extract_versions,
    seal_ops,
    sha256_file,
    stage_extracts,
)

if TYPE_CHECKING:
    from credlink.etl.storage import Location

__all__ = [
    "HISTORY_DATASET",
    "LAYER",
    "LiftLimits",
    "MassLiftHeld",
    "PublishLockedError",
    "Published",
    "as_of_day",
    "legal_representatives",
    "publish_tables",
    "read_history",
    "registry_subjects",
    "run_publish",
]

log = logging.getLogger(__name__)

#: The lake keeps the restriction history (the state the next run compares with).
LAYER = "publish"
HISTORY_DATASET = "restriction_history"
INCENTIVE_HISTORY_DATASET = "incentive_history"

RUNS_DATASET = "runs"

#: ``publish.runs``: one row per publish run.
RUNS_COLUMNS = columns("publish.runs")

#: Registry subjects: ``credit_code``, ``subject_type``, ``name``, ``region``.
SUBJECT_COLUMNS: dict[str, pl.DataType] = {
    "credit_code": pl.String(),
    "subject_type": pl.String(),
    "name": pl.String(),
    "region": pl.String(),
}


@dataclass(frozen=True)
class Published:
    """The tables of one run ('schema.table' -> frame) and the whole history after it."""

    tables: dict[str, pl.DataFrame]
    history: pl.DataFrame
    runs: pl.DataFrame
    #: per subject, the digest of its rows behind the restrictions (publish.carry)
    basis: pl.DataFrame | None = None
    #: subjects whose restrictions were recomputed (the rest carried over)
    recomputed: int = 0
    #: the whole incentive history after it (publish.incentives)
    incentive_history: pl.DataFrame | None = None

    def counts(self) -> dict[str, int]:
        """Small counts for logs and XCom."""
        r = self.tables["publish.restrictions"]
        h = self.runs.sort("seq")[-1]
        return {
            "restrictions": r.height,
            "active": r.filter(pl.col("status") == "active").height,
            "pending": r.filter(pl.col("status") == "pending").height,
            "subjects_restricted": r["credit_code"].n_unique(),
            "pending_links": self.tables["publish.pending_links"].height,
            "changes": int(h["changes"][0]),
        }


def _spine(lake: Lake, subject: str, columns: list[str]) -> pl.DataFrame:
    """`columns` of the spine the last linkage run published (``linkage.<subject>_spine``;
    empty before the first run, when nobody is linked either)."""
    return read_table(lake, f"linkage.{subject}_spine", columns=columns)


def read_record_links(lake: Lake) -> pl.DataFrame:
    """The links the last linkage run published (``linkage.record_links``; empty before it)."""
    return read_table(lake, "linkage.record_links")


def registry_subjects(lake: Lake) -> pl.DataFrame:
    """Names and regions of every code holder of the two registries (:data:`SUBJECT_COLUMNS`)."""
    persons = _spine(lake, "person", ["unique_id", "name", "household_region", "id_region"]).select(
        pl.col("unique_id").alias("credit_code"),
        pl.lit("person").alias("subject_type"),
        "name",
        pl.coalesce("household_region", "id_region").alias("region"),
    )
    orgs = _spine(lake, "organisation", ["unique_id", "name", "region"]).select(
        pl.col("unique_id").alias("credit_code"),
        pl.lit("organisation").alias("subject_type"),
        "name",
        "region",
    )
    return pl.concat([persons, orgs]).unique("credit_code", keep="first")


def legal_representatives(lake: Lake) -> pl.DataFrame:
    """Organisation code -> its legal representatives' citizen IDs, one row per term of office
    (``credit_code``, ``legal_rep_code``, ``in_office_from``, ``in_office_to``: exclusive, null
    while in office; and the representative's link: ``rep_link_method``,
    ``rep_link_probability``).

    From ``linkage.legal_representatives``: the registry's representatives linked to the
    population registry like any record; only accept-band links bind a representative (a
    reviewer's accept included). Before the first linkage run nobody is bound.
    """
    linked = read_table(lake, "linkage.legal_representatives")
    columns = {"credit_code": pl.String(), "legal_rep_code": pl.String(),
               "rep_link_method": pl.String(), "rep_link_probability": pl.Float64(),
               "rep_name_agreement": pl.String(), "rep_evidence": pl.List(pl.String()),
               "in_office_from": pl.Date(), "in_office_to": pl.Date()}  # fmt: skip
    if linked.is_empty():
        return pl.DataFrame(schema=columns)
    terms = [
        (pl.col(c) if c in linked.columns else pl.lit(None)).cast(pl.Date).alias(c)
        for c in ("in_office_from", "in_office_to")
    ]
    return linked.filter((pl.col("band") == "accept") & pl.col("credit_code").is_not_null()).select(
        pl.col("organisation_code").alias("credit_code"),
        pl.col("credit_code").alias("legal_rep_code"),
        pl.col("method").alias("rep_link_method"),
        pl.col("link_probability").cast(pl.Float64).alias("rep_link_probability"),
        pl.col("name_agreement").alias("rep_name_agreement"),
        pl.col("evidence").cast(pl.List(pl.String())).alias("rep_evidence"),
        *terms,
    )


def read_history(lake: Lake) -> pl.DataFrame:
    """The restriction history recorded so far (:data:`HISTORY_COLUMNS`; empty at first)."""
    return read_table(lake, "publish.restriction_history")


def _read_runs(lake: Lake) -> pl.DataFrame | None:
    frame = lake.read(LAYER, RUNS_DATASET)
    return None if frame.is_empty() else frame


def _previous_runs(history: pl.DataFrame, runs: pl.DataFrame | None) -> pl.DataFrame:
    if runs is not None:
        return conform(runs, RUNS_COLUMNS)
    return conform(
        history.group_by("run_id", "as_of", "seq").agg(pl.len().cast(pl.Int64).alias("changes")),
        RUNS_COLUMNS,
    )


def _seq(runs: pl.DataFrame, run_id: str) -> int:
    """The order number of `run_id`: its old one on a re-run, else one more than the last."""
    mine = runs.filter(pl.col("run_id") == run_id)
    if not mine.is_empty():
        return int(mine["seq"][0])
    return 1 if runs.is_empty() else int(runs["seq"].max()) + 1  # type: ignore[arg-type]


def _memoranda_table(memoranda: Sequence[Memorandum]) -> pl.DataFrame:
    rows = [
        {
            "memorandum_id": m.id,
            "title": m.title,
            "document_number": m.document_number,
            "issued_on": m.issued_on,
            "in_force_from": m.in_force_from,
            "signatory_count": m.signatory_count or len(m.signatories),
            "signatories": list(m.signatories),
            "basis": m.basis.strip(),
            "target_lists": sorted({t.list for t in m.targets}),
            "extends_to": sorted({e for t in m.targets for e in t.extend_to}),
            "duration": m.duration.describe(),
            "lifted_by": list(m.lifted_by),
        }
        for m in memoranda
    ]
    schema: dict[str, pl.DataType] = {
        "memorandum_id": pl.String(),
        "title": pl.String(),
        "document_number": pl.String(),
        "issued_on": pl.Date(),
        "in_force_from": pl.Date(),
        "signatory_count": pl.Int32(),
        "signatories": pl.List(pl.String()),
        "basis": pl.String(),
        "target_lists": pl.List(pl.String()),
        "extends_to": pl.List(pl.String()),
        "duration": pl.String(),
        "lifted_by": pl.List(pl.String()),
    }
    return pl.DataFrame(rows, schema=schema)


def _measures_table(memoranda: Sequence[Memorandum]) -> pl.DataFrame:
    agencies = enforcing_agencies()
    rows = [
        {
            "memorandum_id": m.id,
            "measure_id": x.id,
            "clause": x.clause,
            "text": x.text,
            "category": x.category,
            "enforcing_agency": x.enforcing_agency,
            "agency_name": agencies[x.enforcing_agency].name,
            "scope": x.scope,
            "applies_to": list(x.applies_to),
        }
        for m in memoranda
        for x in m.measures
    ]
    schema: dict[str, pl.DataType] = {
        "memorandum_id": pl.String(),
        "measure_id": pl.String(),
        "clause": pl.String(),
        "text": pl.String(),
        "category": pl.String(),
        "enforcing_agency": pl.String(),
        "agency_name": pl.String(),
        "scope": pl.String(),
        "applies_to": pl.List(pl.String()),
    }
    table = pl.DataFrame(rows, schema=schema)
    basis = measure_basis(memoranda).select(
        "memorandum_id",
        "measure_id",
        "list_entry",
        "legal_basis_kind",
        "legal_basis",
        "list_edition",
    )
    return table.join(basis, on=["memorandum_id", "measure_id"], how="left", maintain_order="left")


def _listings_table(listings: Mapping[str, pl.DataFrame], trig: pl.DataFrame) -> pl.DataFrame:
    base = [c for c in LISTING_COLUMNS if c != "subject_name"] + list(PUBLICATION_COLUMNS)
    schema = {**LISTING_COLUMNS, **PUBLICATION_COLUMNS}
    frames = [f.select(base) for f in listings.values() if not f.is_empty()]
    every = pl.concat(frames) if frames else pl.DataFrame(schema=schema).select(base)
    ended_by = pl.col("end_reason").filter(pl.col("end_reason").is_in(list(UNIVERSAL_LIFTS)))
    per = trig.group_by("unique_id").agg(
        pl.col("memorandum_id").unique().sort().alias("memoranda"),
        pl.col("trigger_status").is_in(["active", "pending"]).any().alias("_live"),
        (pl.col("trigger_status") == "under_objection").any().alias("_objected"),
        ended_by.first().alias("_ended_by"),
        *[
            pl.col(c).first()
            for c in (
                "credit_code",
                "candidate_code",
                "link_band",
                "link_method",
                "link_probability",
                "match_probability",
                "matched_on",
                "model_version",
                "name_agreement",
                "evidence",
            )
        ],
    )
    out = every.join(per, on="unique_id", how="inner").with_columns(
        pl.when(pl.col("_live") & (pl.col("link_band") == "accept"))
        .then(pl.lit("restricting"))
        .when(pl.col("_objected"))
        .then(pl.lit("under_objection"))
        .when(~pl.col("_live") & pl.col("_ended_by").is_not_null())
        .then(pl.col("_ended_by"))
        .when(~pl.col("_live"))
        .then(pl.lit("ended"))
        .when(pl.col("link_band") == "accept")
        .then(pl.lit("restricting"))
        .when(pl.col("link_band") == "review")
        .then(pl.lit("awaiting_review"))
        .otherwise(pl.lit("unlinked"))
        .alias("outcome")
    )
    return out.drop("_live", "_objected", "_ended_by").sort("unique_id")


def _pending_links(
    listing_rows: pl.DataFrame, trig: pl.DataFrame, bound: pl.DataFrame, measures: pl.DataFrame
) -> pl.DataFrame:
    """Listings in force that restrict no one until a reviewer decides: their link is in the
    review band (every measure waits), or some measures demand more identity evidence than
    the link has (those measures wait); with the measures that wait."""
    live = pl.col("trigger_status").is_in(["active", "pending"])
    per_measure = measures.explode("applies_to").select(
        "memorandum_id", "measure_id", pl.col("applies_to").alias("subject_type")
    )
    held_measures = (
        pl.concat_str(["memorandum_id", "measure_id"], separator=":")
        .unique()
        .sort()
        .alias("held_measures")
    )
    in_review = (
        trig.filter(live & (pl.col("link_band") == "review"))
        .join(per_measure, on=["memorandum_id", "subject_type"], how="inner")
        .group_by("unique_id")
        .agg(held_measures, pl.lit("the link awaits a reviewer's decision").alias("reason"))
    )
    held = (
        bound.filter(live & pl.col("evidence_held").is_not_null())
        .group_by("unique_id")
        .agg(held_measures, pl.col("evidence_held").unique().sort().str.join("; ").alias("reason"))
    )
    waiting = pl.concat([in_review, held]).unique("unique_id", keep="first")
    return (
        listing_rows.join(waiting, on="unique_id", how="inner")
        .filter(pl.col("outcome") != "ended")
        .select(
            "unique_id",
            "list_id",
            "subject_type",
            "reference",
            "listed_on",
            "candidate_code",
            "link_probability",
            "memoranda",
            "reason",
            "held_measures",
        )
        .sort("unique_id")
    )


def _enforcement(
    current: pl.DataFrame, measures: pl.DataFrame, subjects: pl.DataFrame, agency: str
) -> pl.DataFrame:
    text = measures.group_by("measure_id").agg(pl.col("text").first().alias("measure"))
    merged = agency_rows(current, agency)
    return (
        merged.join(subjects.select("credit_code", "name"), on="credit_code", how="left")
        .join(text, on="measure_id", how="left")
        .select(
            "credit_code",
            "subject_type",
            "name",
            "measure_id",
            "measure",
            pl.col("valid_from").cast(pl.Date),
            pl.col("valid_to").cast(pl.Date),
        )
        .sort("credit_code", "measure_id")
    )


def publish_tables(
    listings: Mapping[str, pl.DataFrame],
    links: pl.DataFrame,
    memoranda: Sequence[Memorandum],
    *,
    legal_reps: pl.DataFrame,
    registry: pl.DataFrame,
    history: pl.DataFrame,
    run_id: str,
    as_of: date,
    runs: pl.DataFrame | None = None,
    policy: EvidencePolicy | None = None,
    carry: Carry | None = None,
    cases: Cases | None = None,
    identifiers: pl.DataFrame | None = None,
    publication: Publication | None = None,
    incentives: Sequence[Memorandum] = (),
    incentive_history: pl.DataFrame | None = None,
    effects: CaseEffects | None = None,
) -> Published:
    """Every warehouse table of one run, from plain frames (no I/O): the pure core of
    :func:`run_publish`, what the tests drive with hand-made listings.

    `history` is the history recorded before (rows of `run_id` are replaced: a re-run) and
    `runs` the runs recorded before (:data:`RUNS_COLUMNS`; default: those of `history`);
    `registry` gives names and regions (:func:`registry_subjects`); `legal_reps` the legal
    representatives (:func:`legal_representatives`); `policy` the identity-evidence policy
    (default: the reviewed file); `carry` the previous warehouse's restrictions and their
    basis: only the subjects whose rows changed are recomputed (:mod:`publish.carry`; the
    result is the same); `cases` the credit-repair applications and objections filed
    (:mod:`publish.cases`; default none); `identifiers` the listed identifiers the public
    disclosure masks (:func:`publish.publication.listing_identifiers`); `publication` the
    severity and publication rules (default: the reviewed file); `incentives` the joint
    incentive memoranda (:mod:`publish.incentives`) and `incentive_history` their history
    recorded before; `effects` what the cases do on `as_of` when computed before (a sharded
    run computes them once for every shard: :mod:`publish.shards`), else from `cases`.
    """
    listings = with_publication(listings, as_of, publication)
    if effects is None:
        effects = case_effects(listings, links, legal_reps, cases or Cases(), as_of)
    trig = triggers(
        listings, links, memoranda, as_of, ends=effects.ends, objections=effects.open_objections
    )
    bound = targeted(trig, memoranda, legal_reps, policy, as_of=as_of, ends=effects.ends)
    in_force, basis, recomputed = carried_restrictions(bound, carry)
    legal = measure_basis(memoranda).select(
        "memorandum_id", "measure_id", "list_entry", "legal_basis_kind", "legal_basis"
    )
    current = in_force.join(
        legal, on=["memorandum_id", "measure_id"], how="left", maintain_order="left"
    ).with_columns(pl.lit(run_id).alias("run_id"), pl.lit(as_of).alias("as_of"))
    previous_runs = _previous_runs(history, runs)
    seq = _seq(previous_runs, run_id)
    before = history.filter((pl.col("run_id") != run_id) & (pl.col("seq") < seq))
    made = changes(latest_state(before), current, bound, run_id=run_id, as_of=as_of, seq=seq)
    new_history = pl.concat(
        [history.filter(pl.col("run_id") != run_id), made], how="vertical_relaxed"
    ).sort("seq", "restriction_id")

    measures = _measures_table([*memoranda, *incentives])
    accepted = links.filter(
        (pl.col("band") == "accept") & pl.col("credit_code").is_not_null()
    ).select("credit_code", "subject_type")
    seen = pl.concat(
        [accepted, current.select("credit_code", "subject_type")], how="vertical_relaxed"
    ).unique("credit_code", keep="first")
    counts = current.group_by("credit_code").agg(
        (pl.col("status") == "active").sum().cast(pl.Int64).alias("active_restrictions"),
        (pl.col("status") == "pending").sum().cast(pl.Int64).alias("pending_restrictions"),
    )
    subjects = (
        seen.join(registry.select("credit_code", "name", "region"), on="credit_code", how="left")
        .join(counts, on="credit_code", how="left")
        .with_columns(pl.col("active_restrictions", "pending_restrictions").fill_null(0))
        .sort("credit_code")
    )
    listing_rows = _listings_table(listings, trig)
    pending_links = _pending_links(listing_rows, trig, bound, measures)
    this_run = pl.DataFrame(
        {"run_id": [run_id], "as_of": [as_of], "seq": [seq], "changes": [made.height],
         "warehouse_sha256": [None]},
        schema=RUNS_COLUMNS,
    )  # fmt: skip
    runs = pl.concat([previous_runs.filter(pl.col("run_id") != run_id), this_run]).sort("seq")
    tables: dict[str, pl.DataFrame] = {
        "publish.subjects": subjects,
        "publish.memoranda": _memoranda_table(memoranda),
        "publish.measures": measures,
        "publish.listings": listing_rows,
        "publish.pending_links": pending_links,
        "publish.restrictions": current,
        "publish.restriction_history": new_history,
        "publish.runs": runs,
        "publish.measures_list": measures_list_table(),
        "publish.repairs": effects.repairs,
        "publish.objections": effects.objections,
        "publish.public_disclosure": public_disclosure(
            listings,
            identifiers
            if identifiers is not None
            else pl.DataFrame(schema={"unique_id": pl.String(), "identifier": pl.String()}),
            effects.ends,
            as_of,
            publication,
        ),
    }
    agencies = sorted({x.enforcing_agency for m in memoranda for x in m.measures})
    for agency in agencies:
        tables[f"enforce.{agency}"] = _enforcement(current, measures, subjects, agency)
    rewards = incentive_tables(
        listings,
        links,
        incentives,
        legal_reps=legal_reps,
        blacklisted=_blacklisted(listings, links, trig, current, as_of),
        history=incentive_history if incentive_history is not None else pl.DataFrame(),
        run_id=run_id,
        as_of=as_of,
        seq=seq,
        registry=registry,
        policy=policy,
    )
    tables.update(rewards.tables())
    return Published(tables=tables, history=new_history, runs=runs, basis=basis,
                     recomputed=recomputed, incentive_history=rewards.history)  # fmt: skip


def _blacklisted(
    listings: Mapping[str, pl.DataFrame],
    links: pl.DataFrame,
    trig: pl.DataFrame,
    current: pl.DataFrame,
    as_of: date,
) -> pl.DataFrame:
    """Who receives no incentive on `as_of`: every subject linked to a live blacklist listing,
    every subject a restriction binds (a legal representative too), and, while a reviewer has
    not decided, the candidate of a live listing whose link is in review (an incentive waits
    rather than go to someone who may be on a blacklist)."""
    in_review = trig.filter(
        pl.col("trigger_status").is_in(["active", "pending", "under_objection"])
        & (pl.col("link_band") == "review")
    ).select(pl.col("candidate_code").alias("credit_code"))
    return (
        pl.concat(
            [
                blacklisted_subjects(listings, links, as_of),
                current.select("credit_code"),
                in_review,
            ],
            how="vertical_relaxed",
        )
        .drop_nulls()
        .unique()
    )


@dataclass(frozen=True)
class Inputs:
    """What a publishing run reads from the lake (:func:`read_inputs`): the keyword arguments
    of :func:`publish_tables` but the memoranda, the run and its day."""

    listings: Mapping[str, pl.DataFrame]
    links: pl.DataFrame
    legal_reps: pl.DataFrame
    registry: pl.DataFrame
    history: pl.DataFrame
    runs: pl.DataFrame | None
    carry: Carry | None
    cases: Cases
    identifiers: pl.DataFrame
    incentive_history: pl.DataFrame

    def tables(
        self,
        memoranda: Sequence[Memorandum],
        *,
        run_id: str,
        as_of: date,
        policy: EvidencePolicy,
        effects: CaseEffects | None = None,
    ) -> Published:
        """Every warehouse table of run `run_id` from these inputs (:func:`publish_tables`)."""
        return publish_tables(
            self.listings,
            self.links,
            memoranda,
            legal_reps=self.legal_reps,
            registry=self.registry,
            history=self.history,
            run_id=run_id,
            as_of=as_of,
            runs=self.runs,
            policy=policy,
            carry=self.carry,
            cases=self.cases,
            identifiers=self.identifiers,
            incentives=load_incentives(),
            incentive_history=self.incentive_history,
            effects=effects,
        )


def read_inputs(lake: Lake, as_of: date) -> Inputs:
    """Everything a run on `as_of` reads from the lake (module doc, step 1)."""
    return Inputs(
        listings=read_listings(lake, as_of),
        links=read_record_links(lake),
        legal_reps=legal_representatives(lake),
        registry=registry_subjects(lake),
        history=read_history(lake),
        runs=_read_runs(lake),
        carry=read_carry(lake),
        cases=read_cases(lake),
        identifiers=listing_identifiers(lake, as_of),
        incentive_history=read_table(lake, "publish.incentive_history"),
    )


def load_rules(memoranda_dir: Path = MEMORANDA_DIR) -> tuple[list[Memorandum], EvidencePolicy]:
    """The memoranda of `memoranda_dir` and the identity-evidence policy, checked together."""
    memoranda = load_memoranda(memoranda_dir)
    policy = load_policy()
    check_policy(policy, memoranda)
    return list(memoranda), policy


def run_publish(
    lake: Lake,
    warehouse_path: Path,
    run_id: str,
    as_of: date,
    *,
    memoranda_dir: Path = MEMORANDA_DIR,
    approve_mass_lift: bool = False,
    lift_limits: LiftLimits | None = None,
    lock_timeout: float | None = 3600.0,
) -> dict[str, int]:
    """Run the publishing stage on the lake for the day `as_of` and replace the warehouse at
    `warehouse_path` atomically (see the module doc); returns counts (small, for XCom).

    Re-running the same `run_id` replaces that run's history rows (idempotent). Example result:
    ``{'restrictions': 1541, 'active': 1529, 'pending': 12, 'subjects_restricted': 97,
    'pending_links': 0, 'changes': 1541}``.

    Crash- and lock-safe (:mod:`publish.commit`): the run holds the lake's publishing lock
    (another run waits up to `lock_timeout` seconds, then :class:`PublishLockedError`),
    completes or discards what a killed run left, stages every file and commits them as one
    unit: the warehouse (sealed, any stale WAL removed), the per-agency extracts
    ``enforce/<agency>.duckdb``, the checksums ``<warehouse>.sha256``, the history and runs.
    A run that would lift too many restrictions at once is held (:mod:`publish.guard`:
    :class:`MassLiftHeld`; `lift_limits`, default from the environment) unless
    `approve_mass_lift` or an approval recorded for `run_id` covers it.
    """
    memoranda, policy = load_rules(memoranda_dir)
    with locked_run(lake, warehouse_path, run_id, lock_timeout):
        inputs = read_inputs(lake, as_of)
        published = inputs.tables(memoranda, run_id=run_id, as_of=as_of, policy=policy)
        commit_published(lake, warehouse_path, published, inputs.history, run_id=run_id,
                         as_of=as_of, approve_mass_lift=approve_mass_lift,
                         lift_limits=lift_limits)  # fmt: skip
    counts = published.counts()
    log.info("publish run %s as of %s: %s (restrictions of %d subjects recomputed, %s)", run_id,
             as_of, counts, published.recomputed,
             "the rest carried over" if inputs.carry else "no basis to carry")  # fmt: skip
    return counts


@contextmanager
def locked_run(
    lake: Lake, warehouse_path: Path, run_id: str, lock_timeout: float | None
) -> Iterator[None]:
    """Hold the lake's publishing lock for run `run_id`, after completing or discarding what a
    killed run left (:mod:`publish.commit`)."""
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with publish_lock(lake.location, run_id, lock_timeout):
        recover(lake.location, _strays(warehouse_path))
        remove_unused_extract_versions(warehouse_path)
        yield


def commit_published(
    lake: Lake,
    warehouse_path: Path,
    published: Published,
    history: pl.DataFrame,
    *,
    run_id: str,
    as_of: date,
    approve_mass_lift: bool = False,
    lift_limits: LiftLimits | None = None,
) -> None:
    """Under the publishing lock (:func:`locked_run`): hold the run to the mass-lift guard
    against `history` (the history recorded before it), then stage and commit every file of
    `published` as one unit (module doc, steps 4 and 5)."""
    seq = int(published.runs.filter(pl.col("run_id") == run_id)["seq"][0])
    before = history.filter((pl.col("run_id") != run_id) & (pl.col("seq") < seq))
    made = published.history.filter(pl.col("run_id") == run_id)
    approved = 1 << 62 if approve_mass_lift else approved_lifts(lake, run_id)
    try:
        check_lifts(
            latest_state(before),
            made,
            run_id=run_id,
            as_of=as_of,
            limits=lift_limits or LiftLimits.from_env(),
            approved=approved,
        )
    except MassLiftHeld as held:
        record_hold(lake, run_id, held)
        raise
    token = new_token()
    try:
        ops = _stage(lake, warehouse_path, published, run_id, seq, token)
    except BaseException:
        # a contract breach: nothing of this run is recorded, the old warehouse stays
        recover(lake.location, _strays(warehouse_path))
        remove_unused_extract_versions(warehouse_path)
        raise
    commit(lake.location, run_id, ops)
    remove_unused_extract_versions(warehouse_path)


def _strays(warehouse_path: Path) -> list[tuple[Path, str]]:
    """Where a killed publishing run may have left temporaries beside the warehouse."""
    folder = warehouse_path.parent
    return [(folder, f".{warehouse_path.name}.*.tmp*"), (folder, f".{EXTRACTS}.*.tmp*")]


def _stage_parquet(
    final: Location, frame: pl.DataFrame, token: str, metadata: dict[str, str] | None = None
) -> Location:
    tmp = temporary(final, token)
    write_staged(tmp, frame, metadata)
    fsync_file(tmp)
    return tmp


def _stage(
    lake: Lake, warehouse_path: Path, published: Published, run_id: str, seq: int, token: str
) -> list[Remove | Replace]:
    """Write every file of the run under a temporary name; the operations that commit them.

    Write points (:func:`publish.commit.write_point`): the warehouse, the extracts, the
    checksums, the history, the runs, the restriction basis (:mod:`publish.carry`); then the
    commit record and each operation."""
    tmp = temporary(warehouse_path, token)
    build_warehouse(tmp, published.tables)
    read_only(tmp)
    write_point("staged warehouse")
    sums = {warehouse_path.name: sha256_file(tmp)}
    extracts = stage_extracts(warehouse_path, published.tables, seq, token)
    sums.update(extracts.sha256)
    sums_final = Path(f"{warehouse_path}.sha256")
    sums_tmp = temporary(sums_final, token)
    sums_tmp.write_text("".join(f"{h}  {n}\n" for n, h in sums.items()), encoding="utf-8")
    read_only(sums_tmp)
    fsync_file(sums_tmp)
    write_point("staged checksums")
    history_final = lake.partition_location(LAYER, HISTORY_DATASET, WHOLE)
    history_tmp = _stage_parquet(history_final, published.history, token)
    write_point("staged history")
    runs = published.runs.with_columns(
        pl.when(pl.col("run_id") == run_id)
        .then(pl.lit(sums[warehouse_path.name]))
        .otherwise(pl.col("warehouse_sha256"))
        .alias("warehouse_sha256")
    )
    runs_final = lake.partition_location(LAYER, RUNS_DATASET, WHOLE)
    runs_tmp = _stage_parquet(runs_final, runs, token)
    write_point("staged runs")
    ops: list[Remove | Replace] = [
        *seal_ops(tmp, warehouse_path),
        *extracts.ops,
        Replace(sums_tmp, sums_final),
        Replace(history_tmp, history_final),
        Replace(runs_tmp, runs_final),
    ]
    if published.incentive_history is not None:
        rewards_final = lake.partition_location(LAYER, INCENTIVE_HISTORY_DATASET, WHOLE)
        rewards_tmp = _stage_parquet(rewards_final, published.incentive_history, token)
        write_point("staged incentive history")
        ops.append(Replace(rewards_tmp, rewards_final))
    if published.basis is not None:
        # the basis of the next run's carry-over, for the warehouse of this run
        basis_final = basis_path(lake)
        basis_tmp = _stage_parquet(basis_final, published.basis, token,
                                   basis_metadata(run_id, seq))  # fmt: skip
        write_point("staged restriction basis")
        ops.append(Replace(basis_tmp, basis_final))
    return ops


def as_of_day(moment: datetime) -> date:
    """The agencies' day (China time) of a timezone-aware datetime: a run's `as_of`.

    Example: ``as_of_day(datetime(2025, 6, 30, 16, tzinfo=UTC))`` -> ``date(2025, 7, 1)``.
    """
    if moment.tzinfo is None:
        raise ValueError(f"need a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(TIMEZONE).date()
