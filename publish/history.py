"""Restriction history: every change, with the run that made it, and as-of queries.

Each publish run compares the restrictions in force on its day with the latest recorded state
of each restriction (before this run) and appends one row per change (:data:`HISTORY_COLUMNS`):

``pending``    published, in its objection window (not in force yet)
``imposed``    in force (new, or its objection window closed)
``extended``   still in force, later end (or no end any more)
``shortened``  still in force, earlier end
``amended``    still in force, same dates, other listing records behind it
``lifted``     ended early by a removal (performed, paid, creditor's request, link withdrawn ...)
``expired``    ended at the end of its term
``withdrawn``  ended before it took effect (an objection upheld)
``repaired``   ended by credit repair (``case_id`` the application)
``objected``   suspended by an open objection (status ``under_objection``; ``case_id`` it)
``restored``   in force again after the objection was rejected (``case_id`` the objection)

An upheld objection ends it as ``withdrawn`` and a former legal representative's accepted
application as ``lifted`` (reason ``representative_changed``), each with its ``case_id``.

Each row carries the state after the change (``status`` active / pending / ended, valid from /
to) and the run (``run_id``, ``as_of`` its day, ``seq`` its order). A re-run of the same run id
replaces that run's rows. :func:`in_force_on` answers "what was in force on day D, as the
warehouse said on D": the latest row of each restriction recorded on or before D, in force on D.

Example:
    >>> rows = changes(previous, current, bound, run_id="r2", as_of=date(2025, 1, 1), seq=2)
    ...                                                                   # doctest: +SKIP
    >>> in_force_on(history, date(2024, 6, 1))                            # doctest: +SKIP
"""

from __future__ import annotations

from datetime import date

import polars as pl

from credlink.etl.catalog import columns, conform

__all__ = [
    "CHANGES",
    "HISTORY_COLUMNS",
    "IN_FORCE_ON_SQL",
    "changes",
    "in_force_on",
    "latest_state",
]

CHANGES = (
    "pending",
    "imposed",
    "extended",
    "shortened",
    "amended",
    "lifted",
    "expired",
    "withdrawn",
    "repaired",
    "objected",
    "restored",
)

#: ``publish.restriction_history``: one row per change of a restriction.
HISTORY_COLUMNS = columns("publish.restriction_history")

_STATE = ["status", "valid_from", "valid_to", "listing_records"]


def latest_state(history: pl.DataFrame) -> pl.DataFrame:
    """The latest row of each restriction in `history` (by run order ``seq``)."""
    if history.is_empty():
        return pl.DataFrame(schema=HISTORY_COLUMNS)
    return history.sort("seq", maintain_order=True).unique(
        "restriction_id", keep="last", maintain_order=True
    )


def _end_change(reason: pl.Expr) -> pl.Expr:
    return (
        pl.when(reason == "withdrawn")
        .then(pl.lit("withdrawn"))
        .when(reason == "repaired")
        .then(pl.lit("repaired"))
        .when(reason.is_in(["expired", "term_expired"]))
        .then(pl.lit("expired"))
        .otherwise(pl.lit("lifted"))
    )


def changes(
    previous: pl.DataFrame,
    current: pl.DataFrame,
    bound: pl.DataFrame,
    *,
    run_id: str,
    as_of: date,
    seq: int,
) -> pl.DataFrame:
    """The history rows of one run (:data:`HISTORY_COLUMNS`).

    `previous` is :func:`latest_state` of the history before this run; `current` the
    restrictions in force now (:data:`publish.rules.RESTRICTION_COLUMNS`); `bound` the
    :func:`publish.rules.targeted` rows (ended ones too), which say how a restriction that is
    no longer in force ended. A restriction no listing binds any more (link withdrawn by a
    reviewer, listing gone) is ``lifted`` with reason ``unlinked`` on `as_of`.
    """
    previous = conform(previous, HISTORY_COLUMNS)  # an older history has no case_id
    live = pl.col("status").is_in(["active", "pending", "under_objection"])
    prev = previous.filter(live).select(
        "restriction_id",
        *[pl.col(c).alias(f"prev_{c}") for c in _STATE],
        pl.col("case_id").alias("prev_case_id"),
    )
    cur = current.select(
        "restriction_id",
        "credit_code",
        "subject_type",
        "memorandum_id",
        "measure_id",
        "enforcing_agency",
        *_STATE,
        pl.col("objection_ids").list.first().alias("_objection")
        if "objection_ids" in current.columns
        else pl.lit(None, pl.String).alias("_objection"),
    )
    both = cur.join(prev, on="restriction_id", how="left")
    later = pl.col("valid_to").is_null() & pl.col("prev_valid_to").is_not_null()
    later = later | (pl.col("valid_to") > pl.col("prev_valid_to")).fill_null(False)
    earlier = pl.col("valid_to").is_not_null() & (
        pl.col("prev_valid_to").is_null() | (pl.col("valid_to") < pl.col("prev_valid_to"))
    )
    change = (
        pl.when(pl.col("prev_status").is_null())
        .then(
            pl.when(pl.col("status") == "pending")
            .then(pl.lit("pending"))
            .otherwise(pl.lit("imposed"))
        )
        .when(pl.col("prev_status") != pl.col("status"))
        .then(
            pl.when(pl.col("status") == "under_objection")
            .then(pl.lit("objected"))
            .when(pl.col("prev_status") == "under_objection")
            .then(pl.lit("restored"))
            .when(pl.col("status") == "active")
            .then(pl.lit("imposed"))
            .otherwise(pl.lit("pending"))
        )
        .when(later)
        .then(pl.lit("extended"))
        .when(earlier)
        .then(pl.lit("shortened"))
        .when(
            (pl.col("valid_from") != pl.col("prev_valid_from"))
            | (pl.col("listing_records") != pl.col("prev_listing_records"))
        )
        .then(pl.lit("amended"))
    )
    moved = both.with_columns(change.alias("change"), pl.lit(None, pl.String).alias("reason"))
    moved = moved.filter(pl.col("change").is_not_null()).with_columns(
        pl.when(pl.col("change") == "objected")
        .then(pl.col("_objection"))
        .when(pl.col("change") == "restored")
        .then(pl.col("prev_case_id"))
        .otherwise(pl.lit(None, pl.String))
        .alias("case_id"),
        pl.when(pl.col("change") == "restored")
        .then(pl.lit("objection_rejected"))
        .otherwise(pl.col("reason"))
        .alias("reason"),
    )

    gone = previous.filter(live).join(cur.select("restriction_id"), on="restriction_id", how="anti")
    key = pl.concat_str(["memorandum_id", "measure_id", "target_code"], separator=":")
    how_ended = (
        bound.with_columns(key.alias("restriction_id"))
        .filter(pl.col("trigger_status").is_in(["ended", "withdrawn"]))
        .sort("end", nulls_last=False)
        .group_by("restriction_id")
        .agg(
            pl.col("end").last().alias("_end"),
            pl.col("end_reason").last().alias("_reason"),
            pl.col("case_id").last().alias("case_id"),
        )
    )
    ended = (
        gone.drop("change", "reason", "run_id", "as_of", "seq", "status", "case_id")
        .join(how_ended, on="restriction_id", how="left")
        .with_columns(
            pl.col("_reason").fill_null("unlinked").alias("reason"),
            pl.coalesce(pl.col("_end"), pl.lit(as_of)).alias("valid_to"),
            pl.lit("ended").alias("status"),
        )
        .with_columns(_end_change(pl.col("reason")).alias("change"))
    )
    run = [pl.lit(run_id).alias("run_id"), pl.lit(as_of).alias("as_of"), pl.lit(seq).alias("seq")]
    cols = [c for c in HISTORY_COLUMNS if c not in ("run_id", "as_of", "seq")]
    out = pl.concat([moved.select(cols).with_columns(run), ended.select(cols).with_columns(run)])
    return out.select([pl.col(c).cast(t) for c, t in HISTORY_COLUMNS.items()]).sort(
        "restriction_id"
    )


def in_force_on(history: pl.DataFrame, day: date) -> pl.DataFrame:
    """The restrictions in force on `day` as recorded on it: of each restriction the latest
    row recorded on or before `day`, if that row is active or pending and its validity covers
    `day` (a pending row whose objection window closed by `day` counts). It runs the
    warehouse's own table macro ``publish.in_force_on(day)`` (:data:`IN_FORCE_ON_SQL`, the one
    definition) over `history`.

    Example: ``in_force_on(history, date(2024, 6, 1))['credit_code']``.
    """
    import duckdb

    con = duckdb.connect()
    try:
        arrow = conform(history, HISTORY_COLUMNS).to_arrow()  # noqa: F841 - read by DuckDB
        con.execute("CREATE SCHEMA publish")
        con.execute("CREATE TABLE publish.restriction_history AS SELECT * FROM arrow")
        con.execute(IN_FORCE_ON_SQL)
        found = con.execute("SELECT * FROM publish.in_force_on(?::DATE)", [day]).pl()
    finally:
        con.close()
    return conform(found, HISTORY_COLUMNS)


#: The warehouse's table macro: ``SELECT * FROM publish.in_force_on(DATE '2024-06-01')``.
IN_FORCE_ON_SQL = """
CREATE OR REPLACE MACRO publish.in_force_on(day) AS TABLE
SELECT * EXCLUDE (_latest) FROM (
    SELECT *, row_number() OVER (PARTITION BY restriction_id ORDER BY seq DESC) AS _latest
    FROM publish.restriction_history
    WHERE as_of <= day
) WHERE _latest = 1
  AND status IN ('active', 'pending')
  AND valid_from <= day
  AND (valid_to IS NULL OR day < valid_to)
ORDER BY restriction_id
"""
