"""Source lists: the staged agency listings a memorandum can name as its target list.

Every list an agency keeps (the courts' defaulters, the tax bureau's major violators, the two
transport bans, the food regulator's serious violations) is read from its staged table into one
shape, :data:`LISTING_COLUMNS`: one row per listing record (``unique_id`` as in
``linkage.record_links``), when it was published and took effect, when its own term ends, when
and why it was removed, and the list's own fields (:attr:`ListSpec.fields`) that a memorandum's
conditions may test. A memorandum names a list by its id (:data:`LISTS`, e.g.
``courts.SXBZXR``); an unknown list or field is an error when the memorandum file is loaded.

Dates are days (``pl.Date``); an end day is the first day no longer in force (a 1-year flight
ban from 2024-03-14 ends on 2025-03-14). Only what was known on the run's day is used
(:func:`read_listings`): staged versions updated after it, listings published after it and
removals dated after it are left out, so a backfilled run sees the lists as they were.

What each list adds (why, where the source is not plain):

- **courts.SXBZXR**: the term is ``valid_until`` (null for "able but refuses": no fixed term);
  a removal (``removed = yes``) ends it on ``removed_on`` for ``removal_reason``.
- **tax.zdsswfaj**: no term on the record (the memorandum sets 3 years of publication); the
  withdrawal reason ``ycyy`` is coded with the ``listing_removal_reason`` vocabulary (``tax_paid``
  early, ``term_expired`` at the end).
- **transport.FlightBan / RailBan**: published monthly, in force from ``effective_from`` after
  the objection window; a ban withdrawn after an upheld objection is removed (``withdrawn``) on
  its last update; rail fare dodging has no term and ends when the fare is paid (``fare_paid``).
- **food.serious_violations**: a penalty decision; ``failed_inspection_within_year`` is true
  when the same licence had an inspection without a grade (below 60 points or two key items
  failed: must rectify) in the 365 days up to the decision (our trigger for serious
  dishonesty, see ``schemas/memoranda/food_safety_2016.yaml``).

Example:
    >>> listings = read_listings(Lake(Path("data/lake")), as_of=date(2025, 6, 30))
    ...                                                                   # doctest: +SKIP
    >>> listings.group_by("list_id").len()                               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import polars as pl

from credlink.etl.lake import Lake
from credlink.etl.standardise.vocabularies import load_vocabulary, map_values
from credlink.linkage.spine import current_rows
from credlink.settings import ZONE

__all__ = [
    "LISTING_COLUMNS",
    "LISTS",
    "REMOVAL_REASONS",
    "Field",
    "ListSpec",
    "build_listings",
    "read_listings",
    "staged_through",
]

#: The agencies' day: a run's `as_of` day ends at midnight in China.
TIMEZONE = ZONE

#: Why a listing left its list: the ``listing_removal_reason`` vocabulary and the transport ends.
REMOVAL_REASONS: tuple[str, ...] = (
    *load_vocabulary("listing_removal_reason").codes,
    "withdrawn",  # an objection was upheld in the objection window (transport)
    "fare_paid",  # the fare owed was paid (rail fare dodging)
    "repaired",  # credit repair granted (NDRC rules 2026); no simulated source writes it yet
)

#: One row per listing record, whatever the list; then the list's own fields.
LISTING_COLUMNS: dict[str, pl.DataType] = {
    "unique_id": pl.String(),  # '<source>/<table>/<record id>', as in linkage.record_links
    "list_id": pl.String(),  # 'courts.SXBZXR'
    "subject_type": pl.String(),  # person / organisation
    "subject_name": pl.String(),
    "reference": pl.String(),  # case or decision number, as the agency writes it
    "listed_on": pl.Date(),  # published
    "effective_from": pl.Date(),  # in force from (after an objection window)
    "ends_on": pl.Date(),  # the listing's own term ends (exclusive); null: no term of its own
    "removed_on": pl.Date(),  # removed from the list (null: not removed)
    "removal_reason": pl.String(),  # one of REMOVAL_REASONS
}


@dataclass(frozen=True)
class Field:
    """A field of a list that a memorandum condition may test.

    `kind` says which test applies: ``code`` (``in: [...]`` over `values`), ``number``
    (``min`` / ``max``), ``flag`` (``is: true/false``).
    """

    kind: Literal["code", "number", "flag"]
    description: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListSpec:
    """A source list: the staged datasets it is read from and how (`build`)."""

    id: str
    title: str
    datasets: tuple[str, ...]
    fields: Mapping[str, Field]
    build: Callable[[Mapping[str, pl.DataFrame]], pl.DataFrame] = field(repr=False)


def _col(frame: pl.DataFrame, name: str, dtype: pl.DataType | None = None) -> pl.Expr:
    if name in frame.columns:
        return pl.col(name) if dtype is None else pl.col(name).cast(dtype)
    return pl.lit(None, dtype=dtype or pl.String())


def _base(frame: pl.DataFrame, list_id: str, reference: str) -> list[pl.Expr]:
    return [
        pl.concat_str([pl.col("_source"), pl.col("_table"), pl.col("_record_id")], separator="/")
        .cast(pl.String)
        .alias("unique_id"),
        pl.lit(list_id).alias("list_id"),
        _col(frame, "subject_type").alias("subject_type"),
        _col(frame, "subject_name").alias("subject_name"),
        _col(frame, reference).cast(pl.String).alias("reference"),
    ]


def _courts(staged: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    f = staged["courts__SXBZXR"]
    removed = _col(f, "removed") == "yes"
    return f.select(
        *_base(f, "courts.SXBZXR", "AH"),
        _col(f, "published_on", pl.Date()).alias("listed_on"),
        _col(f, "published_on", pl.Date()).alias("effective_from"),
        _col(f, "valid_until", pl.Date()).alias("ends_on"),
        pl.when(removed).then(_col(f, "removed_on", pl.Date())).alias("removed_on"),
        pl.when(removed).then(_col(f, "removal_reason")).alias("removal_reason"),
        _col(f, "circumstance").alias("circumstance"),
        _col(f, "performance_status").alias("performance_status"),
    )


def _tax(staged: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    f = staged["tax__zdsswfaj"]
    reason = map_values(f["ycyy"], "listing_removal_reason") if "ycyy" in f.columns else None
    return f.with_columns(_reason=reason if reason is not None else pl.lit(None, pl.String)).select(
        *_base(f, "tax.zdsswfaj", "ajbh"),
        _col(f, "published_on", pl.Date()).alias("listed_on"),
        _col(f, "published_on", pl.Date()).alias("effective_from"),
        pl.lit(None, pl.Date()).alias("ends_on"),
        _col(f, "removed_on", pl.Date()).alias("removed_on"),
        pl.when(_col(f, "removed_on").is_not_null())
        .then(pl.col("_reason"))
        .alias("removal_reason"),
        _col(f, "violation_type").alias("violation_type"),
        _col(f, "sjse", pl.Float64()).alias("tax_yuan"),
        _col(f, "sjbl", pl.Float64()).alias("share_of_tax_due"),
        _col(f, "fpfs", pl.Float64()).alias("invoices"),
    )


def _withdrawn(f: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    withdrawn = _col(f, "status") == "withdrawn"
    day = pl.col("_updated_utc").dt.convert_time_zone(str(TIMEZONE)).dt.date()
    return withdrawn, day


def _flights(staged: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    f = staged["transport__FlightBan"]
    withdrawn, day = _withdrawn(f)
    return f.select(
        *_base(f, "transport.FlightBan", "FlightNumber"),
        _col(f, "published_on", pl.Date()).alias("listed_on"),
        _col(f, "effective_from", pl.Date()).alias("effective_from"),
        _col(f, "expires_on", pl.Date()).alias("ends_on"),
        pl.when(withdrawn).then(day).alias("removed_on"),
        pl.when(withdrawn).then(pl.lit("withdrawn")).alias("removal_reason"),
        _col(f, "behaviour").alias("behaviour"),
    )


def _rail(staged: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    f = staged["transport__RailBan"]
    withdrawn, day = _withdrawn(f)
    dodging = _col(f, "behaviour") == "fare_dodging"
    paid = _col(f, "fare_paid_on", pl.Date())
    return f.select(
        *_base(f, "transport.RailBan", "TrainNumber"),
        _col(f, "published_on", pl.Date()).alias("listed_on"),
        _col(f, "effective_from", pl.Date()).alias("effective_from"),
        # fare dodging: no term; the ban ends when the fare is paid (a removal)
        pl.when(dodging.fill_null(False))
        .then(pl.lit(None, pl.Date()))
        .otherwise(_col(f, "expires_on", pl.Date()))
        .alias("ends_on"),
        pl.when(withdrawn)
        .then(day)
        .when(dodging & paid.is_not_null())
        .then(paid)
        .alias("removed_on"),
        pl.when(withdrawn)
        .then(pl.lit("withdrawn"))
        .when(dodging & paid.is_not_null())
        .then(pl.lit("fare_paid"))
        .alias("removal_reason"),
        _col(f, "behaviour").alias("behaviour"),
        _col(f, "fare_owed_yuan", pl.Float64()).alias("fare_owed_yuan"),
    )


def _food(staged: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    f = staged["food__serious_violations"]
    insp = staged.get("food__inspections", pl.DataFrame())
    decided = _col(f, "decided_date", pl.Date())
    rows = f.with_columns(_decided=decided, _licence=_col(f, "licence_no"))
    if insp.is_empty() or "grade" not in insp.columns:
        failed = rows.select("_record_id").with_columns(_failed=pl.lit(False))
    else:
        ungraded = insp.filter(pl.col("grade").is_null()).select(
            pl.col("licence_no").alias("_licence"), pl.col("inspected_on").cast(pl.Date)
        )
        failed = (
            rows.select("_record_id", "_licence", "_decided")
            .join(ungraded, on="_licence", how="inner")
            .filter(
                (pl.col("inspected_on") <= pl.col("_decided"))
                & (pl.col("inspected_on") > pl.col("_decided") - pl.duration(days=365))
            )
            .select("_record_id")
            .unique()
            .with_columns(_failed=pl.lit(True))
        )
    rows = rows.join(failed, on="_record_id", how="left", maintain_order="left")
    return rows.select(
        *_base(rows, "food.serious_violations", "decision_no"),
        pl.col("_decided").alias("listed_on"),
        pl.col("_decided").alias("effective_from"),
        pl.lit(None, pl.Date()).alias("ends_on"),
        pl.lit(None, pl.Date()).alias("removed_on"),
        pl.lit(None, pl.String()).alias("removal_reason"),
        _col(rows, "violation_type").alias("violation_type"),
        (_col(rows, "revoked") == "yes").fill_null(False).alias("licence_revoked"),
        _col(rows, "fine_amount_yuan", pl.Float64()).alias("fine_yuan"),
        pl.col("_failed").fill_null(False).alias("failed_inspection_within_year"),
    )


def _codes(vocabulary: str) -> tuple[str, ...]:
    return load_vocabulary(vocabulary).codes


#: Every list a memorandum can target, by id.
LISTS: dict[str, ListSpec] = {
    spec.id: spec
    for spec in (
        ListSpec(
            "courts.SXBZXR",
            "失信被执行人名单 dishonest judgment defaulters",
            ("courts__SXBZXR",),
            {
                "circumstance": Field(
                    "code", "失信情形 circumstance of listing", _codes("defaulter_circumstance")
                ),
                "performance_status": Field(
                    "code", "履行情况 performance status", _codes("performance_status")
                ),
            },
            _courts,
        ),
        ListSpec(
            "tax.zdsswfaj",
            "重大税收违法失信主体 major tax-violation dishonest subjects",
            ("tax__zdsswfaj",),
            {
                "violation_type": Field(
                    "code", "违法性质 nature of the violation", _codes("tax_violation_type")
                ),
                "tax_yuan": Field("number", "涉及税额 tax involved, yuan"),
                "share_of_tax_due": Field("number", "share of the tax due (evasion)"),
                "invoices": Field("number", "number of false invoices"),
            },
            _tax,
        ),
        ListSpec(
            "transport.FlightBan",
            "民航严重失信旅客 civil aviation: seriously dishonest passengers",
            ("transport__FlightBan",),
            {"behaviour": Field("code", "act punished", _codes("flight_behaviour"))},
            _flights,
        ),
        ListSpec(
            "transport.RailBan",
            "铁路严重失信旅客 railway: seriously dishonest passengers",
            ("transport__RailBan",),
            {
                "behaviour": Field("code", "act punished", _codes("rail_behaviour")),
                "fare_owed_yuan": Field("number", "fare owed (fare dodging)"),
            },
            _rail,
        ),
        ListSpec(
            "food.serious_violations",
            "食品安全严重违法行为 serious food-safety violations",
            ("food__serious_violations", "food__inspections"),
            {
                "violation_type": Field("code", "violation", _codes("food_violation")),
                "licence_revoked": Field("flag", "the licence was revoked"),
                "fine_yuan": Field("number", "fine, yuan"),
                "failed_inspection_within_year": Field(
                    "flag", "an ungraded (failed) inspection of the licence in the year before"
                ),
            },
            _food,
        ),
    )
}


def _known_by(frame: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The staged versions known at the end of `as_of` (China time), latest per record."""
    if frame.is_empty():
        return frame
    cut = datetime.combine(as_of + timedelta(days=1), time(), TIMEZONE).astimezone(UTC)
    if "_updated_utc" in frame.columns:
        frame = frame.filter(pl.col("_updated_utc").is_null() | (pl.col("_updated_utc") < cut))
    return current_rows(frame)


def build_listings(
    staged: Mapping[str, pl.DataFrame], as_of: date, lists: Mapping[str, ListSpec] | None = None
) -> dict[str, pl.DataFrame]:
    """Each list's listings known on `as_of`, from staged tables by dataset name (every
    version; the latest known on `as_of` is used). Lists whose main dataset is absent are
    skipped. Returns list id -> frame (:data:`LISTING_COLUMNS` + the list's fields).

    Example: ``build_listings({"courts__SXBZXR": staged}, date(2025, 6, 30))["courts.SXBZXR"]``.
    """
    out: dict[str, pl.DataFrame] = {}
    for list_id, spec in (lists or LISTS).items():
        main = staged.get(spec.datasets[0])
        if main is None or main.is_empty():
            continue
        known = {d: _known_by(staged.get(d, pl.DataFrame()), as_of) for d in spec.datasets}
        frame = spec.build(known).with_columns(
            [pl.col(c).cast(t) for c, t in LISTING_COLUMNS.items()]
        )
        frame = frame.filter(pl.col("listed_on").is_not_null() & (pl.col("listed_on") <= as_of))
        # a removal dated after the run's day is not known yet
        later = pl.col("removed_on") > as_of
        out[list_id] = frame.with_columns(
            pl.when(later.fill_null(False)).then(None).otherwise("removed_on").alias("removed_on"),
            pl.when(later.fill_null(False))
            .then(None)
            .otherwise("removal_reason")
            .alias("removal_reason"),
        )
    return out


def read_listings(lake: Lake, as_of: date) -> dict[str, pl.DataFrame]:
    """:func:`build_listings` on the lake's staged tables."""
    datasets = {d for spec in LISTS.values() for d in spec.datasets}
    return build_listings({d: lake.read("staging", d) for d in sorted(datasets)}, as_of)


def staged_through(lake: Lake) -> date | None:
    """The last day (China time) that every staged source list has been ingested through
    without a gap, from the ingest runs' bookkeeping (``ops/ingest_runs``); None before any
    ingest.

    The day of a run triggered by data rather than by a date (an Asset event has no logical
    date): the lists as far as they are known, never the wall clock. Each list counts up to the
    end of its first unbroken stretch of intervals (an initial load, with no interval start,
    covers everything before its end): a later interval after a gap does not count, so a
    scheduled run of today, while a backfill of last month is still going, does not make
    publishing skip the days in between (it would publish restrictions as of a day whose
    listings are not all in). Example: daily intervals staged up to 2024-07-01 00:00 China time
    -> ``date(2024, 6, 30)``.
    """
    runs = lake.read_runs()
    if runs.is_empty() or "interval_end" not in runs.columns:
        return None
    datasets = {d for spec in LISTS.values() for d in spec.datasets}
    if "interval_start" not in runs.columns:
        runs = runs.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias("interval_start"))
    staged = runs.filter(
        pl.concat_str(["source", "table"], separator="__").is_in(sorted(datasets))
        & pl.col("interval_end").is_not_null()
    )
    if staged.is_empty():
        return None
    ends = [
        _unbroken_end(group.sort("interval_start", "interval_end", nulls_last=False))
        for _key, group in staged.group_by("source", "table")
    ]
    end = min(ends)
    return (end - timedelta(microseconds=1)).astimezone(TIMEZONE).date()


def _unbroken_end(intervals: pl.DataFrame) -> datetime:
    """The end of the first unbroken stretch of `intervals` (sorted by start, nulls first)."""
    rows = intervals.select("interval_start", "interval_end").iter_rows()
    _first_start, covered = next(rows)
    for start, end in rows:
        if start is not None and start > covered:
            break
        covered = max(covered, end)
    return covered
