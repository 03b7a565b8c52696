"""Source lists: the conformed agency listings a memorandum can name as its target list.

Every list an agency keeps (the courts' defaulters, the tax bureau's major violators, the two
transport bans, the food regulator's serious violations, and any list a new agency's conform
mapping declares) is read from its conformed table (``conformed.listings__<list>``,
:mod:`etl.conform`) into one shape, :data:`LISTING_COLUMNS`: one row per listing record
(``unique_id`` as in ``linkage.record_links``), when it was published and took effect, when its
own term ends, when and why it was removed, and the list's own fields that a memorandum's
conditions may test. A memorandum names a list by its name (:data:`LISTS`, the catalog of the
conform mappings, e.g. ``court_defaulters``); an unknown list or field is an error when the
memorandum file is loaded. How each list's columns come from the agency's (and why, where the
source is not plain) is in its mapping, ``schemas/conform/<source>.yaml``.

Dates are days (``pl.Date``); an end day is the first day no longer in force (a 1-year flight
ban from 2024-03-14 ends on 2025-03-14). Only what was known on the run's day is used
(:func:`read_listings`): versions updated after it, listings published after it and removals
dated after it are left out, so a backfilled run sees the lists as they were. So are the events
a field looks back on (``recent_event``: e.g. an ungraded inspection of the same licence in the
365 days up to a food violation's decision).

Example:
    >>> listings = read_listings(Lake(Path("data/lake")), as_of=date(2025, 6, 30))
    ...                                                                   # doctest: +SKIP
    >>> listings.group_by("list_id").len()                               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta

import polars as pl

from credlink.etl.conform.apply import EVENT_KEY, FIELD_TYPES, check_conformed
from credlink.etl.conform.columns import LISTING_COLUMNS
from credlink.etl.conform.mappings import (
    LAYER,
    ListField,
    SourceList,
    events_dataset,
    list_catalog,
)
from credlink.etl.lake import Lake, current_rows
from credlink.etl.standardise.vocabularies import load_vocabulary
from credlink.settings import ZONE

__all__ = [
    "LISTING_COLUMNS",
    "LISTS",
    "REMOVAL_REASONS",
    "ListField",
    "SourceList",
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
)


class _Lists(Mapping[str, SourceList]):
    """The catalog of lists (:func:`etl.conform.mappings.list_catalog`), read when used: the
    shipped conform mappings and those of the overlay folders."""

    def __getitem__(self, key: str) -> SourceList:
        return list_catalog()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list_catalog())

    def __len__(self) -> int:
        return len(list_catalog())


#: Every list a memorandum can target, by name.
LISTS: Mapping[str, SourceList] = _Lists()


def _known_by(frame: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The versions known at the end of `as_of` (China time), latest per record."""
    if frame.is_empty():
        return frame
    cut = datetime.combine(as_of + timedelta(days=1), time(), TIMEZONE).astimezone(UTC)
    if "_updated_utc" in frame.columns:
        frame = frame.filter(pl.col("_updated_utc").is_null() | (pl.col("_updated_utc") < cut))
    return current_rows(frame)


def _recent_event(
    rows: pl.DataFrame, name: str, f: ListField, events: pl.DataFrame
) -> pl.DataFrame:
    """`rows` with the flag `name`: an event (known on the day) of the row's key dated in the
    `f.recent_event.days` days up to its ``listed_on``."""
    assert f.recent_event is not None
    key = f"{EVENT_KEY}{name}"
    happened = events.filter(pl.col("is_event")) if not events.is_empty() else events
    if happened.is_empty():
        return rows.with_columns(pl.lit(False).alias(name))
    window = pl.duration(days=f.recent_event.days)
    found = (
        rows.select("_record_id", pl.col(key).alias("_key"), pl.col("listed_on").alias("_on"))
        .join(happened.select(pl.col("key").alias("_key"), "date"), on="_key", how="inner")
        .filter((pl.col("date") <= pl.col("_on")) & (pl.col("date") > pl.col("_on") - window))
        .select("_record_id")
        .unique()
        .with_columns(pl.lit(True).alias("_found"))
    )
    return (
        rows.join(found, on="_record_id", how="left", maintain_order="left")
        .with_columns(pl.col("_found").fill_null(False).alias(name))
        .drop("_found")
    )


def build_listings(
    conformed: Mapping[str, pl.DataFrame],
    as_of: date,
    lists: Mapping[str, SourceList] | None = None,
) -> dict[str, pl.DataFrame]:
    """Each list's listings known on `as_of`, from conformed tables by dataset name
    (``listings__<list>``, ``events__<name>``; every version, the latest known on `as_of` is
    used). Lists without listings are skipped. Returns list name -> frame
    (:data:`LISTING_COLUMNS` + the list's fields).

    Example: ``build_listings(conform_frames({"courts__SXBZXR": staged}), date(2025, 6,
    30))["court_defaulters"]``.
    """
    out: dict[str, pl.DataFrame] = {}
    for list_id, spec in (LISTS if lists is None else lists).items():
        main = conformed.get(spec.conformed)
        if main is None or main.is_empty():
            continue
        rows = _known_by(main, as_of)
        for name, f in spec.fields.items():
            if f.recent_event is not None:
                events = conformed.get(events_dataset(f.recent_event.events), pl.DataFrame())
                rows = _recent_event(rows, name, f, _known_by(events, as_of))
        frame = rows.select(
            *[pl.col(c).cast(t) for c, t in LISTING_COLUMNS.items()],
            *[pl.col(n).cast(FIELD_TYPES[f.kind]) for n, f in spec.fields.items()],
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


def _datasets(lists: Mapping[str, SourceList]) -> list[str]:
    """The conformed datasets the lists are read from."""
    names = {spec.conformed for spec in lists.values()}
    names |= {
        events_dataset(f.recent_event.events)
        for spec in lists.values()
        for f in spec.fields.values()
        if f.recent_event is not None
    }
    return sorted(names)


def read_listings(lake: Lake, as_of: date) -> dict[str, pl.DataFrame]:
    """:func:`build_listings` on the lake's conformed tables
    (:class:`etl.conform.apply.NotConformedError` when a staged table has none)."""
    check_conformed(lake)
    lists = dict(LISTS)
    return build_listings({d: lake.read(LAYER, d) for d in _datasets(lists)}, as_of, lists)


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
