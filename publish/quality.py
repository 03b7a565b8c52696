"""Restriction quality against a world's ground truth (evaluation only: publish never reads truth).

Linkage quality (:mod:`linkage.quality`) counts links; what a subject feels is a restriction.
:func:`restriction_quality` measures the restrictions of one publish run, per memorandum and
per enforcing agency (:data:`RESTRICTION_QUALITY_COLUMNS`, contract
``schemas/linkage/tables/linkage.restriction_quality.yaml``):

``expected``        the restrictions that should be in force: publish's own steps
                    (:func:`publish.rules.triggers` -> :func:`~publish.rules.targeted` ->
                    :func:`~publish.rules.restrictions`) run again on the same listings with
                    the **true** links (every listing record with a true code linked to it in
                    the accept band, method ``truth``, with every identity fact, so no
                    identity-evidence rule holds one back; records of no registry unlinked)
                    and the **true** legal representatives
``imposed``         rows of ``publish.restrictions``
``right``           imposed restrictions that one of their listing records truly supports: the
                    restricted code is the record's true subject, or, where the memorandum
                    extends to legal representatives, the true legal representative of the
                    organisation that truly is the record's subject
``wrongful``        imposed restrictions that none of their listing records supports, row by
                    row: someone restricted on another's record. A restriction counts as
                    wrongful even when its subject should carry the same measure through some
                    other listing (``wrongful_expected_elsewhere`` counts those): it stands on
                    the wrong record (its dates and provenance are another's)
``right_expected``  expected restrictions imposed rightly (same memorandum, measure, code)
``held_in_review``  expected restrictions not imposed rightly that wait for a reviewer: a
                    listing record behind them is in ``publish.pending_links`` (its link is in
                    the review band, or short of a measure's identity evidence), or (for a legal
                    representative) the representative's own link is in the review band
``missed``          the other expected restrictions not imposed rightly
``recall``          right_expected / expected; ``precision`` right / imposed
``listings``        listing records in force that trigger the memorandum (or the agency's
                    measures); ``listings_in_review`` those awaiting a reviewer;
                    ``review_share`` the share

So ``expected = right_expected + held_in_review + missed`` and ``imposed = right + wrongful``.

:func:`read_restriction_quality` is the thin reader (the published warehouse, the lake's
listings, the world's truth); :func:`write_restriction_quality` holds the table to its contract
and stores it as ``linkage.restriction_quality``; :func:`measure_restriction_quality` does both
for the published warehouse (what `credlink quality` and the demo call).

Example:
    >>> table = read_restriction_quality(Path("data/warehouse/credlink.duckdb"),
    ...                                  Lake(Path("data/lake")), Path("data/world"))
    ...                                                                   # doctest: +SKIP
    >>> write_restriction_quality(Lake(Path("data/lake")), table)        # doctest: +SKIP
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from credlink.etl.catalog import TableContractError, check_frame, columns, lake_contract
from credlink.etl.lake import Lake, Location
from credlink.linkage.evidence import FACTS
from credlink.publish.listings import read_listings
from credlink.publish.memoranda import MEMORANDA_DIR, Memorandum, load_memoranda
from credlink.publish.rules import restrictions as restrictions_in_force
from credlink.publish.rules import targeted, triggers

__all__ = [
    "ALL",
    "DATASET",
    "LAYER",
    "RESTRICTION_QUALITY_COLUMNS",
    "RestrictionQualityContractError",
    "check_restriction_quality",
    "key_figures",
    "measure_restriction_quality",
    "read_restriction_quality",
    "read_truth_legal_reps",
    "restriction_quality",
    "truth_links",
    "write_restriction_quality",
]

#: Stored in the lake as ``linkage.restriction_quality``, beside ``linkage.quality``.
LAYER = "linkage"
DATASET = "restriction_quality"
TABLE = f"{LAYER}.{DATASET}"
#: The memorandum_id / enforcing_agency of a row over every memorandum / agency.
ALL = "all"

#: ``linkage.restriction_quality``: one row per memorandum, per enforcing agency, and 'all'.
RESTRICTION_QUALITY_COLUMNS = columns("linkage.restriction_quality")

_KEY = ["memorandum_id", "measure_id", "credit_code"]
#: A legal representative's term of office (``linkage.legal_representatives``).
TERM_COLUMNS = ("in_office_from", "in_office_to")
_FLAGS = (
    "expected",
    "imposed",
    "right",
    "wrongful",
    "wrongful_expected_elsewhere",
    "right_expected",
    "held_in_review",
    "missed",
)


class RestrictionQualityContractError(TableContractError):
    """The restriction quality table breaks its contract; it was not stored."""


def truth_links(listings: Mapping[str, pl.DataFrame], truth: pl.DataFrame) -> pl.DataFrame:
    """A ``linkage.record_links`` stand-in from the truth: every listing record whose true
    code is known linked to it (band ``accept``, method ``truth``, probability 1); a record of
    no registry (true code null) has no row, so it binds no one.

    `truth` has ``unique_id`` and ``true_code`` (:func:`linkage.quality.read_truth`). A listing
    record without a truth row is an error (the truth of another world?).
    """
    frames = [f.select("unique_id", "subject_type") for f in listings.values() if not f.is_empty()]
    ids = (
        pl.concat(frames).unique("unique_id")
        if frames
        else pl.DataFrame(schema={"unique_id": pl.String, "subject_type": pl.String})
    )
    known = truth.select("unique_id", "true_code").unique("unique_id")
    joined = ids.join(known, on="unique_id", how="left").join(
        known.select("unique_id", pl.lit(True).alias("_known")), on="unique_id", how="left"
    )
    missing = joined.filter(pl.col("_known").is_null())
    if not missing.is_empty():
        raise ValueError(
            f"{missing.height} listing record(s) have no truth row (e.g. "
            f"{missing['unique_id'].sort()[0]}): is this the right world?"
        )
    return joined.filter(pl.col("true_code").is_not_null()).select(
        "unique_id",
        "subject_type",
        pl.col("true_code").alias("credit_code"),
        pl.col("true_code").alias("candidate_code"),
        pl.lit("accept").alias("band"),
        pl.lit("truth").alias("method"),
        pl.lit(1.0).alias("link_probability"),
        pl.lit(1.0).alias("match_probability"),
        *_full_evidence(pl.col("subject_type"), ""),
    )


def _full_evidence(subject_type: pl.Expr, prefix: str) -> list[pl.Expr]:
    """A true link shows every identity fact (:data:`linkage.evidence.FACTS`) and the exact
    name, so that no measure's identity-evidence rule holds it back: expected is what the
    memoranda impose on the true subjects."""
    lists = {t: pl.lit(sorted(f), pl.List(pl.String)) for t, f in FACTS.items()}
    return [
        pl.lit("exact").alias(f"{prefix}name_agreement"),
        pl.when(subject_type == "person")
        .then(lists["person"])
        .otherwise(lists["organisation"])
        .alias(f"{prefix}evidence"),
    ]


def _listing_agencies(trig: pl.DataFrame, memoranda: Sequence[Memorandum]) -> pl.DataFrame:
    """(unique_id, enforcing_agency) of live triggers: the agencies whose measures the listing
    record can bind (its subject's own, or its legal representative's where extended)."""
    rows: list[tuple[str, int, str, str]] = []
    for m in memoranda:
        for i, t in enumerate(m.targets):
            for x in m.measures:
                types = {s for s in t.subject_types if s in x.applies_to}
                if "legal_representative" in t.extend_to and "person" in x.applies_to:
                    types.add("organisation")
                rows.extend((m.id, i, s, x.enforcing_agency) for s in sorted(types))
    binds = pl.DataFrame(
        rows,
        schema={
            "memorandum_id": pl.String,
            "target": pl.Int32,
            "subject_type": pl.String,
            "enforcing_agency": pl.String,
        },
        orient="row",
    )
    return (
        trig.join(binds, on=["memorandum_id", "target", "subject_type"], how="inner")
        .select("unique_id", "enforcing_agency")
        .unique()
    )


def _listing_counts(
    trig: pl.DataFrame, memoranda: Sequence[Memorandum], in_review: pl.DataFrame
) -> pl.DataFrame:
    """listings / listings_in_review per memorandum, per agency and overall."""
    live = trig.filter(pl.col("trigger_status").is_in(["active", "pending"]))
    review = pl.col("unique_id").is_in(in_review["unique_id"].implode())

    def count(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
        frame = frame.select("unique_id", *by).unique()
        agg = [
            pl.len().cast(pl.Int64).alias("listings"),
            review.sum().cast(pl.Int64).alias("listings_in_review"),
        ]
        return frame.group_by(by).agg(agg) if by else frame.select(agg)

    per_memo = count(live, ["memorandum_id"]).with_columns(pl.lit(ALL).alias("enforcing_agency"))
    per_agency = count(_listing_agencies(live, memoranda), ["enforcing_agency"]).with_columns(
        pl.lit(ALL).alias("memorandum_id")
    )
    overall = count(live, []).with_columns(
        pl.lit(ALL).alias("memorandum_id"), pl.lit(ALL).alias("enforcing_agency")
    )
    cols = ["memorandum_id", "enforcing_agency", "listings", "listings_in_review"]
    return pl.concat([f.select(cols) for f in (per_memo, per_agency, overall)])


def _keys(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(_KEY).unique()


def _mark(frame: pl.DataFrame, keys: pl.DataFrame, name: str) -> pl.DataFrame:
    """`frame` with a boolean column `name`: its key is among `keys`."""
    marked = _keys(keys).with_columns(pl.lit(True).alias(name))
    return frame.join(marked, on=_KEY, how="left", maintain_order="left").with_columns(
        pl.col(name).fill_null(False)
    )


def _flagged(frame: pl.DataFrame, **flags: pl.Expr) -> pl.DataFrame:
    return frame.select(
        "memorandum_id",
        "enforcing_agency",
        *[(flags[f] if f in flags else pl.lit(False)).alias(f) for f in _FLAGS],
    )


def _ratio(num: str, den: str) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den))


def _order(group: list[str]) -> list[pl.Expr]:
    """Memorandum rows, then agency rows, then the 'all' row."""
    memo, agency = pl.col(group[0]), pl.col(group[1])
    return [
        pl.when(agency == ALL).then(pl.when(memo == ALL).then(2).otherwise(0)).otherwise(1),
        memo,
        agency,
    ]


def restriction_quality(
    restrictions: pl.DataFrame,
    listings: Mapping[str, pl.DataFrame],
    truth: pl.DataFrame,
    truth_legal_reps: pl.DataFrame,
    memoranda: Sequence[Memorandum],
    as_of: date,
    *,
    pending_links: pl.DataFrame,
    reps_in_review: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The restrictions of one publish run against the truth (see the module doc), as
    :data:`RESTRICTION_QUALITY_COLUMNS`: one row per memorandum (``enforcing_agency`` 'all'),
    per enforcing agency (``memorandum_id`` 'all'), then the 'all' / 'all' row.

    Pure (no I/O). `restrictions` is ``publish.restrictions`` of the run (as of `as_of`);
    `listings` the listings it was made from (list id -> frame, as from
    :func:`publish.listings.build_listings`); `truth` has ``unique_id`` and ``true_code``
    (:func:`linkage.quality.read_truth`); `truth_legal_reps` maps each organisation
    (``credit_code``) to its true legal representatives (``legal_rep_code``, with their terms
    ``in_office_from`` / ``in_office_to`` when known, :func:`read_truth_legal_reps`);
    `pending_links` is ``publish.pending_links`` (its ``unique_id``: listing records awaiting a
    reviewer); `reps_in_review` the organisations
    (``credit_code``) whose legal representative's own link is in the review band.
    """
    trig = triggers(listings, truth_links(listings, truth), memoranda, as_of)
    reps = truth_legal_reps.select(
        pl.col("credit_code").cast(pl.String),
        pl.col("legal_rep_code").cast(pl.String),
        # the terms, when known: the representative in office on the listing day is bound
        *[pl.col(c).cast(pl.Date) for c in TERM_COLUMNS if c in truth_legal_reps.columns],
        pl.lit(1.0).alias("rep_link_probability"),
        pl.lit("truth").alias("rep_link_method"),
        *_full_evidence(pl.lit("person"), "rep_"),
    )
    bound = targeted(trig, memoranda, reps)
    expected = restrictions_in_force(bound)
    # who each listing record truly binds, by memorandum and measure
    binds = bound.drop("credit_code").rename({"target_code": "credit_code"})

    # imposed: right when one of its listing records truly supports it, else wrongful
    imposed = restrictions.select(*_KEY, "enforcing_agency", "listing_records")
    supports = binds.select(*_KEY, pl.col("unique_id").alias("listing_records")).unique()
    right_keys = _keys(
        imposed.explode("listing_records").join(supports, on=[*_KEY, "listing_records"], how="semi")
    )
    imposed = _mark(_mark(imposed, right_keys, "_right"), expected, "_expected")
    right = pl.col("_right")
    actual = _flagged(
        imposed,
        imposed=pl.lit(True),
        right=right,
        wrongful=~right,
        wrongful_expected_elsewhere=~right & pl.col("_expected"),
    )

    # expected: imposed rightly, else held in review, else missed
    pending = pending_links.select(pl.col("unique_id").cast(pl.String)).unique()
    held_orgs = (
        reps_in_review.select(pl.col("credit_code").cast(pl.String)).drop_nulls()
        if reps_in_review is not None
        else pl.DataFrame(schema={"credit_code": pl.String})
    )
    waiting = pl.col("unique_id").is_in(pending["unique_id"].implode()) | (
        (pl.col("role") == "legal_representative")
        & pl.col("via_code").is_in(held_orgs["credit_code"].implode())
    )
    live = binds.filter(pl.col("trigger_status").is_in(["active", "pending"]))
    expected = _mark(_mark(expected, right_keys, "_right"), live.filter(waiting), "_waiting")
    rightly, held = pl.col("_right"), ~pl.col("_right") & pl.col("_waiting")
    should = _flagged(
        expected,
        expected=pl.lit(True),
        right_expected=rightly,
        held_in_review=held,
        missed=~rightly & ~held,
    )

    group = ["memorandum_id", "enforcing_agency"]
    rows = pl.concat([actual, should])
    sums = [pl.col(f).sum().cast(pl.Int64) for f in _FLAGS]
    counts = pl.concat(
        [
            rows.group_by("memorandum_id").agg(sums).with_columns(enforcing_agency=pl.lit(ALL)),
            rows.group_by("enforcing_agency").agg(sums).with_columns(memorandum_id=pl.lit(ALL)),
            rows.select(sums).with_columns(memorandum_id=pl.lit(ALL), enforcing_agency=pl.lit(ALL)),
        ],
        how="diagonal",
    )
    every = [(m.id, ALL) for m in memoranda]
    every += [(ALL, x.enforcing_agency) for m in memoranda for x in m.measures]
    every.append((ALL, ALL))
    # a memorandum or agency with restrictions but no longer among `memoranda` still shows
    skeleton = pl.concat(
        [
            pl.DataFrame(every, schema=dict.fromkeys(group, pl.String), orient="row"),
            counts.select(group),
        ]
    ).unique()
    out = (
        skeleton.join(counts, on=group, how="left")
        .join(_listing_counts(trig, memoranda, pending), on=group, how="left")
        .with_columns(pl.col(*_FLAGS, "listings", "listings_in_review").fill_null(0))
        .sort(_order(group))
        .with_columns(
            pl.lit(as_of).alias("as_of"),
            _ratio("right_expected", "expected").alias("recall"),
            _ratio("right", "imposed").alias("precision"),
            _ratio("listings_in_review", "listings").alias("review_share"),
        )
    )
    return out.select([pl.col(c).cast(t) for c, t in RESTRICTION_QUALITY_COLUMNS.items()])


def check_restriction_quality(table: pl.DataFrame) -> list[str]:
    """Breaches of the ``linkage.restriction_quality`` contract by `table` (empty: none):
    columns, DuckDB types, not-null, key uniqueness (:func:`etl.catalog.check_frame`)."""
    return check_frame(table, lake_contract(TABLE))


def write_restriction_quality(lake: Lake, table: pl.DataFrame) -> Location:
    """Hold `table` to its contract, then store it as ``linkage.restriction_quality`` (whole,
    atomically); a breach raises :class:`RestrictionQualityContractError` and stores nothing.
    Refresh the lake's catalog after (``lake.refresh_catalog()``) to see it in DuckDB."""
    problems = check_restriction_quality(table)
    if problems:
        raise RestrictionQualityContractError(
            f"{TABLE} breaks its contract:\n  " + "\n  ".join(problems)
        )
    return lake.write_whole(LAYER, DATASET, table)


def measure_restriction_quality(warehouse: Path, lake: Lake, world: Path) -> pl.DataFrame | None:
    """Measure the last publish run of `warehouse` against the truth of `world`
    (:func:`read_restriction_quality`) and store the table as ``linkage.restriction_quality``
    (:func:`write_restriction_quality`); None, storing nothing, while nothing is published (no
    warehouse file). Refresh the lake's catalog after to see it in DuckDB."""
    if not warehouse.exists():
        return None
    table = read_restriction_quality(warehouse, lake, world)
    write_restriction_quality(lake, table)
    return table


def read_truth_legal_reps(world: Path) -> pl.DataFrame:
    """Each organisation's true legal representatives, term by term: ``credit_code`` (USCC),
    ``legal_rep_code`` (citizen ID), ``in_office_from`` and ``in_office_to`` (Date, exclusive;
    null: in office), from the world's legal-entity registry (``registries/legal_entities.db``,
    table ``legal_representative``: the generator draws each representative from the
    population registry and writes the ID as is). A world from before the registry kept terms
    gives each organisation's representative of table ``legal_entity``, both bounds null."""
    path = world / "registries" / "legal_entities.db"
    if not path.is_file():
        raise FileNotFoundError(f"no legal-entity registry at {path}: is this a world folder?")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        has_terms = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'legal_representative'"
        ).fetchone()
        query = (
            "SELECT uscc, legal_rep_id, term_from, term_to FROM legal_representative"
            if has_terms
            else "SELECT uscc, legal_rep_id, NULL, NULL FROM legal_entity"
        )
        rows = con.execute(query).fetchall()
    finally:
        con.close()
    text = {c: pl.String for c in ("credit_code", "legal_rep_code", "from", "to")}
    return pl.DataFrame(rows, schema=text, orient="row").select(
        "credit_code",
        "legal_rep_code",
        pl.col("from").str.to_date("%Y-%m-%d").alias("in_office_from"),
        pl.col("to").str.to_date("%Y-%m-%d").alias("in_office_to"),
    )


def read_restriction_quality(
    warehouse: Path,
    lake: Lake,
    world: Path,
    *,
    memoranda_dir: Path = MEMORANDA_DIR,
) -> pl.DataFrame:
    """:func:`restriction_quality` of the last publish run in `warehouse`: its restrictions
    and pending links, the listings of its day from the lake (those of ``publish.listings``),
    the representatives awaiting review (``linkage.legal_representatives``), the memoranda it
    applied, and the truth of `world`."""
    from credlink.linkage.quality import read_truth

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        last = con.execute("SELECT as_of FROM publish.runs ORDER BY seq DESC LIMIT 1").fetchone()
        if last is None:
            raise ValueError(f"{warehouse}: no publish run recorded")
        as_of: date = last[0]
        restrictions = con.sql("FROM publish.restrictions").pl()
        pending = con.sql("SELECT unique_id FROM publish.pending_links").pl()
        listed = con.sql("SELECT unique_id FROM publish.listings").pl()
        applied = set(con.sql("SELECT memorandum_id FROM publish.memoranda").pl()["memorandum_id"])
    finally:
        con.close()
    ids = listed["unique_id"].implode()
    listings = {
        k: f.filter(pl.col("unique_id").is_in(ids)) for k, f in read_listings(lake, as_of).items()
    }
    memoranda = [m for m in load_memoranda(memoranda_dir) if m.id in applied]
    reps = lake.read("linkage", "legal_representatives")
    in_review = (
        reps.filter(pl.col("band") == "review").select(
            pl.col("organisation_code").alias("credit_code")
        )
        if not reps.is_empty()
        else None
    )
    return restriction_quality(
        restrictions,
        listings,
        read_truth(world),
        read_truth_legal_reps(world),
        memoranda,
        as_of,
        pending_links=pending,
        reps_in_review=in_review,
    )


def key_figures(table: pl.DataFrame) -> str:
    """The 'all' row in one line, for summaries. Example: ``'restrictions as of 2025-12-31
    against the truth: 2,799 imposed, 0 wrongful, 3 missed, 1 held in review; recall 0.9986;
    0.43% of listings held in review'``."""
    row = table.filter((pl.col("memorandum_id") == ALL) & (pl.col("enforcing_agency") == ALL))
    if row.is_empty():
        return "restrictions against the truth: nothing measured"
    r = row.row(0, named=True)

    def share(v: float | None, pct: bool = False) -> str:
        if v is None:
            return "-"
        return f"{v:.2%}" if pct else f"{v:.4f}"

    return (
        f"restrictions as of {r['as_of']} against the truth: {r['imposed']:,} imposed "
        f"({r['expected']:,} expected), {r['wrongful']:,} wrongful, {r['missed']:,} missed, "
        f"{r['held_in_review']:,} held in review; recall {share(r['recall'])}; "
        f"{share(r['review_share'], pct=True)} of listings held in review "
        f"({r['listings_in_review']:,} of {r['listings']:,})"
    )
