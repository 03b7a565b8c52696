"""Memoranda applied to linked listings: triggers, then restrictions in force on a day.

Three named steps, each a function from frames to a frame (pure, no I/O):

1. :func:`triggers`: one row per listing record per memorandum target it satisfies
   (:data:`TRIGGER_COLUMNS`), with the link of the record (``linkage.record_links``), the start
   and end of its effect by the memorandum's duration rule, why it ends, and its status on the
   run's day: ``pending`` (before its start: the objection window), ``active``, ``ended``, or
   ``withdrawn`` (ended before it started); ``under_objection`` while an objection filed by
   the subject (to the listing, or to its link) is open: suspended, it binds no one in the
   enforcement lists until decided. Cases end an effect early (:mod:`publish.cases`): a credit
   repair lifts it in every memorandum at once, an upheld objection withdraws it for good;
   the removal reasons ``repaired`` and ``withdrawn`` lift it whatever the memorandum's
   ``lifted_by`` (:data:`UNIVERSAL_LIFTS`).
2. :func:`targeted`: the subjects the accepted triggers bind: the listed subject (``role =
   listed``) and, where the memorandum extends to them, the legal representative of a listed
   organisation in office on the listing day (``role = legal_representative``, ``via_code``
   the organisation; a former representative's accepted application ends it), crossed with
   the memorandum's measures that apply to each subject type. Only a link in the ``accept``
   band (deterministic, probabilistic above the threshold, or a reviewer's accept: ``clerical``)
   binds anyone; a record in review or rejected binds no one (it shows in
   ``publish.listings`` with its link band instead). A memorandum may demand more identity
   evidence for some measures (``schemas/linkage/identity_evidence.yaml``: exit control on a
   full citizen ID or a reviewer's decision): a row whose link falls short is kept with
   ``evidence_held`` saying why, binds no one and shows in ``publish.pending_links``.
3. :func:`restrictions`: one row per subject per memorandum per measure in force (active,
   pending in an objection window, or under objection) on the day
   (:data:`RESTRICTION_COLUMNS`), with provenance: the listing records, the roles, the link
   methods and the weakest link probability.

Days are ``pl.Date``; ``valid_to`` is the first day no longer in force (null: open-ended).

Example:
    >>> trig = triggers(listings, links, memoranda, as_of=date(2025, 6, 30))   # doctest: +SKIP
    >>> rows = restrictions(targeted(trig, memoranda, legal_reps))             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import polars as pl

from credlink.linkage.evidence import EvidencePolicy, MemorandumRule, Rule, load_policy, meets
from credlink.publish.memoranda import Duration, FieldTest, Memorandum, MemorandumError, Target

__all__ = [
    "RESTRICTION_COLUMNS",
    "TARGETED_COLUMNS",
    "TRIGGER_COLUMNS",
    "check_policy",
    "condition",
    "restriction_id",
    "restrictions",
    "targeted",
    "triggers",
]

#: Link columns carried from ``linkage.record_links``.
LINK_COLUMNS: dict[str, pl.DataType] = {
    "credit_code": pl.String(),
    "candidate_code": pl.String(),
    "link_band": pl.String(),
    "link_method": pl.String(),
    "link_probability": pl.Float64(),
    "match_probability": pl.Float64(),
    "matched_on": pl.String(),
    "model_version": pl.String(),
    "name_agreement": pl.String(),  # identity evidence of the link (linkage.evidence)
    "evidence": pl.List(pl.String()),
}

#: One row per listing record per memorandum target it satisfies.
TRIGGER_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "list_id": pl.String(),
    "memorandum_id": pl.String(),
    "target": pl.Int32(),  # index of the target in the memorandum file
    "subject_type": pl.String(),
    "start": pl.Date(),
    "end": pl.Date(),
    "end_reason": pl.String(),  # removal reason, 'expired' (term), or null (open-ended)
    # pending / active / under_objection (an open objection suspends it) / ended / withdrawn
    "trigger_status": pl.String(),
    "listed_on": pl.Date(),  # the listing's day (binds the legal representative then in office)
    # the case behind the end (a credit repair, an upheld objection) or the open objection
    "case_id": pl.String(),
    **LINK_COLUMNS,
}

#: One row per bound subject per trigger per measure.
TARGETED_COLUMNS: dict[str, pl.DataType] = {
    "target_code": pl.String(),
    "target_type": pl.String(),
    "role": pl.String(),  # listed / legal_representative
    "via_code": pl.String(),  # the listed organisation, for a legal representative
    "measure_id": pl.String(),
    "clause": pl.String(),
    "enforcing_agency": pl.String(),
    **TRIGGER_COLUMNS,
    # why the measure may not bind on this link (the memorandum's identity-evidence rule is
    # not met: held for a reviewer), else null
    "evidence_held": pl.String(),
}

#: ``publish.restrictions`` (without the run columns): one row per subject, memorandum, measure.
RESTRICTION_COLUMNS: dict[str, pl.DataType] = {
    "restriction_id": pl.String(),  # '<memorandum>:<measure>:<credit code>'
    "credit_code": pl.String(),
    "subject_type": pl.String(),
    "memorandum_id": pl.String(),
    "measure_id": pl.String(),
    "clause": pl.String(),
    "enforcing_agency": pl.String(),
    "status": pl.String(),  # active / pending / under_objection
    "valid_from": pl.Date(),
    "valid_to": pl.Date(),  # first day no longer in force; null: until removed
    "roles": pl.List(pl.String()),
    "via_codes": pl.List(pl.String()),
    "listing_records": pl.List(pl.String()),
    "link_methods": pl.List(pl.String()),
    "link_probability": pl.Float64(),  # the weakest link behind the restriction
    "model_versions": pl.List(pl.String()),
    "objection_ids": pl.List(pl.String()),  # open objections suspending it (under_objection)
}

#: The effects in force, in order of precedence when several listings stand behind one
#: restriction: in force, in its objection window, suspended by an open objection.
LIVE: tuple[str, ...] = ("active", "pending", "under_objection")

#: Removal reasons that end a listing's effect in every memorandum, whatever its ``lifted_by``:
#: a completed credit repair lifts the measures everywhere at once ("one repaired, all
#: repaired"), and a listing withdrawn on an upheld objection never restricts again.
UNIVERSAL_LIFTS: tuple[str, ...] = ("repaired", "withdrawn")

#: The frame of case ends (:func:`publish.cases.case_effects`): a repair, an upheld objection
#: or a former representative's application ends the listing's effect for everyone
#: (``credit_code`` null), for one linked subject, or for one role of one subject.
CASE_END_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "credit_code": pl.String(),
    "role": pl.String(),
    "end": pl.Date(),
    "end_reason": pl.String(),
    "case_id": pl.String(),
}

#: The frame of open objections: a listing (``credit_code`` null) or one subject's link.
OPEN_OBJECTION_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "credit_code": pl.String(),
    "objection_id": pl.String(),
}


def condition(target: Target) -> pl.Expr:
    """The target's `when` as one boolean expression (any alternative; all tests of one).

    Example: ``{violation_type: {in: [arrears_evasion]}, tax_yuan: {min: 1000000}}`` ->
    ``violation_type in [...] and tax_yuan >= 1000000``.
    """
    if not target.when:
        return pl.lit(True)
    alternatives = []
    for alternative in target.when:
        tests = [_test(pl.col(name), test) for name, test in alternative.items()]
        alternatives.append(pl.all_horizontal(tests) if tests else pl.lit(True))
    return pl.any_horizontal(alternatives).fill_null(False)


def _test(col: pl.Expr, test: FieldTest) -> pl.Expr:
    parts: list[pl.Expr] = []
    if test.in_ is not None:
        parts.append(col.is_in(list(test.in_)))
    if test.min is not None:
        parts.append(col >= test.min)
    if test.max is not None:
        parts.append(col <= test.max)
    if test.is_ is not None:
        parts.append(col == test.is_)
    return pl.all_horizontal(parts).fill_null(False)


def _window(duration: Duration, lifted_by: Sequence[str], as_of: date) -> list[pl.Expr]:
    start = pl.col(duration.starts)
    if duration.ends == "term" and duration.term is not None:
        scheduled = start.dt.offset_by(duration.term.offset)
    else:
        scheduled = pl.col("ends_on")
        if duration.max_term is not None:
            cap = start.dt.offset_by(duration.max_term.offset)
            scheduled = (
                pl.when(scheduled.is_null() | (cap < scheduled)).then(cap).otherwise(scheduled)
            )
    lifting = sorted({*lifted_by, *UNIVERSAL_LIFTS})
    lifts = pl.col("removed_on").is_not_null() & pl.col("removal_reason").is_in(lifting)
    lift = pl.when(lifts).then(pl.col("removed_on"))
    early = lift.is_not_null() & (scheduled.is_null() | (lift < scheduled))
    end = pl.when(early).then(lift).otherwise(scheduled)
    reason = (
        pl.when(early)
        .then(pl.col("removal_reason"))
        .when(scheduled.is_not_null())
        .then(pl.lit("expired"))
    )
    return [
        start.alias("start"),
        end.alias("end"),
        reason.alias("end_reason"),
        pl.lit(None, pl.String).alias("case_id"),
    ]


def _status(as_of: date) -> pl.Expr:
    start, end = pl.col("start"), pl.col("end")
    return (
        pl.when(end.is_not_null() & (end <= start))
        .then(pl.lit("withdrawn"))
        .when(pl.lit(as_of) < start)
        .then(pl.lit("pending"))
        .when(end.is_null() | (pl.lit(as_of) < end))
        .then(pl.lit("active"))
        .otherwise(pl.lit("ended"))
        .alias("trigger_status")
    )


def _optional(frame: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    return (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)


def _links(links: pl.DataFrame) -> pl.DataFrame:
    rename = {"band": "link_band", "method": "link_method"}
    frame = links.rename({k: v for k, v in rename.items() if k in links.columns})
    cols = [
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
        for c, t in LINK_COLUMNS.items()
    ]
    return frame.select(pl.col("unique_id").cast(pl.String), *cols).unique("unique_id")


def _case_ends(rows: pl.DataFrame, ends: pl.DataFrame | None, as_of: date) -> pl.DataFrame:
    """`rows` (with ``start``, ``end``, ``end_reason``, ``case_id`` and the columns `ends` is
    matched on) ended by the cases in `ends` that apply: the earliest case end known on
    `as_of`, on or before the rule's own end, replaces it (its reason and case id with it)."""
    if ends is None or ends.is_empty() or rows.is_empty():
        return rows
    cases = ends.filter(pl.col("end") <= as_of) if "end" in ends.columns else ends
    keys = [k for k in ("unique_id", "credit_code", "role") if k in rows.columns]
    found = []
    for general in (["unique_id"], keys):
        scope = cases
        for k in ("credit_code", "role"):
            scope = scope.filter(pl.col(k).is_not_null() if k in general else pl.col(k).is_null())
        if scope.is_empty():
            continue
        found.append(
            rows.select("_row", *general)
            .join(scope.select(*general, "end", "end_reason", "case_id"), on=general, how="inner")
            .select("_row", "end", "end_reason", "case_id")
        )
    if not found:
        return rows
    first = (
        pl.concat(found)
        .sort("_row", "end", "case_id")
        .unique("_row", keep="first")
        .rename({"end": "_case_end", "end_reason": "_case_reason", "case_id": "_case_id"})
    )
    joined = rows.join(first, on="_row", how="left", maintain_order="left")
    # a case ending it on the rule's own end day names that end (a repair the source reports)
    sooner = pl.col("_case_end").is_not_null() & (
        pl.col("end").is_null() | (pl.col("_case_end") <= pl.col("end"))
    )
    return joined.with_columns(
        pl.when(sooner).then(pl.col("_case_end")).otherwise(pl.col("end")).alias("end"),
        pl.when(sooner)
        .then(pl.col("_case_reason"))
        .otherwise(pl.col("end_reason"))
        .alias("end_reason"),
        pl.when(sooner).then(pl.col("_case_id")).otherwise(pl.col("case_id")).alias("case_id"),
    ).drop("_case_end", "_case_reason", "_case_id")


def _objected(rows: pl.DataFrame, objections: pl.DataFrame | None, code: str) -> pl.DataFrame:
    """`rows` whose listing (or whose `code` column's link) has an open objection: an active
    or pending effect becomes ``under_objection`` (suspended until the objection is decided),
    its ``case_id`` the objection."""
    if objections is None or objections.is_empty() or rows.is_empty():
        return rows
    whole = objections.filter(pl.col("credit_code").is_null()).select("unique_id", "objection_id")
    one = objections.filter(pl.col("credit_code").is_not_null()).select(
        "unique_id", pl.col("credit_code").alias(code), "objection_id"
    )
    hits = (
        pl.concat(
            [
                rows.select("_row", "unique_id")
                .join(whole, on="unique_id")
                .select("_row", "objection_id"),
                rows.select("_row", "unique_id", code)
                .join(one, on=["unique_id", code])
                .select("_row", "objection_id"),
            ]
        )
        .sort("_row", "objection_id")
        .unique("_row", keep="first")
    )
    joined = rows.join(hits, on="_row", how="left", maintain_order="left")
    live = (
        pl.col("trigger_status").is_in(["active", "pending"]) & pl.col("objection_id").is_not_null()
    )
    return joined.with_columns(
        pl.when(live)
        .then(pl.lit("under_objection"))
        .otherwise("trigger_status")
        .alias("trigger_status"),
        pl.when(live).then(pl.col("objection_id")).otherwise("case_id").alias("case_id"),
    ).drop("objection_id")


def triggers(
    listings: Mapping[str, pl.DataFrame],
    links: pl.DataFrame,
    memoranda: Sequence[Memorandum],
    as_of: date,
    *,
    ends: pl.DataFrame | None = None,
    objections: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Step 1 (see the module doc): every (listing record, memorandum target) it satisfies,
    with its link and its effect on `as_of`; :data:`TRIGGER_COLUMNS`.

    `listings` is list id -> listing frame (:func:`publish.listings.build_listings`); `links`
    is ``linkage.record_links``. A listing record without a link row gets link band ``none``.
    `ends` (:data:`CASE_END_COLUMNS`) are the cases that end a listing's effect early (a
    credit repair, an upheld objection: for every subject, or for one linked code); those for
    one role (a former legal representative) apply in :func:`targeted`. `objections`
    (:data:`OPEN_OBJECTION_COLUMNS`) are the open ones: their effects are ``under_objection``.
    """
    parts = []
    for memo in memoranda:
        for i, target in enumerate(memo.targets):
            frame = listings.get(target.list)
            if frame is None or frame.is_empty():
                continue
            duration = target.duration or memo.duration
            rows = frame.filter(
                pl.col("subject_type").is_in(list(target.subject_types)) & condition(target)
            )
            if rows.is_empty():
                continue
            rows = rows.with_columns(_window(duration, memo.lifted_by, as_of)).with_columns(
                pl.lit(memo.id).alias("memorandum_id"),
                pl.lit(i, pl.Int32).alias("target"),
            )
            parts.append(
                rows.select(
                    "unique_id",
                    "list_id",
                    "memorandum_id",
                    "target",
                    "subject_type",
                    "start",
                    "end",
                    "end_reason",
                    "listed_on",
                    "case_id",
                )
            )
    if not parts:
        return pl.DataFrame(schema=TRIGGER_COLUMNS)
    out = pl.concat(parts).join(_links(links), on="unique_id", how="left", maintain_order="left")
    out = out.with_columns(pl.col("link_band").fill_null("none")).with_row_index("_row")
    whole_or_linked = None
    if ends is not None and not ends.is_empty():
        whole_or_linked = ends.filter(pl.col("role").is_null())
    out = _case_ends(out, whole_or_linked, as_of).with_columns(_status(as_of))
    out = _objected(out, objections, "credit_code")
    return out.select([pl.col(c).cast(t) for c, t in TRIGGER_COLUMNS.items()])


def check_policy(policy: EvidencePolicy, memoranda: Sequence[Memorandum]) -> None:
    """Raise :class:`MemorandumError` if the identity-evidence policy names a memorandum or a
    measure that the memorandum files lack, or a rule for a subject type a measure never binds."""
    by_id = {m.id: m for m in memoranda}
    for i, rule in enumerate(policy.memoranda):
        memo = by_id.get(rule.memorandum)
        where = f"identity-evidence policy memoranda.{i}"
        if memo is None:
            raise MemorandumError(
                f"{where}: unknown memorandum {rule.memorandum!r} (known: {sorted(by_id)})"
            )
        known = {x.id: x for x in memo.measures}
        unknown = sorted(set(rule.measures) - set(known))
        if unknown:
            raise MemorandumError(
                f"{where}: memorandum {memo.id} has no measure(s) {unknown} "
                f"(known: {sorted(known)})"
            )


def _held(rule: Rule | None, band: str, evidence: str, method: str, what: str) -> pl.Expr:
    """Null when `rule` (if any) is met by the link in the given columns, else the reason."""
    if rule is None:
        return pl.lit(None, pl.String)
    ok = meets(
        rule,
        pl.col(band),
        pl.col(evidence).fill_null(pl.lit([], pl.List(pl.String))),
        pl.col(method),
    )
    facts = " or ".join(rule.any_of)
    return (
        pl.when(ok)
        .then(pl.lit(None, pl.String))
        .otherwise(pl.lit(f"{what} link lacks the evidence this measure demands ({facts})"))
    )


def _evidence_held(rules: Sequence[MemorandumRule]) -> pl.Expr:
    """Per targeted row, why the first memorandum rule that applies is not met (else null):
    a listed subject's link is held to the rule of its type; a legal representative is held to
    the person rule (their own link) and the organisation rule (the listing's link)."""
    out: pl.Expr = pl.lit(None, pl.String)
    for rule in reversed(rules):
        applies = pl.col("memorandum_id") == rule.memorandum
        if rule.measures:
            applies = applies & pl.col("measure_id").is_in(list(rule.measures))
        listed = (
            pl.when(pl.col("target_type") == "person")
            .then(_held(rule.person, "name_agreement", "evidence", "link_method", "the"))
            .otherwise(_held(rule.organisation, "name_agreement", "evidence", "link_method", "the"))
        )
        representative = pl.coalesce(
            _held(rule.organisation, "name_agreement", "evidence", "link_method", "the listing's"),
            _held(rule.person, "rep_name_agreement", "rep_evidence", "rep_link_method",
                  "the legal representative's"),
        )  # fmt: skip
        held = pl.when(pl.col("role") == "listed").then(listed).otherwise(representative)
        out = pl.when(applies).then(held).otherwise(out)
    return out


def targeted(
    trig: pl.DataFrame,
    memoranda: Sequence[Memorandum],
    legal_reps: pl.DataFrame,
    policy: EvidencePolicy | None = None,
    *,
    as_of: date | None = None,
    ends: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Step 2 (see the module doc): the subjects and measures each accepted trigger binds;
    :data:`TARGETED_COLUMNS`.

    `legal_reps` maps an organisation's code to its legal representative's citizen ID
    (columns ``credit_code``, ``legal_rep_code``, optional ``rep_link_probability``,
    ``rep_link_method``, ``rep_name_agreement``, ``rep_evidence``: accepted links of
    ``linkage.legal_representatives``). A representative's restriction carries the weaker of
    the two link probabilities.

    A measure whose memorandum rule in the identity-evidence `policy` (default: the reviewed
    file) the link does not meet is kept with ``evidence_held`` saying why: it binds no one
    (:func:`restrictions` leaves it out) until a reviewer confirms the link.
    """
    policy = policy or load_policy()
    accepted = trig.filter((pl.col("link_band") == "accept") & pl.col("credit_code").is_not_null())
    extend = [
        (m.id, i)
        for m in memoranda
        for i, t in enumerate(m.targets)
        if "legal_representative" in t.extend_to
    ]
    listed = accepted.with_columns(
        pl.col("credit_code").alias("target_code"),
        pl.col("subject_type").alias("target_type"),
        pl.lit("listed").alias("role"),
        pl.lit(None, pl.String).alias("via_code"),
    )
    parts = [listed]
    if extend:
        keys = pl.DataFrame(
            {"memorandum_id": [e[0] for e in extend], "target": [e[1] for e in extend]},
            schema={"memorandum_id": pl.String, "target": pl.Int32},
        )
        orgs = accepted.filter(pl.col("subject_type") == "organisation").join(
            keys, on=["memorandum_id", "target"], how="semi"
        )
        reps = legal_reps.select(
            "credit_code",
            "legal_rep_code",
            _optional(legal_reps, "rep_link_probability", pl.Float64()),
            _optional(legal_reps, "rep_link_method", pl.String()),
            _optional(legal_reps, "rep_name_agreement", pl.String()),
            _optional(legal_reps, "rep_evidence", pl.List(pl.String())),
            _optional(legal_reps, "in_office_from", pl.Date()),
            _optional(legal_reps, "in_office_to", pl.Date()),
        )
        reps = reps.drop_nulls(["credit_code", "legal_rep_code"])
        # the representative in office on the listing day binds (from inclusive, to exclusive;
        # an unknown start counts as in office since registration)
        on = pl.col("listed_on")
        in_office = (pl.col("in_office_from").is_null() | (pl.col("in_office_from") <= on)) & (
            pl.col("in_office_to").is_null() | (on < pl.col("in_office_to"))
        )
        parts.append(
            orgs.join(reps, on="credit_code", how="inner")
            .filter(in_office)
            .sort("in_office_from", nulls_last=False)
            .unique(
                ["unique_id", "memorandum_id", "target", "credit_code"],
                keep="last",
                maintain_order=True,
            )
            .with_columns(
                pl.col("legal_rep_code").alias("target_code"),
                pl.lit("person").alias("target_type"),
                pl.lit("legal_representative").alias("role"),
                pl.col("credit_code").alias("via_code"),
                # the weaker of the listing's link and the representative's own link
                pl.min_horizontal("link_probability", "rep_link_probability").alias(
                    "link_probability"
                ),
            )
        )
    rep_cols = {"rep_link_method": pl.String(), "rep_name_agreement": pl.String(),
                "rep_evidence": pl.List(pl.String())}  # fmt: skip
    bound = pl.concat(
        [
            p.select(
                *TRIGGER_COLUMNS,
                "target_code",
                "target_type",
                "role",
                "via_code",
                *[_optional(p, c, t) for c, t in rep_cols.items()],
            )
            for p in parts
        ]
    )
    measures = pl.DataFrame(
        [
            (m.id, x.id, x.clause, x.enforcing_agency, t)
            for m in memoranda
            for x in m.measures
            for t in x.applies_to
        ],
        schema={
            "memorandum_id": pl.String,
            "measure_id": pl.String,
            "clause": pl.String,
            "enforcing_agency": pl.String,
            "target_type": pl.String,
        },
        orient="row",
    )
    bound = _role_ends(bound, ends, as_of)
    out = bound.join(measures, on=["memorandum_id", "target_type"], how="inner").with_columns(
        _evidence_held(policy.memoranda).alias("evidence_held")
    )
    return out.select([pl.col(c).cast(t) for c, t in TARGETED_COLUMNS.items()])


def _role_ends(bound: pl.DataFrame, ends: pl.DataFrame | None, as_of: date | None) -> pl.DataFrame:
    """`bound` with the cases that end one role of one subject (a former legal
    representative's application: ``role`` set in `ends`) applied, and the status of the rows
    they end recomputed on `as_of`."""
    if ends is None or as_of is None or bound.is_empty():
        return bound
    mine = ends.filter(pl.col("role").is_not_null() & pl.col("credit_code").is_not_null())
    if mine.is_empty():
        return bound
    rows = bound.with_row_index("_row").with_columns(pl.col("end").alias("_before"))
    keyed = rows.select(
        "_row", "unique_id", pl.col("target_code").alias("credit_code"), "role",
        "start", "end", "end_reason", "case_id",
    )  # fmt: skip
    ended = _case_ends(keyed, mine, as_of).select(
        "_row", pl.col("end").alias("_end"), pl.col("end_reason").alias("_reason"),
        pl.col("case_id").alias("_case"),
    )  # fmt: skip
    changed = pl.col("_end").is_not_null() & (
        pl.col("_before").is_null() | (pl.col("_end") < pl.col("_before"))
    )
    out = rows.join(ended, on="_row", how="left", maintain_order="left").with_columns(
        pl.when(changed).then(pl.col("_end")).otherwise(pl.col("end")).alias("end"),
        pl.when(changed)
        .then(pl.col("_reason"))
        .otherwise(pl.col("end_reason"))
        .alias("end_reason"),
        pl.when(changed).then(pl.col("_case")).otherwise(pl.col("case_id")).alias("case_id"),
        pl.col("trigger_status").alias("_status_before"),
    )
    return out.with_columns(
        pl.when(pl.col("_end").is_not_null() & (pl.col("_end") == pl.col("end")))
        .then(_status(as_of))
        .otherwise(pl.col("_status_before"))
        .alias("trigger_status")
    ).drop("_row", "_before", "_end", "_reason", "_case", "_status_before")


def restriction_id(memorandum_id: pl.Expr, measure_id: pl.Expr, code: pl.Expr) -> pl.Expr:
    """``'<memorandum>:<measure>:<credit code>'``, the key of a restriction across runs."""
    return pl.concat_str([memorandum_id, measure_id, code], separator=":")


def _sorted_unique(name: str) -> pl.Expr:
    return pl.col(name).drop_nulls().unique().sort()


def restrictions(bound: pl.DataFrame) -> pl.DataFrame:
    """Step 3 (see the module doc): restrictions in force (active, else pending) from
    :func:`targeted` rows; :data:`RESTRICTION_COLUMNS`, sorted by id.

    Several listings behind one restriction: the active ones count if any (else the pending
    ones); it runs from the earliest start to the latest end (open-ended if any is). Rows held
    for their identity evidence (``evidence_held``) bind no one.
    """
    live = bound.filter(
        pl.col("trigger_status").is_in(LIVE) & pl.col("evidence_held").is_null()
    ).with_columns(
        pl.col("trigger_status").replace_strict({s: i for i, s in enumerate(LIVE)}).alias("_rank")
    )
    if live.is_empty():
        return pl.DataFrame(schema=RESTRICTION_COLUMNS)
    key = ["target_code", "memorandum_id", "measure_id"]
    live = live.filter(pl.col("_rank") == pl.col("_rank").min().over(key))
    out = live.group_by(key).agg(
        pl.col("target_type").first().alias("subject_type"),
        pl.col("clause").first(),
        pl.col("enforcing_agency").first(),
        pl.col("trigger_status").first().alias("status"),
        pl.col("start").min().alias("valid_from"),
        pl.when(pl.col("end").is_null().any())
        .then(pl.lit(None, pl.Date))
        .otherwise(pl.col("end").max())
        .alias("valid_to"),
        _sorted_unique("role").alias("roles"),
        _sorted_unique("via_code").alias("via_codes"),
        _sorted_unique("unique_id").alias("listing_records"),
        _sorted_unique("link_method").alias("link_methods"),
        pl.col("link_probability").min().alias("link_probability"),
        _sorted_unique("model_version").alias("model_versions"),
        pl.when(pl.col("trigger_status") == "under_objection")
        .then(pl.col("case_id"))
        .drop_nulls()
        .unique()
        .sort()
        .alias("objection_ids"),
    )
    out = out.rename({"target_code": "credit_code"}).with_columns(
        restriction_id(pl.col("memorandum_id"), pl.col("measure_id"), pl.col("credit_code")).alias(
            "restriction_id"
        )
    )
    return out.select([pl.col(c).cast(t) for c, t in RESTRICTION_COLUMNS.items()]).sort(
        "restriction_id"
    )


def agency_rows(current: pl.DataFrame, agency: str) -> pl.DataFrame:
    """What one agency enforces (or grants) from `current` (restriction-shaped rows): one row
    per subject and measure in force (active), from the earliest start to the latest end
    (open-ended if any is): ``credit_code``, ``measure_id``, ``subject_type``, ``valid_from``,
    ``valid_to``."""
    rows = current.filter((pl.col("enforcing_agency") == agency) & (pl.col("status") == "active"))
    return rows.group_by("credit_code", "measure_id").agg(
        pl.col("subject_type").first(),
        pl.col("valid_from").min(),
        pl.when(pl.col("valid_to").is_null().any())
        .then(pl.lit(None, pl.Date))
        .otherwise(pl.col("valid_to").max())
        .alias("valid_to"),
    )
